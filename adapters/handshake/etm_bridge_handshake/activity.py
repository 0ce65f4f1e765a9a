"""Which hashlocks a range of Handshake blocks concerns: the adapter's ``htlc_activity`` (pure).

As the Bitcoin adapter's ``activity.py``: a **spend** of a lock reveals the HTLC script as its
last witness item, which contains the hashlock; a new **lock output** hides it, so it is matched
against the hashlocks being watched (one SHA3-256 of the ~115-byte script per candidate, the
template split around the hashlock once per marker; each output is tried against each watched
hashlock at most once).
"""

from __future__ import annotations

import hashlib

from etm_bridge.errors import ValidationError
from etm_bridge.hashlock import require_hashlock

from .codec import sha3_256
from .index import ChainIndex, LockOutput
from .script import LockMarker, parse_htlc_script

_PROBE = hashlib.sha256(b"etm-bridge hashlock probe").digest()


def witness_hashlock(witness: list[bytes]) -> bytes | None:
    if not witness:
        return None
    try:
        return parse_htlc_script(witness[-1]).hashlock
    except ValidationError:
        return None


class HashlockResolver:
    def __init__(self) -> None:
        self._watched: list[bytes] = []
        self._known: set[bytes] = set()
        self._templates: dict[tuple[bytes, bytes, int], tuple[bytes, bytes]] = {}
        self._results: dict[str, tuple[bytes | None, int]] = {}

    def watch(self, hashlock: bytes) -> None:
        require_hashlock(hashlock)
        if hashlock not in self._known:
            self._known.add(hashlock)
            self._watched.append(hashlock)

    @property
    def watched(self) -> frozenset[bytes]:
        return frozenset(self._known)

    def resolve(self, key: str, lock: LockOutput) -> bytes | None:
        found, tried = self._results.get(key, (None, 0))
        if found is None and tried < len(self._watched):
            prefix, suffix = self._template(lock.marker)
            program = bytes.fromhex(lock.address_hash_hex)
            for hashlock in self._watched[tried:]:
                if sha3_256(prefix + hashlock + suffix) == program:
                    found = hashlock
                    break
            self._results[key] = (found, len(self._watched))
        return found

    def _template(self, marker: LockMarker) -> tuple[bytes, bytes]:
        triple = (marker.claim_pubkey, marker.refund_pubkey, marker.timelock_height)
        split = self._templates.get(triple)
        if split is None:
            script = marker.htlc(_PROBE).script
            at = script.index(_PROBE)
            split = (script[:at], script[at + len(_PROBE) :])
            self._templates[triple] = split
        return split


def _in_range(height: int | None, start: int, end: int, unconfirmed: bool) -> bool:
    return (unconfirmed and height is None) or (height is not None and start <= height <= end)


def index_activity(
    view: ChainIndex, start: int, end: int, resolver: HashlockResolver, *, unconfirmed: bool
) -> set[bytes]:
    found: set[bytes] = set()
    for key, lock in view.locks.items():
        spend = view.spends.get(key)
        if spend is not None and _in_range(spend.height, start, end, unconfirmed):
            hashlock = witness_hashlock(spend.witness) or resolver.resolve(key, lock)
            if hashlock is not None:
                found.add(hashlock)
        if _in_range(lock.height, start, end, unconfirmed):
            hashlock = resolver.resolve(key, lock)
            if hashlock is not None:
                found.add(hashlock)
    return found
