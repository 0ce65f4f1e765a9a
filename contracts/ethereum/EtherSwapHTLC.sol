// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title EtherSwapHTLC: hash time-locked contract for ETH and ERC-20 tokens
/// @notice Modelled on Boltz's EtherSwap / ERC20Swap. The contract keeps almost no state: a map
///         from the keccak256 hash of a swap's values to a flag. Everything else travels in the
///         events (Locked / Claimed / Refunded, indexed by the preimage hash) and in the calldata
///         of claim/refund, which must repeat the values exactly.
/// @dev    The hashlock is SHA-256 (the precompile at address 0x02, via Solidity's sha256), and a
///         preimage must be exactly 32 bytes, so the same secret unlocks the Bitcoin P2WSH HTLC
///         (OP_SIZE 32 OP_EQUALVERIFY OP_SHA256) and the ETM native HTLC. Timelocks are block
///         numbers; a refund is valid in blocks strictly after the timelock, as on Bitcoin.
///         `token == address(0)` means ether.
contract EtherSwapHTLC {
    /// @notice Version of the contract's rules; bumped on any change to hashing or semantics.
    uint8 public constant version = 1;

    /// @notice keccak256(abi.encodePacked(preimageHash, amount, token, claimAddress,
    ///         refundAddress, timelock)) => true while the swap's funds are locked here.
    mapping(bytes32 => bool) public swaps;

    event Locked(
        bytes32 indexed preimageHash,
        bytes32 indexed swapHash,
        address indexed claimAddress,
        uint256 amount,
        address token,
        address refundAddress,
        uint256 timelock
    );
    event Claimed(bytes32 indexed preimageHash, bytes32 indexed swapHash, bytes32 preimage);
    event Refunded(bytes32 indexed preimageHash, bytes32 indexed swapHash);

    error ZeroAmount();
    error InvalidAddress();
    error TimelockInPast(uint256 timelock, uint256 blockNumber);
    error SwapAlreadyExists(bytes32 swapHash);
    error SwapNotFound(bytes32 swapHash);
    error InvalidPreimageLength(uint256 length);
    error TimelockNotReached(uint256 timelock, uint256 blockNumber);
    error TokenAmountMismatch(uint256 expected, uint256 received);
    error EtherTransferFailed();
    error TokenTransferFailed();

    /// @notice The key under which a swap's lock flag is stored.
    function hashValues(
        bytes32 preimageHash,
        uint256 amount,
        address token,
        address claimAddress,
        address refundAddress,
        uint256 timelock
    ) public pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(preimageHash, amount, token, claimAddress, refundAddress, timelock)
        );
    }

    /// @notice Lock msg.value wei for claimAddress; msg.sender may refund after block `timelock`.
    function lock(bytes32 preimageHash, address claimAddress, uint256 timelock)
        external
        payable
        returns (bytes32 swapHash)
    {
        swapHash = _register(preimageHash, msg.value, address(0), claimAddress, timelock);
    }

    /// @notice Lock `amount` of `token` (pulled with transferFrom; approve first).
    function lockToken(
        bytes32 preimageHash,
        address token,
        uint256 amount,
        address claimAddress,
        uint256 timelock
    ) external returns (bytes32 swapHash) {
        if (token == address(0)) revert InvalidAddress();
        // Effects before the external call: the flag is set, so a reentrant lock of the same
        // values fails with SwapAlreadyExists.
        swapHash = _register(preimageHash, amount, token, claimAddress, timelock);
        uint256 balanceBefore = IERC20Minimal(token).balanceOf(address(this));
        _callToken(token, abi.encodeCall(IERC20Minimal.transferFrom, (msg.sender, address(this), amount)));
        uint256 received = IERC20Minimal(token).balanceOf(address(this)) - balanceBefore;
        // Fee-on-transfer or rebasing tokens would make the stored amount a lie: refuse them.
        if (received != amount) revert TokenAmountMismatch(amount, received);
    }

    /// @notice Claim a swap locked for msg.sender by revealing its 32-byte SHA-256 preimage.
    function claim(
        bytes calldata preimage,
        uint256 amount,
        address token,
        address refundAddress,
        uint256 timelock
    ) external {
        if (preimage.length != 32) revert InvalidPreimageLength(preimage.length);
        bytes32 preimageWord = bytes32(preimage);
        bytes32 preimageHash = sha256(preimage);
        bytes32 swapHash = hashValues(preimageHash, amount, token, msg.sender, refundAddress, timelock);
        if (!swaps[swapHash]) revert SwapNotFound(swapHash);
        // Reentrancy: the flag is deleted BEFORE any value leaves, so a reentrant claim or
        // refund of the same swap finds nothing (checks-effects-interactions).
        delete swaps[swapHash];
        emit Claimed(preimageHash, swapHash, preimageWord);
        _payOut(token, msg.sender, amount);
    }

    /// @notice Refund a swap to msg.sender (its refund address) in any block AFTER `timelock`.
    /// @dev Same rule as Bitcoin's nLockTime = timelock (final from block timelock + 1) and the
    ///      ETM HTLC, see etm_bridge.hashlock.refund_allowed: one rule on every leg.
    function refund(
        bytes32 preimageHash,
        uint256 amount,
        address token,
        address claimAddress,
        uint256 timelock
    ) external {
        if (block.number <= timelock) revert TimelockNotReached(timelock, block.number);
        bytes32 swapHash = hashValues(preimageHash, amount, token, claimAddress, msg.sender, timelock);
        if (!swaps[swapHash]) revert SwapNotFound(swapHash);
        // Reentrancy: delete before transfer, as in claim.
        delete swaps[swapHash];
        emit Refunded(preimageHash, swapHash);
        _payOut(token, msg.sender, amount);
    }

    function _register(
        bytes32 preimageHash,
        uint256 amount,
        address token,
        address claimAddress,
        uint256 timelock
    ) private returns (bytes32 swapHash) {
        if (amount == 0) revert ZeroAmount();
        if (claimAddress == address(0)) revert InvalidAddress();
        if (timelock <= block.number) revert TimelockInPast(timelock, block.number);
        swapHash = hashValues(preimageHash, amount, token, claimAddress, msg.sender, timelock);
        if (swaps[swapHash]) revert SwapAlreadyExists(swapHash);
        swaps[swapHash] = true;
        emit Locked(preimageHash, swapHash, claimAddress, amount, token, msg.sender, timelock);
    }

    /// @dev Callers have already deleted the swap's flag: this is the only place value leaves.
    function _payOut(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            // Reentrancy-sensitive: hands control to `to`; state is already final.
            (bool ok, ) = payable(to).call{value: amount}("");
            if (!ok) revert EtherTransferFailed();
        } else {
            // Reentrancy-sensitive: hands control to the token; state is already final.
            _callToken(token, abi.encodeCall(IERC20Minimal.transfer, (to, amount)));
        }
    }

    /// @dev Accepts tokens that return nothing (USDT style) as well as those returning true.
    function _callToken(address token, bytes memory data) private {
        if (token.code.length == 0) revert TokenTransferFailed();
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool)))) revert TokenTransferFailed();
    }
}

/// @dev The three ERC-20 functions the HTLC calls.
interface IERC20Minimal {
    function balanceOf(address owner) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}
