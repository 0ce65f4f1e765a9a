"""Bitcoin block headers: parsing, compact targets, proof of work, required work, time rules.

Everything mirrors Bitcoin Core: ``arith_uint256::SetCompact``/``GetCompact`` for nBits,
``CheckProofOfWork``, ``GetBlockProof`` for chain work, ``GetNextWorkRequired`` and
``CalculateNextWorkRequired`` for the retarget (4x clamp, powLimit cap, testnet's 20-minute
minimum-difficulty rule with its walk-back, regtest's ``fPowNoRetargeting``), the median time past
of the previous 11 blocks, and the 2-hour future limit (``MAX_FUTURE_BLOCK_TIME``). Rejections raise
:class:`~etm_bridge.errors.HeaderRejectedError` whose ``reason`` is Core's reject string.

Byte order: ``*_le`` values are internal (wire) order, as hashed; ``*_hex`` properties give
the RPC/display order (byte-reversed).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from etm_bridge.chain.codec import sha256d
from etm_bridge.chains.bitcoin.spv.params import BitcoinParams
from etm_bridge.errors import HeaderRejectedError, ValidationError

HEADER_SIZE = 80
MAX_FUTURE_BLOCK_TIME_S = 2 * 60 * 60
MEDIAN_TIME_SPAN = 11

_HEADER_STRUCT = struct.Struct("<i32s32sIII")
#: Bitcoin's double SHA-256 (internal byte order): the one definition, the chain codec's.
dsha256 = sha256d


@dataclass(frozen=True)
class BlockHeader:
    """A parsed 80-byte header. ``hash_le`` is computed from the bytes, not supplied."""

    version: int
    prev_hash_le: bytes
    merkle_root_le: bytes
    time: int
    bits: int
    nonce: int
    hash_le: bytes = field(compare=False)

    @classmethod
    def from_bytes(cls, raw: bytes) -> BlockHeader:
        if len(raw) != HEADER_SIZE:
            raise ValidationError(f"a block header is {HEADER_SIZE} bytes, got {len(raw)}")
        raw = bytes(raw)
        version, prev, merkle, time, bits, nonce = _HEADER_STRUCT.unpack(raw)
        return cls(version, prev, merkle, time, bits, nonce, dsha256(raw))

    @classmethod
    def from_hex(cls, text: str) -> BlockHeader:
        try:
            raw = bytes.fromhex(text.strip())
        except ValueError as exc:
            raise ValidationError(f"block header is not hex: {exc}") from None
        return cls.from_bytes(raw)

    def to_bytes(self) -> bytes:
        return _HEADER_STRUCT.pack(
            self.version, self.prev_hash_le, self.merkle_root_le, self.time, self.bits, self.nonce
        )

    @property
    def hash_hex(self) -> str:
        """The block hash in RPC/display order."""
        return self.hash_le[::-1].hex()

    @property
    def prev_hash_hex(self) -> str:
        return self.prev_hash_le[::-1].hex()

    @property
    def merkle_root_hex(self) -> str:
        return self.merkle_root_le[::-1].hex()


# --- compact targets (nBits) ------------------------------------------------------------------


def decode_compact(bits: int) -> tuple[int, bool, bool]:
    """Core's ``SetCompact``: returns ``(target, negative, overflow)``."""
    size = bits >> 24
    word = bits & 0x007FFFFF
    if size <= 3:
        word >>= 8 * (3 - size)  # Core shifts nWord itself, which the flags below then see
        target = word
    else:
        target = word << (8 * (size - 3))
    negative = word != 0 and (bits & 0x00800000) != 0
    overflow = word != 0 and (
        size > 34 or (word > 0xFF and size > 33) or (word > 0xFFFF and size > 32)
    )
    return target, negative, overflow


def encode_compact(target: int) -> int:
    """Core's ``GetCompact`` for a non-negative target."""
    if target < 0:
        raise ValidationError("a target cannot be negative")
    size = (target.bit_length() + 7) // 8
    compact = target << (8 * (3 - size)) if size <= 3 else target >> (8 * (size - 3))
    if compact & 0x00800000:
        compact >>= 8
        size += 1
    return compact | (size << 24)


@lru_cache(maxsize=4096)
def target_from_bits(bits: int, pow_limit: int) -> int:
    """The target that ``bits`` encodes; rejects what ``CheckProofOfWork`` rejects."""
    target, negative, overflow = decode_compact(bits)
    if negative or overflow or target == 0 or target > pow_limit:
        raise HeaderRejectedError(
            "bad-diffbits", f"nBits {bits:08x} is negative, zero, overflowing or above powLimit"
        )
    return target


@lru_cache(maxsize=4096)
def work_from_bits(bits: int) -> int:
    """Core's ``GetBlockProof``: expected hashes for a block at ``bits`` (0 if invalid)."""
    target, negative, overflow = decode_compact(bits)
    if negative or overflow or target == 0:
        return 0
    return (1 << 256) // (target + 1)


def check_proof_of_work(hash_le: bytes, bits: int, pow_limit: int) -> None:
    """Core's ``CheckProofOfWork``; raises ``high-hash`` when the hash exceeds the target."""
    try:
        target = target_from_bits(bits, pow_limit)
    except HeaderRejectedError:
        raise HeaderRejectedError("high-hash", f"nBits {bits:08x} is not a valid target") from None
    if int.from_bytes(hash_le, "little") > target:
        raise HeaderRejectedError(
            "high-hash", f"hash {hash_le[::-1].hex()} is above the target of nBits {bits:08x}"
        )


# --- required work ----------------------------------------------------------------------------


#: BIP94 (testnet4): the first block of a period may be at most this much older than its parent.
MAX_TIMEWARP_S = 600


def calculate_next_work_required(
    params: BitcoinParams,
    last_bits: int,
    last_time: int,
    first_time: int,
    first_bits: int | None = None,
) -> int:
    """Core's ``CalculateNextWorkRequired``: the nBits of the first block of a new period.

    With BIP94 (testnet4, ``params.enforce_bip94``) the old target is the period's *first*
    block's (``first_bits``), which cannot be a min-difficulty block, instead of the last one's."""
    if params.no_retargeting:
        return last_bits
    timespan = params.pow_target_timespan_s
    actual = min(max(last_time - first_time, timespan // 4), timespan * 4)
    base = first_bits if params.enforce_bip94 and first_bits is not None else last_bits
    target, _, _ = decode_compact(base)
    new_target = min(target * actual // timespan, params.pow_limit)
    return encode_compact(new_target)


def check_timewarp(params: BitcoinParams, height: int, time: int, parent_time: int) -> None:
    """BIP94's timewarp rule (Core's ``time-timewarp-attack``): on networks that enforce it, the
    first block of a difficulty period is not more than 600 s older than its parent."""
    interval = params.difficulty_adjustment_interval
    if params.enforce_bip94 and height % interval == 0 and time < parent_time - MAX_TIMEWARP_S:
        raise HeaderRejectedError(
            "time-timewarp-attack",
            f"time {time} of period start {height} is more than {MAX_TIMEWARP_S} s before its "
            f"parent's {parent_time}",
        )


def median_time_past(times: Sequence[int]) -> int:
    """Core's ``GetMedianTimePast`` over up to the last 11 timestamps."""
    ordered = sorted(times[-MEDIAN_TIME_SPAN:])
    return ordered[len(ordered) // 2]


def median_time_past_bound(known_times: Sequence[int], span: int) -> int | None:
    """The median time past when only some of the last ``span`` timestamps are known.

    ``span`` is how many blocks Core's median covers (``min(11, parent height + 1)``) and
    ``known_times`` the most recent of them that the relay has (fewer right after a checkpoint
    stored without its ancestors' times). With all known this is Core's exact median. With
    some missing it is the largest value the true median is certain to reach (the missing
    times taken as minus infinity), or None when no bound follows: a valid header is never
    rejected for lack of history, and one at or below the bound is invalid whatever the
    missing times were.
    """
    ordered = sorted(known_times[-span:])
    rank = span // 2 - (span - len(ordered))
    return ordered[rank] if rank >= 0 else None


def check_time(time: int, mtp: int | None, now: int) -> None:
    """``time-too-old`` unless ``time > mtp`` (skipped when ``mtp`` is None: unknown);
    ``time-too-new`` beyond ``now`` + 2 hours."""
    if mtp is not None and time <= mtp:
        raise HeaderRejectedError("time-too-old", f"time {time} <= median time past {mtp}")
    if time > now + MAX_FUTURE_BLOCK_TIME_S:
        raise HeaderRejectedError(
            "time-too-new", f"time {time} is more than 2 h after the reference time {now}"
        )


def check_version(params: BitcoinParams, version: int, height: int) -> None:
    """Core's ``bad-version``: BIP34/66/65 require version >= 2/3/4 from their heights."""
    minimum = 1
    if height >= params.bip34_height:
        minimum = 2
    if height >= params.bip66_height:
        minimum = 3
    if height >= params.bip65_height:
        minimum = 4
    if version < minimum:
        raise HeaderRejectedError(
            "bad-version", f"version {version:#010x} < {minimum} at height {height}"
        )
