// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title TestHookToken: an ERC-20 that hands control to a contract receiver on every move
/// @notice NOT for production use. Like ERC-777 / ERC-1363 tokens, each transfer calls
///         `onTokenReceived(from, value)` on a receiver that has code (best effort: a receiver
///         without the function is still paid), so the CommitteeVault tests can give a
///         malicious payee control in the middle of a vault payout. Whole supply to the
///         deployer; no owner, no mint after deployment.
contract TestHookToken {
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error InsufficientBalance(uint256 balance, uint256 needed);
    error InsufficientAllowance(uint256 allowance, uint256 needed);

    constructor(uint256 supply) {
        totalSupply = supply;
        balanceOf[msg.sender] = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed < value) revert InsufficientAllowance(allowed, value);
        allowance[from][msg.sender] = allowed - value;
        _move(from, to, value);
        return true;
    }

    /// @dev Balances first, then the receiver's hook (its failure is ignored).
    function _move(address from, address to, uint256 value) private {
        uint256 balance = balanceOf[from];
        if (balance < value) revert InsufficientBalance(balance, value);
        balanceOf[from] = balance - value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
        if (to.code.length > 0) {
            (bool ok,) = to.call(abi.encodeCall(TestReentrantReceiver.onTokenReceived, (from, value)));
            ok; // best effort, as a receiver without the hook must still be payable
        }
    }
}

/// @title TestReentrantReceiver: a payee that re-enters the vault whenever it gets control
/// @notice NOT for production use. `arm(data)` stores a call to the vault (e.g. the very
///         payout being executed, with its signatures, or another mandate's execute); the
///         first time the receiver gets control (a token hook or a plain ether transfer) it
///         sends that call to the vault and records whether it succeeded and its revert data,
///         without reverting itself, so the test sees both the outer payout and the attack.
contract TestReentrantReceiver {
    address public vault; // storage, not immutable: deploy_contract checks the code byte for byte
    bytes public attack;
    uint256 public attempts;
    bool public lastOk;
    bytes public lastReturn;

    constructor(address vault_) {
        vault = vault_;
    }

    function arm(bytes calldata data) external {
        attack = data;
        attempts = 0;
    }

    function onTokenReceived(address, uint256) external {
        _strike();
    }

    receive() external payable {
        _strike();
    }

    function _strike() private {
        if (attack.length == 0 || attempts != 0) return;
        attempts = 1;
        (lastOk, lastReturn) = vault.call(attack);
    }
}
