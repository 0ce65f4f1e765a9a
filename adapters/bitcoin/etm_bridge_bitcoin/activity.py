"""Which hashlocks a range of Bitcoin blocks concerns: the adapter's ``htlc_activity`` (pure).

The matching is chain-neutral (``etm_bridge.utxo.activity``, shared with Handshake): a spend
of a lock reveals the witness script, hence the hashlock; a new lock output is matched against
the watched hashlocks through its marker's template. This module gives it Bitcoin's parts: the
witness script template (``script.py``), sha256 (P2WSH), and the program of a P2WSH output.
"""

from __future__ import annotations

import hashlib

from etm_bridge.errors import ValidationError
from etm_bridge.utxo import activity as core
from etm_bridge.utxo.index import Marker

from .index import ChainIndex, LockOutput
from .script import LockMarker, parse_htlc_script

__all__ = ["HashlockResolver", "index_activity", "witness_hashlock"]

_P2WSH_PREFIX = b"\x00\x20"


def witness_hashlock(witness: list[bytes]) -> bytes | None:
    """The hashlock of the HTLC script a spend reveals (its last witness item), or None if the
    witness does not end with our template (then it spent no etm-bridge HTLC)."""
    if not witness:
        return None
    try:
        return parse_htlc_script(witness[-1]).hashlock
    except ValidationError:
        return None


def _script(marker: Marker, hashlock: bytes) -> bytes:
    return (
        LockMarker(marker.claim_pubkey, marker.refund_pubkey, marker.timelock_height)
        .htlc(hashlock)
        .script
    )


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _program(lock: LockOutput) -> bytes | None:
    script = bytes.fromhex(lock.script_pubkey_hex)
    return script[2:] if script[:2] == _P2WSH_PREFIX else None


class HashlockResolver(core.HashlockResolver[LockOutput]):
    """Matches P2WSH lock outputs against the watched hashlocks (``etm_bridge.utxo.activity``)."""

    def __init__(self) -> None:
        super().__init__(_script, _sha256, _program)


def index_activity(
    view: ChainIndex,
    start_height: int,
    end_height: int,
    resolver: HashlockResolver,
    *,
    unconfirmed: bool,
) -> set[bytes]:
    """Hashlocks of locks made or spent at heights ``start..end`` of ``view`` (and, if
    ``unconfirmed``, by its not yet mined transactions). One pass over the view's locks."""
    return core.index_activity(
        view, start_height, end_height, resolver, witness_hashlock, unconfirmed=unconfirmed
    )
