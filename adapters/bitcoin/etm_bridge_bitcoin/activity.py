"""Which hashlocks a range of Bitcoin blocks concerns: the adapter's ``htlc_activity`` (pure).

The swap watcher asks, on each new block, which hashlocks the new blocks touched, so that it
examines only those swaps (``docs/swaps.md``). Everything needed is already in the adapter's
chain index (``index.py``), filled by scanning each block once; nothing is fetched again here.

- A **spend** of a lock output (claim or refund) carries the witness script as its last witness
  item, and that script contains the hashlock: the hashlock is read from it (a claim's preimage
  hashes to the same value). P2WSH makes the script hash to the output's program, so what is
  read is what was locked.
- A new **lock output** does not show its hashlock: its marker gives the keys and the timelock
  only (``script.py``). :class:`HashlockResolver` matches it against the hashlocks the adapter
  was told to watch: for each marker it splits the witness-script template around the hashlock
  once, so a candidate costs one sha256 of ~110 bytes (~1 us); each output is matched against
  each watched hashlock at most once over the resolver's life (results are kept per outpoint).

Lock outputs of hashlocks nobody watches are not reported: no swap could be examined for them.
A lock whose keys or timelock differ from a swap's terms is still reported under its hashlock,
so the watcher sees (and fails) a counterparty's mismatched lock as a poll would.
"""

from __future__ import annotations

import hashlib

from etm_bridge.errors import ValidationError
from etm_bridge.hashlock import require_hashlock

from .index import ChainIndex, LockOutput
from .script import LockMarker, parse_htlc_script

#: A stand-in hashlock that locates the hashlock's bytes inside a marker's witness script.
_PROBE = hashlib.sha256(b"etm-bridge hashlock probe").digest()
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


class HashlockResolver:
    """Matches lock outputs against the hashlocks being watched (see the module docstring)."""

    def __init__(self) -> None:
        self._watched: list[bytes] = []
        self._known: set[bytes] = set()
        self._templates: dict[tuple[bytes, bytes, int], tuple[bytes, bytes]] = {}
        # outpoint -> (hashlock found or None, how many watched hashlocks were tried)
        self._results: dict[str, tuple[bytes | None, int]] = {}

    def watch(self, hashlock: bytes) -> None:
        """Report lock outputs of ``hashlock`` from now on (idempotent)."""
        require_hashlock(hashlock)
        if hashlock not in self._known:
            self._known.add(hashlock)
            self._watched.append(hashlock)

    @property
    def watched(self) -> frozenset[bytes]:
        return frozenset(self._known)

    def resolve(self, key: str, lock: LockOutput) -> bytes | None:
        """The watched hashlock whose HTLC script ``lock`` pays, or None."""
        found, tried = self._results.get(key, (None, 0))
        if found is None and tried < len(self._watched):
            prefix, suffix = self._template(lock.marker)
            program = bytes.fromhex(lock.script_pubkey_hex)
            if program[:2] == _P2WSH_PREFIX:
                for hashlock in self._watched[tried:]:
                    if hashlib.sha256(prefix + hashlock + suffix).digest() == program[2:]:
                        found = hashlock
                        break
            self._results[key] = (found, len(self._watched))
        return found

    def _template(self, marker: LockMarker) -> tuple[bytes, bytes]:
        """(bytes before, bytes after) the hashlock in the marker's witness script."""
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
    view: ChainIndex,
    start_height: int,
    end_height: int,
    resolver: HashlockResolver,
    *,
    unconfirmed: bool,
) -> set[bytes]:
    """Hashlocks of locks made or spent at heights ``start..end`` of ``view`` (and, if
    ``unconfirmed``, by its not yet mined transactions). One pass over the view's locks."""
    found: set[bytes] = set()
    for key, lock in view.locks.items():
        spend = view.spends.get(key)
        if spend is not None and _in_range(spend.height, start_height, end_height, unconfirmed):
            hashlock = witness_hashlock(spend.witness) or resolver.resolve(key, lock)
            if hashlock is not None:
                found.add(hashlock)
        if _in_range(lock.height, start_height, end_height, unconfirmed):
            hashlock = resolver.resolve(key, lock)
            if hashlock is not None:
                found.add(hashlock)
    return found
