"""Validation of one batch of Bitcoin headers for :class:`~.relay.BitcoinRelay` (the hot loop).

A :class:`HeaderBatch` reads stored headers through the relay's store and keeps everything the
batch adds in an overlay (records, best-chain index, tip, leaves) until :meth:`writes` hands the
overlay to one atomic ``write_batch`` (the chain-neutral overlay is
:class:`~etm_bridge.spv.header_tree.TreeOverlay`; this module adds Bitcoin's rules). Headers
that extend the previous one in the batch (the usual case) are checked from a rolling context
(last 11 timestamps, bits, the testnet walk-back bits) without touching the store; any other
parent rebuilds that context by walking the stored tree, exactly as Core walks ``pprev``.
"""

from __future__ import annotations

import hashlib
import struct
from typing import TYPE_CHECKING, NamedTuple

from etm_bridge.chains.bitcoin.spv import headers
from etm_bridge.errors import HeaderRejectedError
from etm_bridge.spv.header_tree import TreeOverlay

if TYPE_CHECKING:
    from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay

_UNPACK = struct.Struct("<i32s32sIII").unpack
_HEIGHT = struct.Struct("<I")
_SHA256 = hashlib.sha256


class Record(NamedTuple):
    """A stored header: raw bytes, height, cumulative chain work, and the bits Core's testnet
    walk-back returns for it (its own bits if it starts a period, is not a min-difficulty block
    or is the checkpoint, else its parent's), kept so no batch has to walk up to 2015 headers."""

    raw: bytes
    height: int
    chain_work: int
    walkback_bits: int


def encode_record(record: Record) -> bytes:
    return (
        record.raw
        + _HEIGHT.pack(record.height)
        + record.chain_work.to_bytes(32, "big")
        + _HEIGHT.pack(record.walkback_bits)
    )


def decode_record(value: bytes) -> Record:
    height, walkback = _HEIGHT.unpack_from(value, 80)[0], _HEIGHT.unpack_from(value, 116)[0]
    return Record(value[:80], height, int.from_bytes(value[84:116], "big"), walkback)


class _Context:
    """What validating a child of header ``hash_le`` needs (mutated along a linear batch)."""

    __slots__ = ("bits", "hash_le", "height", "time", "times", "walkback_bits", "work")

    def __init__(self, hash_le: bytes, record: Record, times: list[int], walkback_bits: int):
        _, _, _, self.time, self.bits, _ = _UNPACK(record.raw)
        self.hash_le = hash_le
        self.height = record.height
        self.work = record.chain_work
        self.times = times
        self.walkback_bits = walkback_bits


class HeaderBatch(TreeOverlay):
    """The overlay of one header batch (mutable, single use)."""

    PARENT = slice(4, 36)

    def __init__(self, relay: BitcoinRelay):
        super().__init__(relay)
        params = relay.params
        self._relay = relay
        self._params = params
        self._interval = params.difficulty_adjustment_interval
        self._limit_bits = headers.encode_compact(params.pow_limit)
        self._ctx: _Context | None = None
        self._targets: dict[int, int] = {}

    # --- overlay reads ------------------------------------------------------------------------

    def _record(self, hash_le: bytes) -> Record | None:
        value = self._value(hash_le)
        return decode_record(value) if value is not None else None

    def _ancestor(self, hash_le: bytes, height: int, target_height: int) -> bytes:
        while height > target_height:
            if self._best_hash_at(height) == hash_le:
                found = self._best_hash_at(target_height)
                assert found is not None  # the best chain is complete down to the checkpoint
                return found
            record = self._record(hash_le)
            assert record is not None  # every stored header's parent is stored
            hash_le, height = record.raw[4:36], height - 1
        return hash_le

    def _context(self, parent_hash: bytes) -> _Context:
        record = self._record(parent_hash)
        if record is None:
            raise HeaderRejectedError(
                "bad-prevblk", f"previous block {parent_hash[::-1].hex()} is not in the relay"
            )
        checkpoint = self._relay.checkpoint_hash_le
        times: list[int] = []
        hash_le: bytes = parent_hash
        current: Record | None = record
        while current is not None and len(times) < headers.MEDIAN_TIME_SPAN:
            _, prev, _, time, _, _ = _UNPACK(current.raw)
            times.append(time)
            if hash_le == checkpoint:
                times.extend(reversed(self._relay.checkpoint_ancestor_times))
                break
            hash_le, current = prev, self._record(prev)
        times = times[: headers.MEDIAN_TIME_SPAN][::-1]
        return _Context(parent_hash, record, times, record.walkback_bits)

    # --- the rules ----------------------------------------------------------------------------

    def _required_bits(self, ctx: _Context, height: int, time: int) -> int:
        params = self._params
        if height % self._interval:
            if not params.allow_min_difficulty_blocks:
                return ctx.bits
            if time > ctx.time + 2 * params.pow_target_spacing_s:
                return self._limit_bits
            return ctx.walkback_bits
        if params.no_retargeting:
            return ctx.bits
        if height - self._interval < self._relay.checkpoint_height:
            raise HeaderRejectedError(
                "retarget-before-checkpoint",
                f"the retarget at height {height} needs the header at height "
                f"{height - self._interval}, below the checkpoint at "
                f"{self._relay.checkpoint_height}; start at a multiple of {self._interval}",
            )
        first = self._record(self._ancestor(ctx.hash_le, ctx.height, height - self._interval))
        assert first is not None
        _, _, _, first_time, first_bits, _ = _UNPACK(first.raw)
        return headers.calculate_next_work_required(
            params, ctx.bits, ctx.time, first_time, first_bits
        )

    def _target(self, bits: int) -> int:
        target = self._targets.get(bits)
        if target is None:
            try:
                target = headers.target_from_bits(bits, self._params.pow_limit)
            except HeaderRejectedError:
                raise HeaderRejectedError("high-hash", f"nBits {bits:08x} is invalid") from None
            self._targets[bits] = target
        return target

    def add(self, raw: bytes, now: int) -> None:
        """Validate one header against the store plus this batch and add it to the overlay."""
        if len(raw) != headers.HEADER_SIZE:
            raise HeaderRejectedError("bad-header-length", f"{len(raw)} bytes, not 80")
        raw = bytes(raw)
        hash_le = _SHA256(_SHA256(raw).digest()).digest()
        version, prev, _, time, bits, _ = _UNPACK(raw)
        # A stored header's parent is stored, so a child of a header new in this batch cannot
        # be stored yet: only headers whose parent is not in the overlay need the store lookup.
        if hash_le in self._records or (
            prev not in self._records and self._get(b"h" + hash_le) is not None
        ):
            raise HeaderRejectedError("duplicate", f"block {hash_le[::-1].hex()} is already stored")
        if int.from_bytes(hash_le, "little") > self._target(bits):
            raise HeaderRejectedError(
                "high-hash", f"hash {hash_le[::-1].hex()} is above the target of {bits:08x}"
            )
        ctx = self._ctx
        if ctx is None or ctx.hash_le != prev:
            ctx = self._context(prev)
        height = ctx.height + 1
        required = self._required_bits(ctx, height, time)
        if bits != required:
            raise HeaderRejectedError(
                "bad-diffbits", f"nBits {bits:08x} at height {height}, required {required:08x}"
            )
        times = ctx.times
        span = min(headers.MEDIAN_TIME_SPAN, height)  # the parent and its ancestors, up to 11
        if len(times) >= span:  # (more only if a low checkpoint was given ancestor times)
            mtp: int | None = sorted(times)[len(times) // 2]
        else:  # right after a checkpoint stored without (all) its ancestors' times
            mtp = headers.median_time_past_bound(times, span)
        headers.check_time(time, mtp, now)
        headers.check_timewarp(self._params, height, time, ctx.time)
        if version < 4:
            headers.check_version(self._params, version, height)
        work = ctx.work + headers.work_from_bits(bits)
        if bits == self._limit_bits and height % self._interval:
            walkback = ctx.walkback_bits
        else:
            walkback = bits
        record = raw + _HEIGHT.pack(height) + work.to_bytes(32, "big") + _HEIGHT.pack(walkback)
        self._store(hash_le, prev, height, work, record)
        self._advance(ctx, hash_le, height, time, bits, work, walkback)

    def _advance(
        self, ctx: _Context, hash_le: bytes, height: int, time: int, bits: int, work: int,
        walkback: int,
    ) -> None:  # fmt: skip
        times = ctx.times  # a fresh context from _context() is not shared either
        times.append(time)
        if len(times) > headers.MEDIAN_TIME_SPAN:
            del times[0]
        ctx.hash_le, ctx.height, ctx.time, ctx.bits, ctx.work = hash_le, height, time, bits, work
        ctx.times, ctx.walkback_bits = times, walkback
        self._ctx = ctx
