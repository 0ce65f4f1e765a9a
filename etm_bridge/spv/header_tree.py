"""The header tree of a proof-of-work relay on ETM: best chain, forks, batches, proof depth.

The chain-neutral part of every UTXO chain's relay: every header stored with its chain work,
the best chain is the one with the most work (first seen wins a tie), forks are kept and a
reorg rewrites the best-chain index down to the fork point. Store layout they share (keys under
the store given, which may be a :class:`~.kvstore.PrefixedStore`):

- ``h<hash>`` -> the raw header, then the chain's own fields (height, chain work, ...);
- ``b<height u32 BE>`` -> the best chain's hash at that height;
- ``tip`` -> the best tip's hash; ``tips`` -> every leaf's 32-byte hash, concatenated.

What stays the chain's (its folder ``etm_bridge/chains/<name>/spv/``): how a header hashes, how
a stored record decodes (:meth:`HeaderTree.get`), where a header names its parent
(:attr:`TreeOverlay.PARENT`), the checkpoint and every header rule (PoW, difficulty, times):
the chain's :class:`TreeOverlay` subclass checks a header, then stores it with
:meth:`TreeOverlay._store`. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, TypeVar

from ..errors import ConfigError, HeaderRejectedError, InclusionProofError
from .kvstore import KeyValueStore


class StoredNode(Protocol):
    """A stored header as a relay returns it."""

    @property
    def key(self) -> bytes:
        """The hash the store keys it by (the chain's byte order)."""
        ...

    @property
    def height(self) -> int: ...

    @property
    def chain_work(self) -> int: ...

    @property
    def hash_hex(self) -> str:
        """The hash as the chain's tools display it."""
        ...


S = TypeVar("S", bound=StoredNode)


def best_key(height: int) -> bytes:
    """The store key of the best chain's hash at ``height``."""
    return b"b" + height.to_bytes(4, "big")


@dataclass(frozen=True)
class BatchResult(Generic[S]):
    """What a header batch did: how many headers were stored and where the tip is now."""

    accepted: int
    tip: S
    old_tip: S
    reorg: bool  # the new tip does not descend from the old tip


class HeaderTree(Generic[S]):
    """Reads and batch writes of one relay's header tree (a chain's relay subclasses it and
    sets ``store``, ``checkpoint_height``, ``network`` (its params' name) and ``label``, how
    messages name the relay, e.g. ``"Handshake main"``)."""

    store: KeyValueStore
    checkpoint_height: int
    network: str
    label: str

    def get(self, key: bytes) -> S | None:
        """The stored header with this hash (any branch), or None."""
        raise NotImplementedError

    def new_batch(self) -> TreeOverlay:
        """An empty overlay of this tree that checks the chain's header rules."""
        raise NotImplementedError

    # --- queries ------------------------------------------------------------------------------

    def tip(self) -> S:
        tip_hash = self.store.get(b"tip")
        stored = self.get(tip_hash) if tip_hash is not None else None
        if stored is None:
            raise ConfigError(f"the {self.label} relay store has no tip")
        return stored

    def best_hash_at(self, height: int) -> bytes | None:
        """The best chain's hash at ``height`` (None above the tip or below the checkpoint)."""
        if not self.checkpoint_height <= height <= self.tip().height:
            return None
        return self.store.get(best_key(height))

    def is_in_best_chain(self, key: bytes) -> bool:
        stored = self.get(key)
        return stored is not None and self.best_hash_at(stored.height) == key

    def confirmations(self, key: bytes) -> int:
        """1 for the tip, 2 for its parent, ...; 0 when unknown or not in the best chain."""
        stored = self.get(key)
        if stored is None or self.best_hash_at(stored.height) != key:
            return 0
        return self.tip().height - stored.height + 1

    def chain_tips(self) -> list[S]:
        """Every leaf of the header tree (the best tip and fork tips), most work first."""
        packed = self.store.get(b"tips") or b""
        leaves = [self.get(packed[i : i + 32]) for i in range(0, len(packed), 32)]
        return sorted((s for s in leaves if s), key=lambda s: (-s.chain_work, s.height))

    def require_depth(self, stored: S, min_confirmations: int) -> int:
        """The confirmations of ``stored``'s block, which must be in the best chain at least
        ``min_confirmations`` deep (:class:`InclusionProofError` ``not-in-best-chain`` /
        ``insufficient-confirmations``)."""
        confirmations = self.confirmations(stored.key)
        if confirmations == 0:
            raise InclusionProofError(
                "not-in-best-chain", f"block {stored.hash_hex} is not in the best chain"
            )
        if confirmations < min_confirmations:
            raise InclusionProofError(
                "insufficient-confirmations",
                f"{confirmations} confirmations, the policy needs {min_confirmations}",
            )
        return confirmations

    # --- relaying -----------------------------------------------------------------------------

    def validate_headers(self, headers: Sequence[bytes], now: int) -> Mapping[bytes, bytes]:
        """Check a batch without storing it; returns the writes :meth:`submit_headers` makes.

        ``now`` is the reference time for ``time-too-new`` (the ETM block time). Raises
        :class:`HeaderRejectedError` naming the rule and the header's index.
        """
        batch = self.new_batch()
        for index, raw in enumerate(headers):
            try:
                batch.add(raw, now)
            except HeaderRejectedError as exc:
                raise HeaderRejectedError(exc.reason, f"header {index}: {exc}") from None
        return batch.writes()

    def submit_headers(self, headers: Sequence[bytes], now: int) -> BatchResult[S]:
        """Validate ``headers`` (in order, each linking to a stored or earlier one) and store
        them with one ``write_batch``; nothing is stored when any header is rejected."""
        old_tip = self.tip()
        self.store.write_batch(self.validate_headers(headers, now))
        new_tip = self.tip()
        reorg = self.best_hash_at(old_tip.height) != old_tip.key
        return BatchResult(len(headers), new_tip, old_tip, reorg)


class TreeOverlay:
    """What one header batch adds to a :class:`HeaderTree` (records, best-chain index, tip,
    leaves), read through to the store, until :meth:`writes` (mutable, single use)."""

    #: Where a raw header (the start of its stored record) names its parent's hash.
    PARENT: ClassVar[slice]

    def __init__(self, relay: HeaderTree[S]) -> None:
        self._checkpoint_height = relay.checkpoint_height
        self._get = relay.store.get
        self._records: dict[bytes, bytes] = {}
        self._best: dict[int, bytes] = {}
        tip = relay.tip()
        self._tip = (tip.key, tip.height, tip.chain_work)
        packed = self._get(b"tips") or b""
        self._leaves = {packed[i : i + 32] for i in range(0, len(packed), 32)}

    def add(self, raw: bytes, now: int) -> None:
        """Check one header against the store plus this batch (the chain's rules), then
        :meth:`_store` it."""
        raise NotImplementedError

    def _value(self, key: bytes) -> bytes | None:
        """The stored record of ``key``, this batch's first."""
        return self._records.get(key) or self._get(b"h" + key)

    def _best_hash_at(self, height: int) -> bytes | None:
        if not self._checkpoint_height <= height <= self._tip[1]:
            return None
        return self._best.get(height) or self._get(best_key(height))

    def _store(self, key: bytes, prev: bytes, height: int, work: int, record: bytes) -> None:
        """Add a checked header's ``record``; it becomes the tip if it has the most work."""
        self._records[key] = record
        self._leaves.discard(prev)
        self._leaves.add(key)
        if work > self._tip[2]:
            self._move_tip(key, prev, height, work)

    def _move_tip(self, key: bytes, prev: bytes, height: int, work: int) -> None:
        old_hash, old_height, _ = self._tip
        if prev != old_hash:  # a reorg (or a jump along a branch): rewrite the index down to it
            walk_hash, walk_height = prev, height - 1
            while walk_height > old_height or self._best_hash_at(walk_height) != walk_hash:
                self._best[walk_height] = walk_hash
                value = self._value(walk_hash)
                assert value is not None  # every stored header's parent is stored
                walk_hash, walk_height = value[self.PARENT], walk_height - 1
        self._best[height] = key
        self._tip = (key, height, work)

    def writes(self) -> Mapping[bytes, bytes]:
        """Everything this batch adds, as one write batch."""
        items = {b"h" + h: value for h, value in self._records.items()}
        for height, key in self._best.items():
            items[best_key(height)] = key
        items[b"tip"] = self._tip[0]
        items[b"tips"] = b"".join(sorted(self._leaves))
        return items
