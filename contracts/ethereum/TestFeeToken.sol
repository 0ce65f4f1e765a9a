// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title TestFeeToken: an ERC-20 that burns 1 % of every transfer (fee-on-transfer)
/// @notice NOT for production use. It exists so the tests can show that the HTLC and the
///         CommitteeVault refuse a token whose transfers deliver less than the amount named
///         (`TokenAmountMismatch`): with such a token an event would over-state what arrived.
///         The whole supply is minted to the deployer; no owner, no mint after deployment.
contract TestFeeToken {
    uint256 public constant FEE_PERCENT = 1;
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

    /// @dev The receiver gets `value` minus the fee; the fee is burnt.
    function _move(address from, address to, uint256 value) private {
        uint256 balance = balanceOf[from];
        if (balance < value) revert InsufficientBalance(balance, value);
        uint256 fee = (value * FEE_PERCENT) / 100;
        balanceOf[from] = balance - value;
        balanceOf[to] += value - fee;
        totalSupply -= fee;
        emit Transfer(from, to, value - fee);
    }
}
