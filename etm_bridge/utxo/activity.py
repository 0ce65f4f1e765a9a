"""Which hashlocks a range of blocks concerns, from a UTXO wallet index (pure).

The swap watcher asks, on each new block, which hashlocks the new blocks touched, so that it
examines only those swaps (``docs/swaps.md``). Everything needed is already in the adapter's
index (``index.py``), filled by scanning each block once; nothing is fetched again here.

- A **spend** of a lock output (claim or refund) reveals the HTLC script as its last witness
  item, which contains the hashlock: the chain's ``witness_hashlock`` reads it (the output's
  program is the script's hash, so what is read is what was locked).
- A new **lock output** does not show its hashlock: its marker gives the keys and the timelock
  only. :class:`HashlockResolver` matches it against the hashlocks it was told to watch: for
  each marker it splits the script template around the hashlock once, so a candidate costs one
  hash of the ~110-byte script; each output is matched against each watched hashlock at most
  once over the resolver's life (results are kept per outpoint).

Lock outputs of hashlocks nobody watches are not reported: no swap could be examined for them.
A lock whose keys or timelock differ from a swap's terms is still reported under its hashlock,
so the watcher sees (and fails) a counterparty's mismatched lock as a poll would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from etm_bridge.errors import ValidationError
from etm_bridge.hashlock import require_hashlock

from .index import Marker, UtxoIndex


class Script(Protocol):
    @property
    def script(self) -> bytes: ...
    @property
    def hashlock(self) -> bytes: ...


class TemplateMarker(Marker, Protocol):
    def htlc(self, hashlock: bytes) -> Script: ...


class LockRecord(Protocol):
    """What the resolver reads of a chain's lock record."""

    @property
    def height(self) -> int | None: ...
    @property
    def marker(self) -> TemplateMarker: ...


#: A stand-in hashlock that locates the hashlock's bytes inside a marker's script.
_PROBE = hashlib.sha256(b"etm-bridge hashlock probe").digest()

LockT = TypeVar("LockT", bound=LockRecord)


class HashlockResolver(Generic[LockT]):
    """Matches lock outputs against the hashlocks being watched (see the module docstring).

    The chain says how: ``parse_script`` reads an HTLC script (raising ``ValidationError`` if it
    is not the template), ``script_hash`` is what a pay-to-script output commits to, and
    ``program_of(lock)`` the script hash a lock pays (None if it is not pay-to-script)."""

    def __init__(
        self,
        parse_script: Callable[[bytes], Script],
        script_hash: Callable[[bytes], bytes],
        program_of: Callable[[LockT], bytes | None],
    ) -> None:
        self._parse_script, self._script_hash = parse_script, script_hash
        self._program_of = program_of
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

    def witness_hashlock(self, witness: list[bytes]) -> bytes | None:
        """The hashlock of the HTLC script a spend reveals (its last witness item), or None if
        the witness does not end with the template (then it spent no etm-bridge HTLC)."""
        if not witness:
            return None
        try:
            return self._parse_script(witness[-1]).hashlock
        except ValidationError:
            return None

    def resolve(self, key: str, lock: LockT) -> bytes | None:
        """The watched hashlock whose HTLC script ``lock`` pays, or None."""
        found, tried = self._results.get(key, (None, 0))
        if found is None and tried < len(self._watched):
            program = self._program_of(lock)
            if program is not None:
                prefix, suffix = self._template(lock.marker)
                for hashlock in self._watched[tried:]:
                    if self._script_hash(prefix + hashlock + suffix) == program:
                        found = hashlock
                        break
            self._results[key] = (found, len(self._watched))
        return found

    def _template(self, marker: TemplateMarker) -> tuple[bytes, bytes]:
        """(bytes before, bytes after) the hashlock in the marker's script."""
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
    view: UtxoIndex[Any, LockT, Any],
    start_height: int,
    end_height: int,
    resolver: HashlockResolver[LockT],
    *,
    unconfirmed: bool,
) -> set[bytes]:
    """Hashlocks of locks made or spent at heights ``start..end`` of ``view`` (and, if
    ``unconfirmed``, by its not yet mined transactions). One pass over the view's locks."""
    found: set[bytes] = set()
    for key, lock in view.locks.items():
        spend = view.spends.get(key)
        if spend is not None and _in_range(spend.height, start_height, end_height, unconfirmed):
            hashlock = resolver.witness_hashlock(spend.witness) or resolver.resolve(key, lock)
            if hashlock is not None:
                found.add(hashlock)
        if _in_range(lock.height, start_height, end_height, unconfirmed):
            hashlock = resolver.resolve(key, lock)
            if hashlock is not None:
                found.add(hashlock)
    return found
