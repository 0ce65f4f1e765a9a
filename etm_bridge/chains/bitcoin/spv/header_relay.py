"""A Bitcoin header-tree relay: every header stored with its chain work, best chain = most work.

The relay starts from a trusted :class:`Checkpoint` (height, header, chain work) and accepts
batches of raw 80-byte headers from anyone. Each header must link to a stored header and pass
every rule of :mod:`.bitcoin_headers` (PoW, required nBits, median time past, future limit,
version); a batch is validated completely and then written with one
:meth:`~.kvstore.KeyValueStore.write_batch` (all or nothing). Forks are kept; the tip moves
to whichever header has the most cumulative work (a reorg rewrites the best-chain index).

Store layout (keys under the store given, which may be a :class:`~.kvstore.PrefixedStore`):
``h<hash_le>`` -> header(80) | height u32 LE | chain work (32 B BE) | walk-back bits u32 LE;
``b<height u32 BE>`` -> hash_le of the best chain at that height; ``tip`` -> hash_le; ``tips``
-> concatenated hash_le of every leaf (fork tips); ``meta`` -> checkpoint height | hash |
ancestor times.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from etm_bridge.chains.bitcoin.spv import headers as block_headers
from etm_bridge.chains.bitcoin.spv.header_batch import (
    HeaderBatch,
    Record,
    decode_record,
    encode_record,
)
from etm_bridge.chains.bitcoin.spv.params import BitcoinParams
from etm_bridge.errors import ConfigError, HeaderRejectedError, ValidationError
from etm_bridge.spv.kvstore import KeyValueStore

_META_STRUCT = struct.Struct("<I32sB")


@dataclass(frozen=True)
class Checkpoint:
    """The trusted starting point of a relay.

    ``ancestor_times`` are the timestamps of up to 10 blocks before the checkpoint, oldest
    first, trusted like the checkpoint itself; they make the median-time-past rule exact for the
    first headers after it. Without them those headers are checked against the bound that the
    known times imply (:func:`~.bitcoin_headers.median_time_past_bound`): never stricter than
    Core, so a real chain is never rejected for the history the relay lacks.
    On networks that retarget the height must start a difficulty period (a multiple of 2016),
    so that every later retarget and testnet walk-back finds its blocks in the relay.
    """

    height: int
    header: bytes
    chain_work: int
    ancestor_times: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.header) != block_headers.HEADER_SIZE:
            raise ValidationError(f"checkpoint header must be 80 bytes, got {len(self.header)}")
        if not 0 <= self.height < 2**32 or self.chain_work <= 0:
            raise ValidationError("checkpoint height must be a uint32 and chain work positive")
        if len(self.ancestor_times) >= block_headers.MEDIAN_TIME_SPAN:
            raise ValidationError("at most 10 checkpoint ancestor times are used")

    @classmethod
    def genesis(cls, params: BitcoinParams) -> Checkpoint:
        header = params.genesis_header
        bits = block_headers.BlockHeader.from_bytes(header).bits
        return cls(0, header, block_headers.work_from_bits(bits))


@dataclass(frozen=True)
class StoredHeader:
    """A header as the relay stores it."""

    hash_le: bytes
    raw: bytes
    height: int
    chain_work: int

    @property
    def header(self) -> block_headers.BlockHeader:
        return block_headers.BlockHeader.from_bytes(self.raw)

    @property
    def hash_hex(self) -> str:
        return self.hash_le[::-1].hex()


@dataclass(frozen=True)
class BatchResult:
    """What a header batch did: how many headers were stored and where the tip is now."""

    accepted: int
    tip: StoredHeader
    old_tip: StoredHeader
    reorg: bool  # the new tip does not descend from the old tip


class BitcoinRelay:
    """The header tree of one Bitcoin network over a :class:`KeyValueStore` (mutable)."""

    def __init__(self, store: KeyValueStore, params: BitcoinParams) -> None:
        meta = store.get(b"meta")
        if meta is None:
            raise ConfigError(f"the {params.name} relay is not initialised (no checkpoint)")
        height, hash_le, count = _META_STRUCT.unpack_from(meta)
        times = struct.unpack_from(f"<{count}I", meta, _META_STRUCT.size)
        self.store = store
        self.params = params
        self.checkpoint_height = height
        self.checkpoint_hash_le = hash_le
        self.checkpoint_ancestor_times: tuple[int, ...] = tuple(times)

    @classmethod
    def initialise(
        cls,
        store: KeyValueStore,
        params: BitcoinParams,
        checkpoint: Checkpoint,
        *,
        mid_period: bool = False,
    ) -> BitcoinRelay:
        """Write the checkpoint into an empty store (idempotent for the same checkpoint).

        ``mid_period=True`` (offline checks of a short header run) accepts a checkpoint that
        does not start a difficulty period: headers up to the next retarget validate, the
        retarget itself is rejected as ``retarget-before-checkpoint`` (its period's first
        block is unknown). A chain's relay must start at a period start (the default)."""
        hash_le = block_headers.dsha256(checkpoint.header)
        existing = store.get(b"meta")
        if existing is not None:
            relay = cls(store, params)
            if relay.checkpoint_hash_le != hash_le:
                raise ConfigError(f"the {params.name} relay already has another checkpoint")
            return relay
        interval = params.difficulty_adjustment_interval
        header = block_headers.BlockHeader.from_bytes(checkpoint.header)
        if not params.no_retargeting and checkpoint.height % interval:
            if not mid_period:
                raise ConfigError(
                    f"a {params.name} checkpoint height must be a multiple of {interval} "
                    f"(a difficulty period start), got {checkpoint.height}"
                )
            if params.allow_min_difficulty_blocks and header.bits == block_headers.encode_compact(
                params.pow_limit
            ):
                raise ConfigError(
                    f"a {params.name} checkpoint inside a period must not be a "
                    "minimum-difficulty block (the walk-back to its period's bits is unknown)"
                )
        block_headers.check_proof_of_work(header.hash_le, header.bits, params.pow_limit)
        times = checkpoint.ancestor_times
        meta = _META_STRUCT.pack(checkpoint.height, hash_le, len(times))
        meta += struct.pack(f"<{len(times)}I", *times)
        record = Record(checkpoint.header, checkpoint.height, checkpoint.chain_work, header.bits)
        store.write_batch(
            {
                b"meta": meta,
                b"h" + hash_le: encode_record(record),
                b"b" + checkpoint.height.to_bytes(4, "big"): hash_le,
                b"tip": hash_le,
                b"tips": hash_le,
            }
        )
        return cls(store, params)

    # --- queries ------------------------------------------------------------------------------

    def get(self, hash_le: bytes) -> StoredHeader | None:
        """The stored header with this hash (any branch), or None."""
        value = self.store.get(b"h" + hash_le)
        if value is None:
            return None
        record = decode_record(value)
        return StoredHeader(hash_le, record.raw, record.height, record.chain_work)

    def tip(self) -> StoredHeader:
        tip_hash = self.store.get(b"tip")
        stored = self.get(tip_hash) if tip_hash is not None else None
        if stored is None:
            raise ConfigError(f"the {self.params.name} relay store has no tip")
        return stored

    def best_hash_at(self, height: int) -> bytes | None:
        """The best chain's hash at ``height`` (None above the tip or below the checkpoint)."""
        if not self.checkpoint_height <= height <= self.tip().height:
            return None
        return self.store.get(b"b" + height.to_bytes(4, "big"))

    def is_in_best_chain(self, hash_le: bytes) -> bool:
        stored = self.get(hash_le)
        return stored is not None and self.best_hash_at(stored.height) == hash_le

    def confirmations(self, hash_le: bytes) -> int:
        """1 for the tip, 2 for its parent, ...; 0 when unknown or not in the best chain."""
        stored = self.get(hash_le)
        if stored is None or self.best_hash_at(stored.height) != hash_le:
            return 0
        return self.tip().height - stored.height + 1

    def chain_tips(self) -> list[StoredHeader]:
        """Every leaf of the header tree (the best tip and fork tips), most work first."""
        packed = self.store.get(b"tips") or b""
        leaves = [self.get(packed[i : i + 32]) for i in range(0, len(packed), 32)]
        return sorted((s for s in leaves if s), key=lambda s: (-s.chain_work, s.height))

    # --- relaying -----------------------------------------------------------------------------

    def validate_headers(self, headers: Sequence[bytes], now: int) -> Mapping[bytes, bytes]:
        """Check a batch without storing it; returns the writes :meth:`submit_headers` makes.

        ``now`` is the reference time for ``time-too-new`` (the ETM block time). Raises
        :class:`HeaderRejectedError` naming the rule and the header's index.
        """
        old_tip = self.tip()
        batch = HeaderBatch(self, old_tip.hash_le, old_tip.height, old_tip.chain_work)
        for index, raw in enumerate(headers):
            try:
                batch.add(raw, now)
            except HeaderRejectedError as exc:
                raise HeaderRejectedError(exc.reason, f"header {index}: {exc}") from None
        return batch.writes()

    def submit_headers(self, headers: Sequence[bytes], now: int) -> BatchResult:
        """Validate ``headers`` (in order, each linking to a stored or earlier one) and store
        them with one ``write_batch``; nothing is stored when any header is rejected."""
        old_tip = self.tip()
        self.store.write_batch(self.validate_headers(headers, now))
        new_tip = self.tip()
        reorg = self.best_hash_at(old_tip.height) != old_tip.hash_le
        return BatchResult(len(headers), new_tip, old_tip, reorg)
