"""One batch of Handshake headers for :class:`~.header_relay.HandshakeRelay` (the rules' loop).

A :class:`HeaderBatch` reads stored headers through the relay's store and keeps what the batch
adds in an overlay (records, best-chain index, tip, leaves) until :meth:`writes` (the
chain-neutral :class:`~etm_bridge.spv.header_tree.TreeOverlay`; this module adds hsd's rules).
The history a header's rules need (the parent and up to 146 ancestors: times, heights, chain
work) is rolled along a linear batch and rebuilt by walking parent links for any other parent.
Pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etm_bridge.errors import HeaderRejectedError
from etm_bridge.spv.header_tree import TreeOverlay

from . import headers

if TYPE_CHECKING:
    from .header_relay import HandshakeRelay, StoredHeader


class HeaderBatch(TreeOverlay):
    """The overlay of one header batch (mutable, single use)."""

    PARENT = slice(12, 44)

    def __init__(self, relay: HandshakeRelay) -> None:
        from .header_relay import _decode

        super().__init__(relay)
        self._decode = _decode
        self._relay = relay
        self._params = relay.params
        self._last: tuple[bytes, list[headers.Ancestor]] | None = None

    def _stored(self, hash_: bytes) -> StoredHeader | None:
        value = self._value(hash_)
        return None if value is None else self._decode(hash_, value)

    def _history(self, parent: bytes) -> list[headers.Ancestor]:
        """The parent and up to 146 of its ancestors, oldest first (the checkpoint run's first
        header ends the walk)."""
        if self._last is not None and self._last[0] == parent:
            return self._last[1]
        stored = self._stored(parent)
        if stored is None:
            raise HeaderRejectedError("bad-prevblk", f"previous block {parent.hex()} is not known")
        chain: list[headers.Ancestor] = []
        while stored is not None and len(chain) < headers.RETARGET_ANCESTORS:
            chain.append(headers.Ancestor(stored.height, stored.header.time, stored.chain_work))
            if stored.height <= self._relay.checkpoint_height:
                break
            stored = self._stored(stored.raw[12:44])
        return chain[::-1]

    def add(self, raw: bytes, now: int) -> None:
        """Validate one header against the store plus this batch and add it to the overlay."""
        from .header_relay import decode_header

        header = decode_header(bytes(raw))
        raw = bytes(raw)
        hash_ = headers.pow_hash(raw)
        if hash_ in self._records or self._get(b"h" + hash_) is not None:
            raise HeaderRejectedError("duplicate", f"block {hash_.hex()} is already stored")
        headers.check_proof_of_work(hash_, header.bits)
        chain = self._history(header.prev_block)
        parent = chain[-1]
        height = parent.height + 1
        required = headers.next_bits(self._params, header.time, chain)
        if header.bits != required:
            raise HeaderRejectedError(
                "bad-diffbits",
                f"bits {header.bits:08x} at height {height}, required {required:08x}",
            )
        mtp = headers.median_time([a.time for a in chain[-headers.MEDIAN_TIMESPAN :]])
        if header.time <= mtp:
            raise HeaderRejectedError(
                "time-too-old", f"time {header.time} is not above the median time past {mtp}"
            )
        if header.time > now + headers.MAX_FUTURE_S:
            raise HeaderRejectedError(
                "time-too-new", f"time {header.time} is more than 2 h after {now}"
            )
        work = parent.chain_work + headers.work_from_bits(header.bits)
        record = raw + height.to_bytes(4, "little") + work.to_bytes(32, "big")
        self._store(hash_, header.prev_block, height, work, record)
        rolled = [*chain, headers.Ancestor(height, header.time, work)][
            -headers.RETARGET_ANCESTORS :
        ]
        self._last = (hash_, rolled)
