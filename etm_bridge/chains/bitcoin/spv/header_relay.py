"""A Bitcoin header-tree relay: every header stored with its chain work, best chain = most work.

The relay starts from a trusted :class:`Checkpoint` (height, header, chain work) and accepts
batches of raw 80-byte headers from anyone. Each header must link to a stored header and pass
every rule of :mod:`.headers` (PoW, required nBits, median time past, future limit,
version); a batch is validated completely and then written with one
:meth:`~.kvstore.KeyValueStore.write_batch` (all or nothing). Forks are kept; the tip moves
to whichever header has the most cumulative work (a reorg rewrites the best-chain index). The
tree itself (queries, batches, proof depth) is the chain-neutral
:class:`~etm_bridge.spv.header_tree.HeaderTree`; this module holds Bitcoin's checkpoint and
record.

Store layout (keys under the store given, which may be a :class:`~.kvstore.PrefixedStore`):
``h<hash_le>`` -> header(80) | height u32 LE | chain work (32 B BE) | walk-back bits u32 LE;
``b<height u32 BE>`` -> hash_le of the best chain at that height; ``tip`` -> hash_le; ``tips``
-> concatenated hash_le of every leaf (fork tips); ``meta`` -> checkpoint height | hash |
ancestor times.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from etm_bridge.chains.bitcoin.spv import headers as block_headers
from etm_bridge.chains.bitcoin.spv.header_batch import (
    HeaderBatch,
    Record,
    decode_record,
    encode_record,
)
from etm_bridge.chains.bitcoin.spv.params import BitcoinParams
from etm_bridge.errors import ConfigError, ValidationError
from etm_bridge.spv.header_tree import HeaderTree
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

    @property
    def key(self) -> bytes:
        return self.hash_le


class BitcoinRelay(HeaderTree[StoredHeader]):
    """The header tree of one Bitcoin network over a :class:`KeyValueStore` (mutable)."""

    def __init__(self, store: KeyValueStore, params: BitcoinParams) -> None:
        meta = store.get(b"meta")
        if meta is None:
            raise ConfigError(f"the {params.name} relay is not initialised (no checkpoint)")
        height, hash_le, count = _META_STRUCT.unpack_from(meta)
        times = struct.unpack_from(f"<{count}I", meta, _META_STRUCT.size)
        self.store = store
        self.params = params
        self.network = self.label = params.name
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

    def new_batch(self) -> HeaderBatch:
        return HeaderBatch(self)
