"""The toy chain's ETM relay: tx plug-in ``toy_chain.relay`` (listed by a genesis that starts it).

191 ``toy_relay_headers``: 1..100 headers of 80 bytes; the first links (by sha256d) to a header
the relay holds, each next one to the one before; the batch is kept only if it ends above the
relay's tip (the longest chain wins). ``spv_toy_headers`` holds ``b"h" + height`` -> header and
``b"x" + hash`` -> height of the best chain, ``b"tip"`` -> the best height. Pure.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from etm_bridge.chain.codec import sha256d
from etm_bridge.chain.registry import Registry, TxContext, TxType
from etm_bridge.chain.state import State, StateView
from etm_bridge.chain.tx import Tx
from etm_bridge.errors import TxRejectedError
from etm_bridge.spv.relay_policy import RelayPolicy
from etm_bridge.spv.relay_types import CONFIG, register_chain

from . import HEADER_LEN, HEADERS_TABLE, RELAY_HEADERS, TICKER, TYPES, header_id

NETWORK = "memory"


def register(registry: Registry) -> None:
    register_chain(registry, TICKER)


def policy() -> RelayPolicy:
    return RelayPolicy(1, 3600, "0", 0)


def network_of(view: StateView) -> str | None:
    return None if view.get_json(CONFIG, TICKER.encode()) is None else NETWORK


def _height_key(height: int) -> bytes:
    return b"h" + height.to_bytes(8, "big")


def _tip(view: StateView) -> int | None:
    tip = view.get_json(HEADERS_TABLE, b"tip")
    return None if tip is None else int(tip)


def _put(state: State, height: int, header: bytes) -> None:
    state.put(HEADERS_TABLE, _height_key(height), header)
    state.put_json(HEADERS_TABLE, b"x" + sha256d(header), height)


def initialise(state: State, genesis_header: bytes) -> None:
    _put(state, 0, genesis_header)
    state.put_json(HEADERS_TABLE, b"tip", 0)
    state.put_json(CONFIG, TICKER.encode(), {"network": NETWORK, **policy().to_json()})


def header_at(view: StateView, height: int) -> bytes | None:
    tip = _tip(view)
    if tip is None or not 0 <= height <= tip:
        return None
    return view.get(HEADERS_TABLE, _height_key(height))


def best_hash(view: StateView, height: int) -> str | None:
    header = header_at(view, height)
    return None if header is None else header_id(header)


def status(view: StateView) -> dict[str, Any] | None:
    tip = _tip(view)
    if tip is None:
        return None
    return {"network": NETWORK, "tip": {"height": tip, "hash": best_hash(view, tip)},
            "min_confirmations": policy().min_confirmations}  # fmt: skip


def decode_headers(payload: bytes) -> list[bytes]:
    if not payload or len(payload) % HEADER_LEN or len(payload) > 100 * HEADER_LEN:
        raise TxRejectedError("spv_bad_headers", f"1..100 headers of {HEADER_LEN} bytes")
    return [payload[i : i + HEADER_LEN] for i in range(0, len(payload), HEADER_LEN)]


def _start(view: StateView, headers: list[bytes]) -> int:
    """The height of the batch's first header; rejects a batch that does not link or win."""
    parent = view.get_json(HEADERS_TABLE, b"x" + headers[0][4:36])
    if parent is None or header_at(view, int(parent)) is None:
        raise TxRejectedError("spv_unknown_parent", "the first header links to no relayed one")
    for prev, header in pairwise(headers):
        if header[4:36] != sha256d(prev):
            raise TxRejectedError("spv_unlinked", "the headers do not link")
    start, tip = int(parent) + 1, _tip(view) or 0
    if start + len(headers) - 1 <= tip:
        raise TxRejectedError("spv_not_longer", "the batch does not extend the best chain")
    return start


def _check(view: StateView, tx: Tx, headers: list[bytes], ctx: TxContext) -> None:
    _start(view, headers)


def _apply(state: State, tx: Tx, headers: list[bytes], ctx: TxContext) -> None:
    start = _start(state, headers)
    for offset, header in enumerate(headers):
        _put(state, start + offset, header)
    state.put_json(HEADERS_TABLE, b"tip", start + len(headers) - 1)


def tx_types() -> list[TxType[Any]]:
    return [TxType(RELAY_HEADERS, TYPES[RELAY_HEADERS], decode_headers, _check, _apply,
                   describe=lambda headers: {"headers": len(headers)})]  # fmt: skip
