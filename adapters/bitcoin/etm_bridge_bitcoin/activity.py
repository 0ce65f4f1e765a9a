"""Which hashlocks a range of Bitcoin blocks concerns: the adapter's ``htlc_activity`` (pure).

The matching is chain-neutral (``etm_bridge.utxo.activity``, shared with Handshake): a spend
of a lock reveals the witness script, hence the hashlock; a new lock output is matched against
the watched hashlocks through its marker's template. This module gives it Bitcoin's parts: the
witness script templates (v1 and v2, the chain folder's parser), sha256 (P2WSH), and the
program of a P2WSH output (a v2 lock only once its policy is watched).
"""

from __future__ import annotations

import hashlib

from etm_bridge.utxo import activity as core

from .index import LockOutput
from .v2 import parse_htlc_script

__all__ = ["HashlockResolver", "index_activity", "witness_hashlock"]

_P2WSH_PREFIX = b"\x00\x20"


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _program(lock: LockOutput) -> bytes | None:
    """The P2WSH program, or None (not P2WSH, or a v2 lock of a policy not watched)."""
    if not lock.bound:
        return None
    script = bytes.fromhex(lock.script_pubkey_hex)
    return script[2:] if script[:2] == _P2WSH_PREFIX else None


class HashlockResolver(core.HashlockResolver[LockOutput]):
    """Matches P2WSH lock outputs against the watched hashlocks (``etm_bridge.utxo.activity``)."""

    def __init__(self) -> None:
        super().__init__(parse_htlc_script, _sha256, _program)


#: The hashlock a spend's witness reveals, or None (not our HTLC template).
witness_hashlock = HashlockResolver().witness_hashlock
index_activity = core.index_activity
