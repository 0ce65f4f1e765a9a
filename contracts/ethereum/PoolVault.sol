// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title PoolVault: provable deposits into an ETM pool and provable obligation payments
/// @notice A plain ether transfer leaves no log in its receipt, so ETM cannot prove it with a
///         receipt proof. Every payment through this contract emits an event that can:
///         `Deposited` (an investor's ether/tokens reached the pool operator, for an ETM owner)
///         and `Paid` (the operator, or anyone, paid an ETM withdrawal obligation to `to`).
/// @dev    The vault holds nothing: each call forwards the value in the same transaction (ether
///         with a call, tokens with transferFrom straight from the payer), so the contract has
///         no balance to steal, no withdraw function and no admin. The only configuration is the
///         write-once `operator` (the pool's key on Ethereum) that deposits are forwarded to. If
///         a forward fails the whole call reverts, so an event always means the value moved.
///         `token == address(0)` means ether. Anyone may call `pay`: whoever pays, the value
///         goes to `to`, so a payment can never be credited without `to` receiving it.
///         `pay` forces the ether onto `to` without running any code there (`EtherDrop`): a
///         payee whose address refuses ether (a contract, or an EOA delegated by EIP-7702 to
///         code that reverts) could otherwise make its obligation unpayable and, by its
///         default, halt the pool (review a11a; version 2).
contract PoolVault {
    /// @notice Version of the contract's rules; bumped on any change to events or semantics.
    uint8 public constant version = 2;

    /// @notice Where every deposit goes: the pool operator's address (the pool's claim key).
    ///         Set once by the constructor; no function writes it. Deliberately a storage slot,
    ///         not a Solidity `immutable`: immutables are patched into the runtime code, and
    ///         deployers check the deployed code byte for byte against the artifact.
    address payable public operator;

    event Deposited(bytes20 indexed etmOwner, address indexed from, address token, uint256 amount);
    event Paid(bytes32 indexed obligationId, address indexed to, address token, uint256 amount);

    error ZeroAmount();
    error InvalidAddress();
    error InvalidEtmOwner();
    error TokenAmountMismatch(uint256 expected, uint256 received);
    error EtherTransferFailed();
    error TokenTransferFailed();

    constructor(address payable operator_) {
        if (operator_ == address(0)) revert InvalidAddress();
        operator = operator_;
    }

    /// @notice Deposit msg.value wei into the pool for the ETM address whose 20-byte hash is
    ///         `etmOwner`; the ether is forwarded to the operator at once.
    function deposit(bytes20 etmOwner) external payable {
        if (etmOwner == bytes20(0)) revert InvalidEtmOwner();
        if (msg.value == 0) revert ZeroAmount();
        emit Deposited(etmOwner, msg.sender, address(0), msg.value);
        _sendEther(operator, msg.value);
    }

    /// @notice Deposit `amount` of `token` (pulled from msg.sender straight to the operator;
    ///         approve this vault first).
    function depositToken(address token, uint256 amount, bytes20 etmOwner) external {
        if (etmOwner == bytes20(0)) revert InvalidEtmOwner();
        if (token == address(0)) revert InvalidAddress();
        if (amount == 0) revert ZeroAmount();
        _pullToken(token, msg.sender, operator, amount);
        emit Deposited(etmOwner, msg.sender, token, amount);
    }

    /// @notice Pay msg.value wei to `to` against the ETM obligation `obligationId`. The ether
    ///         is forced onto `to` (no code of `to` runs), so `to` cannot refuse it.
    function pay(bytes32 obligationId, address payable to) external payable {
        if (to == address(0)) revert InvalidAddress();
        if (msg.value == 0) revert ZeroAmount();
        emit Paid(obligationId, to, address(0), msg.value);
        new EtherDrop{value: msg.value}(to);
    }

    /// @notice Pay `amount` of `token` (pulled from msg.sender straight to `to`).
    function payToken(bytes32 obligationId, address token, uint256 amount, address to) external {
        if (to == address(0) || token == address(0)) revert InvalidAddress();
        if (amount == 0) revert ZeroAmount();
        _pullToken(token, msg.sender, to, amount);
        emit Paid(obligationId, to, token, amount);
    }

    /// @dev The vault keeps no state, so a reentrant call can only start another, fully paid,
    ///      deposit or payment; it cannot redirect or reuse this one's value.
    function _sendEther(address payable to, uint256 amount) private {
        // Reentrancy-sensitive: hands control to `to`; the vault has no state to corrupt.
        (bool ok, ) = to.call{value: amount}("");
        if (!ok) revert EtherTransferFailed();
    }

    /// @dev Moves `amount` from `from` to `to` and checks that `to` received exactly that much
    ///      (fee-on-transfer or rebasing tokens would make the event a lie: refused).
    function _pullToken(address token, address from, address to, uint256 amount) private {
        if (token.code.length == 0) revert TokenTransferFailed();
        uint256 balanceBefore = IERC20Balance(token).balanceOf(to);
        // Reentrancy-sensitive: hands control to the token. A nested transfer to `to` changes
        // the balance delta checked below, so it makes this call revert rather than over-count.
        (bool ok, bytes memory ret) =
            token.call(abi.encodeCall(IERC20Balance.transferFrom, (from, to, amount)));
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool)))) revert TokenTransferFailed();
        uint256 received = IERC20Balance(token).balanceOf(to) - balanceBefore;
        if (received != amount) revert TokenAmountMismatch(amount, received);
    }
}

/// @dev The two ERC-20 functions the vault calls.
interface IERC20Balance {
    function balanceOf(address owner) external view returns (uint256);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @dev Created by `PoolVault.pay` with the payment's value, it self-destructs in its constructor
///      to the payee: SELFDESTRUCT moves the balance without calling the beneficiary (no
///      `receive`, no fallback, no delegated code runs), so no address can refuse a payment.
///      Created and destroyed in one transaction, it leaves no code behind (EIP-6780).
contract EtherDrop {
    constructor(address payable to) payable {
        selfdestruct(to);
    }
}
