"""Handshake block headers: the 236-byte layout, the proof-of-work hash and hsd's difficulty rule.

Everything follows hsd 8 (``lib/primitives/abstractblock.js``, ``lib/protocol/consensus.js``,
``lib/blockchain/chain.js``); the vectors in ``tests/unit/handshake/spv/vectors`` were made by
running hsd's own code. Layout (little-endian integers)::

    nonce u32 | time u64 | prevBlock 32 | treeRoot 32 | extraNonce 24 | reservedRoot 32
    | witnessRoot 32 | merkleRoot 32 | version u32 | bits u32 | mask 32

The block hash (the id in ``prevBlock``, shown as plain hex, never reversed) is the proof-of-work
hash: ``share XOR mask`` where ``share`` mixes BLAKE2b-512, SHA3-256 and BLAKE2b-256 over a
pre-header that commits to every field (:func:`pow_hash`). It meets the target when it is at most
the target read as a **big-endian** number. Compact bits are Bitcoin's Set/GetCompact.

Difficulty (:func:`next_bits`): hsd retargets every block from a 144-block window (the BCH 2017
DAA with Handshake's parameters): the median-of-three "suitable" blocks at both ends, work done
between them times 600 s over their time span clamped to [36, 576] x 600 s. Regtest never
retargets. Pure.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from etm_bridge.errors import HeaderRejectedError

HEADER_SIZE = 236
MEDIAN_TIMESPAN = 11
MAX_FUTURE_S = 2 * 60 * 60
#: hsd's per-block retarget window (``blocksPerDay`` = ``targetWindow`` = 144).
WINDOW = 144
#: Blocks needed behind a header to compute its bits: the window plus the median-of-three.
RETARGET_ANCESTORS = WINDOW + 3
_HEAD = struct.Struct("<IQ32s32s24s32s32s32sII32s")


@dataclass(frozen=True)
class HandshakeParams:
    """One network's proof-of-work parameters (hsd ``networks.js``)."""

    name: str
    pow_limit: int
    pow_limit_bits: int
    target_spacing_s: int = 600
    no_retargeting: bool = False
    target_reset: bool = False  # testnet: a block 20 min after its parent may use pow_limit


MAIN = HandshakeParams("main", 0x0000000000FFFF << 200, 0x1C00FFFF)
REGTEST = HandshakeParams("regtest", 0x7FFFFF << 232, 0x207FFFFF, no_retargeting=True)
#: Mainnet's rules with regtest's easy limit: synthetic chains that exercise the retarget.
EASY_MAIN = HandshakeParams("easy-main", 0x7FFFFF << 232, 0x207FFFFF)
NETWORKS = {"main": MAIN, "mainnet": MAIN, "regtest": REGTEST}


def params_for(network: str) -> HandshakeParams:
    from etm_bridge.errors import ConfigError

    try:
        return NETWORKS[network]
    except KeyError:
        raise ConfigError(f"unknown Handshake network {network!r}; known: main, regtest") from None


@dataclass(frozen=True)
class HandshakeHeader:
    """A decoded 236-byte header."""

    nonce: int
    time: int
    prev_block: bytes
    tree_root: bytes
    extra_nonce: bytes
    reserved_root: bytes
    witness_root: bytes
    merkle_root: bytes
    version: int
    bits: int
    mask: bytes

    @classmethod
    def from_bytes(cls, raw: bytes) -> HandshakeHeader:
        if len(raw) != HEADER_SIZE:
            raise HeaderRejectedError(
                "bad-header-length", f"a Handshake header is {HEADER_SIZE} bytes, got {len(raw)}"
            )
        return cls(*_HEAD.unpack(bytes(raw)))

    def to_bytes(self) -> bytes:
        return _HEAD.pack(
            self.nonce, self.time, self.prev_block, self.tree_root, self.extra_nonce,
            self.reserved_root, self.witness_root, self.merkle_root, self.version, self.bits,
            self.mask,
        )  # fmt: skip


def _b2b(data: bytes, size: int = 32) -> bytes:
    return hashlib.blake2b(data, digest_size=size).digest()


def _padding(size: int, prev: bytes, tree: bytes) -> bytes:
    return bytes(prev[i % 32] ^ tree[i % 32] for i in range(size))


def pow_hash(raw: bytes) -> bytes:
    """The block hash of a 236-byte header (hsd ``AbstractBlock.powHash``)."""
    if len(raw) != HEADER_SIZE:
        raise HeaderRejectedError("bad-header-length", f"{len(raw)} bytes, not {HEADER_SIZE}")
    prev, tree, mask = raw[12:44], raw[44:76], raw[204:236]
    sub_hash = _b2b(raw[76:204])  # extraNonce .. bits: the sub-header
    commit = _b2b(sub_hash + _b2b(prev + mask))
    pre = raw[0:12] + _padding(20, prev, tree) + prev + tree + commit
    left = _b2b(pre, 64)
    right = hashlib.sha3_256(pre + _padding(8, prev, tree)).digest()
    share = _b2b(left + _padding(32, prev, tree) + right)
    return bytes(a ^ b for a, b in zip(share, mask, strict=True))


def target_from_bits(bits: int) -> int:
    """hsd ``fromCompact``, refusing what ``verifyPOW`` refuses (negative, zero, > 256 bits)."""
    exponent, mantissa = bits >> 24, bits & 0x7FFFFF
    target = mantissa >> 8 * (3 - exponent) if exponent <= 3 else mantissa << 8 * (exponent - 3)
    if target == 0 or bits & 0x800000 or target.bit_length() > 256:
        raise HeaderRejectedError("high-hash", f"bits {bits:08x} is not a valid target")
    return target


def bits_from_target(target: int) -> int:
    """hsd ``toCompact`` for a positive target."""
    if target <= 0:
        return 0
    exponent = (target.bit_length() + 7) // 8
    mantissa = target << 8 * (3 - exponent) if exponent <= 3 else target >> 8 * (exponent - 3)
    if mantissa & 0x800000:
        mantissa >>= 8
        exponent += 1
    return (exponent << 24) | mantissa


def work_from_bits(bits: int) -> int:
    """hsd ``ChainEntry.getProof``: 2^256 // (target + 1)."""
    return (1 << 256) // (target_from_bits(bits) + 1)


def check_proof_of_work(hash_: bytes, bits: int) -> None:
    if int.from_bytes(hash_, "big") > target_from_bits(bits):
        raise HeaderRejectedError("high-hash", f"hash {hash_.hex()} is above the target {bits:08x}")


@dataclass(frozen=True)
class Ancestor:
    """What the bits rule and the median time need of a block: height, time, chain work."""

    height: int
    time: int
    chain_work: int


def median_time(times: Sequence[int]) -> int:
    """hsd ``getMedianTime`` of the parent and up to 10 of its ancestors."""
    ordered = sorted(times)
    return ordered[len(ordered) // 2]


def _suitable(x: Ancestor, y: Ancestor, z: Ancestor) -> Ancestor:
    """hsd ``getSuitableBlock``: x = b-2, y = b-1, z = b, its exact three swaps."""
    if x.time > z.time:
        x, z = z, x
    if x.time > y.time:
        x, y = y, x
    if y.time > z.time:
        y, z = z, y
    return y


def retarget(params: HandshakeParams, first: Ancestor, last: Ancestor) -> int:
    """hsd ``Chain.retarget``: the bits from the work done between two suitable blocks."""
    spacing = params.target_spacing_s
    span = min(max(last.time - first.time, 36 * spacing), 576 * spacing)
    work = (last.chain_work - first.chain_work) * spacing // span
    if work == 0:
        return params.pow_limit_bits
    target = (1 << 256) // work - 1
    if target > params.pow_limit:
        return params.pow_limit_bits
    return bits_from_target(target)


def next_bits(params: HandshakeParams, time: int, chain: Sequence[Ancestor]) -> int:
    """hsd ``getTarget(time, prev)``: ``chain`` ends with the parent and holds its ancestors
    (oldest first), at least :data:`RETARGET_ANCESTORS` of them once the parent is at height
    146 or more on a retargeting network."""
    prev = chain[-1]
    if params.no_retargeting:
        return params.pow_limit_bits
    if params.target_reset and time > chain[-1].time + 2 * params.target_spacing_s:
        return params.pow_limit_bits
    if prev.height < WINDOW + 2:
        return params.pow_limit_bits
    if len(chain) < RETARGET_ANCESTORS:
        raise HeaderRejectedError(
            "retarget-before-checkpoint",
            f"the bits at height {prev.height + 1} need {RETARGET_ANCESTORS} ancestors, the "
            f"relay holds {len(chain)} (start the relay {RETARGET_ANCESTORS} headers earlier)",
        )
    last = _suitable(chain[-3], chain[-2], chain[-1])
    first = _suitable(chain[-147], chain[-146], chain[-145])
    return retarget(params, first, last)
