"""Sync: a node that is behind fetches blocks in batches from several peers and applies each one.

Every :data:`TICK_S` the syncer compares our height with what handshaken peers said (hello,
status, blocks they sent). When a peer is higher it requests :data:`BATCH` blocks per
``get_blocks``, spreading consecutive ranges over every peer that is high enough (up to
:data:`MAX_IN_FLIGHT` requests at once), and applies the replies strictly in height order
through :meth:`Gossip.accept_block` (history: ``now=None``, no timestamp beyond our clock, every
signature and rule checked by the chain). A reply that breaks a rule costs its sender; a reply
shorter than asked lowers what we believe of that peer.

A peer on another branch (its blocks do not attach to our tip: ``unknown_parent``) is synced
from our finalized height + 1, where branches must meet (nobody reverts a final block): the
blocks we have are skipped as known, the rest enter the chain's fork choice (most blocks).

``syncing`` (shown in ``/api/status``; while it holds, the node neither forges nor takes
transactions, and the API answers 503 ``syncing`` for reads of state) is true when a peer is
more than :data:`LAG_BLOCKS` ahead, or when peers are configured and none has completed a
handshake within :data:`STARTUP_GRACE_S` of starting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from ...chain.block import Block
from ...chain.ledger import Chain
from ...chain.params import etm_time
from ...errors import PeerProtocolError
from .messages import MAX_BLOCKS_PER_REPLY

if TYPE_CHECKING:
    from .network import P2PNetwork
    from .peer import Peer

log = logging.getLogger("etm_bridge.node.p2p")

TICK_S = 0.2
BATCH = 250
MAX_IN_FLIGHT = 8
LAG_BLOCKS = 2
STARTUP_GRACE_S = 5.0


Fetched = tuple[tuple[Block, ...], set[bytes]]


def verified_tx_ids(blocks: tuple[Block, ...]) -> set[bytes]:
    """Ids of the transactions in ``blocks`` whose signatures verify."""
    return {tx.id for block in blocks for tx in block.transactions if tx.signature_ok()}


async def _fetch_and_verify(peer: Peer, first: int, count: int) -> Fetched:
    """Request a range, then check its transaction signatures in a worker thread (libsodium
    releases the GIL) while the event loop applies earlier ranges. A verified id skips the
    chain's own check (an id is the hash of the signed bytes, so it cannot hide another
    signature); a failing one is left for the chain to reject."""
    blocks = await peer.request_blocks(first, count)
    return blocks, await asyncio.to_thread(verified_tx_ids, blocks)


class Syncer:
    def __init__(self, net: P2PNetwork, chain: Chain, expect_peers: bool):
        self.net, self.chain = net, chain
        self.expect_peers = expect_peers
        self.started = time.monotonic()
        self.handshaken_once = False
        self.target = 0
        self.synced_blocks = 0
        self._fork_peers: set[bytes] = set()
        self._wake = asyncio.Event()

    @property
    def syncing(self) -> bool:
        if self.expect_peers and not self.handshaken_once:
            return time.monotonic() - self.started < STARTUP_GRACE_S
        return self.target > self.chain.tip.height + LAG_BLOCKS

    def status(self) -> dict[str, object]:
        return {
            "syncing": self.syncing,
            "syncTarget": max(self.target, self.chain.tip.height),
            "syncedBlocks": self.synced_blocks,
        }

    def wake(self) -> None:
        self._wake.set()

    def fork_hint(self, peer: Peer) -> None:
        """``peer`` sent a block that does not attach to our chain: sync from finality."""
        self._fork_peers.add(peer.node_id)
        self.wake()

    def claim_ok(self, height: int) -> bool:
        """A chain has at most one block per slot: a higher claimed height is a lie."""
        params = self.chain.params
        return height <= params.slot_of(etm_time(time.time()) + params.max_clock_drift_s) + 1

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK_S)
            self._wake.clear()
            try:
                await self.catch_up()
            except Exception:  # never let the loop die: a node that stops syncing is stuck
                log.exception("sync round failed")

    async def catch_up(self) -> None:
        peers = self.net.ready_peers()
        ours = self.chain.tip.height
        self.target = max([p.height for p in peers] + [ours])
        ahead = [p for p in peers if p.height > ours]
        if not ahead:
            return
        fork = [p for p in ahead if p.node_id in self._fork_peers]
        if fork:
            peer = fork[0]
            self._fork_peers.discard(peer.node_id)
            await self._fetch([peer], self.chain.finalized_height() + 1, peer.height)
            return
        await self._fetch(ahead, ours + 1, self.target)

    async def _fetch(self, peers: list[Peer], start: int, end: int) -> None:
        ranges = []
        for first in range(start, end + 1, BATCH):
            ranges.append((first, min(BATCH, end - first + 1, MAX_BLOCKS_PER_REPLY)))
            if len(ranges) >= MAX_IN_FLIGHT:
                break
        tasks: list[tuple[Peer, int, int, asyncio.Task[Fetched]]] = []
        for i, (first, count) in enumerate(ranges):
            able = [p for p in peers if p.height >= first] or peers
            peer = able[i % len(able)]
            tasks.append((peer, first, count, asyncio.create_task(
                _fetch_and_verify(peer, first, count))))  # fmt: skip
        try:
            for peer, first, count, task in tasks:
                if not await self._apply_reply(peer, first, count, task):
                    return
        finally:
            for *_, task in tasks:
                task.cancel()

    async def _apply_reply(
        self, peer: Peer, first: int, count: int, task: asyncio.Task[Fetched]
    ) -> bool:
        try:
            blocks, verified = await task
        except (PeerProtocolError, TimeoutError, asyncio.CancelledError) as exc:
            log.info("get_blocks %d+%d from %s failed: %s", first, count, peer.label(), exc)
            peer.height = min(peer.height, first - 1)
            return False
        if any(b.height != first + i for i, b in enumerate(blocks)) or len(blocks) > count:
            self.net.penalize(peer, "malformed", "blocks reply out of the requested range")
            return False
        self.chain.mempool.verified.update(verified)
        for i, block in enumerate(blocks):
            if not self.net.gossip.accept_block(block, peer, live=False):
                if peer.closed or block.height > self.chain.tip.height:
                    return False
                continue  # a block we already have (syncing a fork from finality)
            self.net.gossip.seen_blocks.add(block.id)
            self.synced_blocks += 1
            if i % 25 == 24:
                await asyncio.sleep(0)  # let the API and other peers be served
        if len(blocks) < count:
            peer.height = min(peer.height, first + len(blocks) - 1)
            return False
        return True
