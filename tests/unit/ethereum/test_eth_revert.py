"""Revert data is decoded to the contract's custom error names (and Solidity's built-ins)."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector
from etm_bridge_ethereum.htlc import HtlcCodec
from etm_bridge_ethereum.revert import decode_revert, error_table, revert_error

from etm_bridge.errors import ContractRevertError

TABLE = error_table(HtlcCodec().abis)


def _data(signature: str, types: list[str], args: list) -> bytes:
    return function_signature_to_4byte_selector(signature) + encode(types, args)


def test_custom_error_with_arguments_is_named_and_decoded():
    data = _data("TimelockNotReached(uint256,uint256)", ["uint256", "uint256"], [120, 119])
    assert decode_revert(data, TABLE) == ("TimelockNotReached", (120, 119))


def test_revert_error_names_the_custom_error():
    data = _data("SwapNotFound(bytes32)", ["bytes32"], [b"\xab" * 32])
    exc = revert_error("claim", data, TABLE)
    assert isinstance(exc, ContractRevertError)
    assert exc.error_name == "SwapNotFound"
    assert "claim reverted: SwapNotFound(0x" + "ab" * 32 + ")" in str(exc)


def test_errors_of_the_token_contract_are_known_too():
    data = _data("InsufficientAllowance(uint256,uint256)", ["uint256", "uint256"], [0, 5])
    assert decode_revert(data, TABLE) == ("InsufficientAllowance", (0, 5))


def test_builtin_error_string_and_panic():
    assert decode_revert(_data("Error(string)", ["string"], ["nope"]), TABLE) == (
        "Error",
        ("nope",),
    )
    assert decode_revert(_data("Panic(uint256)", ["uint256"], [0x11]), TABLE) == ("Panic", (0x11,))


def test_unknown_selector_and_empty_revert_have_no_error_name():
    unknown = revert_error("lock", b"\xde\xad\xbe\xef", TABLE)
    assert unknown.error_name is None and "unknown:0xdeadbeef" in str(unknown)
    empty = revert_error("lock", b"", TABLE)
    assert empty.error_name is None and "empty revert" in str(empty)


def test_truncated_arguments_keep_the_name():
    data = function_signature_to_4byte_selector("SwapNotFound(bytes32)") + b"\x01"
    assert decode_revert(data, TABLE) == ("SwapNotFound", ())
