"""Turn EVM revert data into :class:`~etm_bridge.errors.ContractRevertError` naming the error.

Revert data is a 4-byte selector followed by ABI-encoded arguments. The selector is matched
against every ``error`` entry of the contract ABIs given, plus Solidity's built-in
``Error(string)`` (``require``/``revert("...")``) and ``Panic(uint256)`` (assert, overflow,
division by zero). Pure: bytes and ABIs in, an exception object out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from eth_abi import decode
from eth_abi.exceptions import DecodingError
from eth_utils import function_signature_to_4byte_selector

from etm_bridge.errors import ContractRevertError

_BUILTIN_ERRORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Error", ("string",)),
    ("Panic", ("uint256",)),
)


def _signature(entry: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    types = tuple(_abi_type(i) for i in entry.get("inputs", []))
    return entry["name"], types


def _abi_type(param: Mapping[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return str(param["type"])


def error_table(abis: Iterable[Iterable[Mapping[str, Any]]]) -> dict[bytes, tuple[str, tuple]]:
    """Selector -> (error name, argument types) for the given ABIs and the built-ins."""
    entries = [_signature(e) for abi in abis for e in abi if e.get("type") == "error"]
    table = {}
    for name, types in [*_BUILTIN_ERRORS, *entries]:
        selector = function_signature_to_4byte_selector(f"{name}({','.join(types)})")
        table[bytes(selector)] = (name, types)
    return table


def decode_revert(data: bytes, table: Mapping[bytes, tuple[str, tuple]]) -> tuple[str, tuple]:
    """(error name, decoded arguments); name ``"unknown:0x…"`` if the selector is unknown."""
    if len(data) < 4:
        return ("empty revert" if not data else f"unknown:0x{data.hex()}", ())
    known = table.get(data[:4])
    if known is None:
        return f"unknown:0x{data[:4].hex()}", ()
    name, types = known
    try:
        return name, tuple(decode(list(types), data[4:]))
    except DecodingError:
        return name, ()


def _format_arg(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else repr(value)


def revert_error(action: str, data: bytes, table: Mapping[bytes, tuple[str, tuple]]) -> Exception:
    """A ContractRevertError for ``action`` ("claim", "lock", ...) with the decoded error."""
    name, args = decode_revert(data, table)
    shown = ", ".join(_format_arg(a) for a in args)
    known = not name.startswith("unknown") and name != "empty revert"
    return ContractRevertError(
        f"{action} reverted: {name}({shown})" if known else f"{action} reverted ({name})",
        error_name=name if known else None,
    )
