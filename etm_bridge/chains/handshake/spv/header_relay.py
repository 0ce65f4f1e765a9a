"""A Handshake header-tree relay: every header stored with its chain work, best chain = most work.

Starts from a trusted :class:`Checkpoint`: a contiguous run of headers (oldest first), because
hsd's per-block difficulty rule needs the 147 blocks behind every header (their times and chain
work) and the median time needs 11. Anyone then submits batches of raw 236-byte headers; each
must link to a stored header and pass hsd's header rules (``chain.js:verify``), in its order:

``bad-header-length`` (236 bytes; a time of 2^53 or more is refused at decode as hsd does),
``duplicate``, ``high-hash`` (valid compact bits and the PoW hash, big-endian, at most the
target), ``bad-prevblk``, ``bad-diffbits`` (:func:`.headers.next_bits`),
``time-too-old`` (above the median of the parent and its 10 ancestors), ``time-too-new`` (at most
"now" + 2 h, "now" being the ETM block time). A batch is validated completely, then written with
one ``write_batch``. Forks are kept; the tip moves to the header with the most cumulative work
(first seen wins a tie) and a reorg rewrites the best-chain index down to the fork point: the
tree itself is the chain-neutral :class:`~etm_bridge.spv.header_tree.HeaderTree`.

Store layout: ``h<hash>`` -> header(236) | height u32 LE | chain work 32 B BE; ``b<height u32
BE>`` -> best-chain hash; ``tip``; ``tips`` (every leaf); ``meta`` -> checkpoint height u32 LE |
the run's first hash. Pure.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from etm_bridge.errors import ConfigError, HeaderRejectedError, ValidationError
from etm_bridge.spv.header_tree import HeaderTree, TreeOverlay
from etm_bridge.spv.kvstore import KeyValueStore

from . import headers as block_headers

_U32 = struct.Struct("<I")
MAX_TIME = 1 << 53


def decode_header(raw: bytes) -> block_headers.HandshakeHeader:
    """Strict decode of one relayed header (``bad-header-length`` / ``bad-header-time``)."""
    header = block_headers.HandshakeHeader.from_bytes(raw)
    if header.time >= MAX_TIME:
        raise HeaderRejectedError("bad-header-time", f"time {header.time} is 2^53 or more")
    return header


@dataclass(frozen=True)
class Checkpoint:
    """The trusted start: ``headers`` (a linked run, oldest first) from ``height``, and the
    chain work up to and including the first of them (any positive base: the relay only compares
    branches that descend from the checkpoint, and the retarget uses differences).

    At genesis (``height`` 0) one header is enough, since hsd computes the first blocks' rules
    from what exists. Above it the run must hold the history the rules need: 147 headers on a
    retargeting network, 11 on regtest."""

    height: int
    headers: tuple[bytes, ...]
    chain_work: int

    def __post_init__(self) -> None:
        if not self.headers or any(len(h) != block_headers.HEADER_SIZE for h in self.headers):
            size = block_headers.HEADER_SIZE
            raise ValidationError(f"a checkpoint is a run of {size}-byte headers")
        if not 0 <= self.height < 2**32 or self.chain_work <= 0:
            raise ValidationError("checkpoint height must be a uint32 and chain work positive")
        for parent, child in zip(self.headers, self.headers[1:], strict=False):
            if child[12:44] != block_headers.pow_hash(parent):
                raise ValidationError("the checkpoint's headers do not link")

    @classmethod
    def genesis(cls, header: bytes) -> Checkpoint:
        return cls(0, (header,), block_headers.work_from_bits(decode_header(header).bits))

    @property
    def tip_height(self) -> int:
        return self.height + len(self.headers) - 1


@dataclass(frozen=True)
class StoredHeader:
    hash: bytes
    raw: bytes
    height: int
    chain_work: int

    @property
    def header(self) -> block_headers.HandshakeHeader:
        return block_headers.HandshakeHeader.from_bytes(self.raw)

    @property
    def hash_hex(self) -> str:
        return self.hash.hex()

    @property
    def key(self) -> bytes:
        return self.hash


def _record(raw: bytes, height: int, work: int) -> bytes:
    return raw + _U32.pack(height) + work.to_bytes(32, "big")


def _decode(hash_: bytes, value: bytes) -> StoredHeader:
    raw = value[: block_headers.HEADER_SIZE]
    height = _U32.unpack_from(value, block_headers.HEADER_SIZE)[0]
    return StoredHeader(
        hash_, raw, height, int.from_bytes(value[block_headers.HEADER_SIZE + 4 :], "big")
    )


class HandshakeRelay(HeaderTree[StoredHeader]):
    """The header tree of one Handshake network over a :class:`KeyValueStore` (mutable)."""

    def __init__(self, store: KeyValueStore, params: block_headers.HandshakeParams) -> None:
        meta = store.get(b"meta")
        if meta is None:
            raise ConfigError(f"the Handshake {params.name} relay is not initialised")
        self.store, self.params = store, params
        self.network, self.label = params.name, f"Handshake {params.name}"
        self.checkpoint_height = _U32.unpack_from(meta, 0)[0]
        self.checkpoint_hash = meta[4:36]

    @classmethod
    def initialise(
        cls, store: KeyValueStore, params: block_headers.HandshakeParams, checkpoint: Checkpoint
    ) -> HandshakeRelay:
        """Write the checkpoint run into an empty store (idempotent for the same one)."""
        first = block_headers.pow_hash(checkpoint.headers[0])
        if store.get(b"meta") is not None:
            relay = cls(store, params)
            if relay.checkpoint_hash != first:
                raise ConfigError(f"the Handshake {params.name} relay has another checkpoint")
            return relay
        need = 11 if params.no_retargeting else block_headers.RETARGET_ANCESTORS
        if checkpoint.height and len(checkpoint.headers) < need:
            raise ConfigError(
                f"a Handshake {params.name} checkpoint above genesis needs a run of {need} "
                f"headers (the difficulty and median-time rules), got {len(checkpoint.headers)}"
            )
        writes: dict[bytes, bytes] = {}
        work = checkpoint.chain_work
        hash_ = first
        for offset, raw in enumerate(checkpoint.headers):
            header = decode_header(raw)
            hash_ = block_headers.pow_hash(raw)
            height = checkpoint.height + offset
            if height:  # hsd skips the genesis block's PoW (most genesis hashes miss it)
                block_headers.check_proof_of_work(hash_, header.bits)
            if offset:
                work += block_headers.work_from_bits(header.bits)
            writes[b"h" + hash_] = _record(raw, height, work)
            writes[b"b" + height.to_bytes(4, "big")] = hash_
        writes[b"meta"] = _U32.pack(checkpoint.height) + first
        writes[b"tip"] = hash_
        writes[b"tips"] = hash_
        store.write_batch(writes)
        return cls(store, params)

    # --- queries ------------------------------------------------------------------------------

    def get(self, hash_: bytes) -> StoredHeader | None:
        value = self.store.get(b"h" + hash_)
        return None if value is None else _decode(hash_, value)

    def new_batch(self) -> TreeOverlay:
        from .header_batch import HeaderBatch

        return HeaderBatch(self)
