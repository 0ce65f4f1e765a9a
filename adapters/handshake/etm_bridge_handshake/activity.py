"""Which hashlocks a range of Handshake blocks concerns: the adapter's ``htlc_activity`` (pure).

The matching is chain-neutral (``etm_bridge.utxo.activity``, shared with Bitcoin): a spend of
a lock reveals the HTLC script as its last witness item, hence the hashlock; a new lock output
is matched against the watched hashlocks through its marker's template. This module gives it
Handshake's parts: the script template (``script.py``), SHA3-256 (a v0/32 address is the
script's SHA3-256), and the address hash of a lock output.
"""

from __future__ import annotations

from etm_bridge.utxo import activity as core

from .codec import sha3_256
from .index import LockOutput
from .script import parse_htlc_script

__all__ = ["HashlockResolver", "index_activity"]


def _program(lock: LockOutput) -> bytes:
    return bytes.fromhex(lock.address_hash_hex)


class HashlockResolver(core.HashlockResolver[LockOutput]):
    """Matches v0/32 lock outputs against the watched hashlocks (``etm_bridge.utxo.activity``)."""

    def __init__(self) -> None:
        super().__init__(parse_htlc_script, sha3_256, _program)


index_activity = core.index_activity
