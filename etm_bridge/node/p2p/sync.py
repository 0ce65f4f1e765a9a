"""Sync: a node that is behind fetches blocks in batches from several peers and applies each one.

Every :data:`TICK_S` the syncer compares our height with what handshaken peers said (hello,
status, blocks they sent). When a peer is higher it requests :data:`BATCH` blocks per
``get_blocks``, spreading consecutive ranges over every peer that is high enough (up to
:data:`MAX_IN_FLIGHT` requests at once), and applies the replies strictly in height order
through :meth:`Gossip.accept_block` (history: ``now=None``, no timestamp beyond our clock, every
signature and rule checked by the chain). A reply that breaks a rule costs its sender; a reply
shorter than asked lowers what we believe of that peer.

Speed: as soon as a reply arrives its blocks are cut into chunks of :data:`VERIFY_CHUNK` and
handed to worker threads (``Chain.preverify``: block signature, RANDAO reveal, tx signatures;
libsodium releases the GIL, so this runs on the other core while the event loop applies earlier
blocks). The event loop applies a verified chunk inside one ``Chain.batch()`` (one store
transaction, each block in its own savepoint), then yields to the API and the other peers.

A peer on another branch (its blocks do not attach to our tip: ``unknown_parent``) is synced
from our finalized height + 1, where branches must meet (nobody reverts a final block): the
blocks we have are skipped as known, the rest enter the chain's fork choice (most blocks).

``syncing`` (shown in ``/api/status``; while it holds, the node neither forges nor takes
transactions, and the API answers 503 ``syncing`` for reads of state) is true when a *proven*
peer is more than :data:`LAG_BLOCKS` ahead, or when peers are configured and none has completed
a handshake within :data:`STARTUP_GRACE_S` of starting. A peer is proven once it delivered a new
valid block (by sync or gossip) and until a request to it fails (no answer, or no block for a
range it claimed); within the startup grace every claim counts. Any claim above our height is
still fetched from, which is how a peer proves it. Before (review a13d), a claim alone made the
node ``syncing``: one connection claiming the current slot and leaving ``get_blocks`` unanswered
stopped a delegate's node from forging for as long as it stayed. A peer that answers a range it
claimed with no block is penalized (``bad_claim``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ...chain.block import Block
from ...chain.ledger import Chain
from ...chain.params import etm_time
from ...chain.preverify import Preverified
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
#: Blocks per worker-thread verification job, and per store transaction when applying.
VERIFY_CHUNK = 50
#: Verification threads: one per core (measured on 2 cores: two threads beside the event loop
#: beat one, ``bench/sync_apply.py``).
VERIFY_THREADS = max(1, os.cpu_count() or 2)


Chunk = tuple[tuple[Block, ...], "asyncio.Future[list[Preverified]]"]
Fetched = list[Chunk]


def preverify_all(
    chain: Chain, blocks: tuple[Block, ...], generators: frozenset[bytes]
) -> list[Preverified]:
    """``Chain.preverify`` on each block (run in a worker thread); ``generators``: the chain's
    delegates, read on the event loop (a block of any other key gets no tx signature checked
    ahead: junk from a peer costs no CPU before the chain refuses it)."""
    return [chain.preverify(block, generators) for block in blocks]


async def _fetch_and_verify(
    chain: Chain, peer: Peer, first: int, count: int, executor: Executor
) -> Fetched:
    """Request a range, then start verifying its signatures and reveals ahead, chunk by chunk,
    in worker threads while the event loop applies earlier ranges. What verified is skipped by
    the chain for exactly those blocks (``preverify.py``); what failed is checked again by the
    chain, which rejects it with its reason."""
    blocks = await peer.request_blocks(first, count)
    loop = asyncio.get_running_loop()
    generators = chain.delegate_keys()
    chunks: Fetched = []
    for i in range(0, len(blocks), VERIFY_CHUNK):
        part = blocks[i : i + VERIFY_CHUNK]
        job = loop.run_in_executor(executor, preverify_all, chain, part, generators)
        chunks.append((part, job))
    return chunks


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
        self._verifier = ThreadPoolExecutor(VERIFY_THREADS, thread_name_prefix="etm-verify")

    @property
    def syncing(self) -> bool:
        if self.expect_peers and not self.handshaken_once:
            return self._in_grace()
        ours = self.chain.tip.height
        return self._target(ours) > ours + LAG_BLOCKS

    def _target(self, ours: int) -> int:
        """The highest credible claim, read live (not frozen while a request is pending)."""
        claims = [p.height for p in self.net.ready_peers() if self._credible(p)]
        self.target = max([ours, *claims])
        return self.target

    def _in_grace(self) -> bool:
        return time.monotonic() - self.started < STARTUP_GRACE_S

    def _credible(self, peer: Peer) -> bool:
        """Whether ``peer``'s height claim may make us ``syncing`` (module doc)."""
        return peer.proven or self._in_grace()

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
        self._fork_peers &= {p.node_id for p in peers}  # hints of gone peers (their ids are free)
        ours = self.chain.tip.height
        self._target(ours)
        ahead = [p for p in peers if p.height > ours]
        if not ahead:
            return
        fork = [p for p in ahead if p.node_id in self._fork_peers]
        if fork:
            peer = fork[0]
            self._fork_peers.discard(peer.node_id)
            await self._fetch([peer], self.chain.finalized_height() + 1, peer.height)
            return
        await self._fetch(ahead, ours + 1, max(p.height for p in ahead))

    async def _fetch(self, peers: list[Peer], start: int, end: int) -> None:
        """Blocks ``start``..``end`` through a sliding window of at most :data:`MAX_IN_FLIGHT`
        range requests: each applied range makes room for the next request, so fetching and
        verifying ahead never stop while the event loop applies. A range whose peer failed it
        (no answer, or no block for a range it claimed) is asked again from another peer at
        once (review a13d: before, the whole window stopped, and a silent peer that kept its
        claim up got the first range of every round, so sync never moved)."""
        window: deque[tuple[Peer, int, int, int, asyncio.Task[Fetched]]] = deque()
        next_first, launched = start, 0
        failed: set[bytes] = set()

        def able_for(first: int) -> list[Peer]:
            """Peers to ask for a range from ``first``: those that proved their claims when
            there are any (a claim alone is free: a peer that never answers would hold each
            range it gets until the timeout), else every live peer high enough."""
            live = [p for p in peers if not p.closed and p.node_id not in failed]
            high = [p for p in live if p.height >= first]
            return [p for p in high if p.proven] or high or live

        def request(peer: Peer, first: int, count: int) -> tuple[Peer, int, int, int, Any]:
            task = asyncio.create_task(
                _fetch_and_verify(self.chain, peer, first, count, self._verifier)
            )
            return peer, peer.height, first, count, task

        def launch() -> None:
            nonlocal next_first, launched
            while len(window) < MAX_IN_FLIGHT and next_first <= end:
                count = min(BATCH, end - next_first + 1, MAX_BLOCKS_PER_REPLY)
                able = able_for(next_first)
                if not able:
                    return
                window.append(request(able[launched % len(able)], next_first, count))
                next_first, launched = next_first + count, launched + 1

        launch()
        try:
            while window:
                peer, claimed, first, count, task = window.popleft()
                outcome = await self._apply_reply(peer, claimed, first, count, task)
                if outcome == "retry":
                    failed.add(peer.node_id)
                    others = able_for(first)
                    if not others:
                        return
                    window.appendleft(request(others[0], first, count))
                    continue
                if outcome == "stop":
                    return
                launch()
            self.wake()  # all applied: look again at once (peers may have moved on)
        finally:
            for *_, task in window:
                task.cancel()

    async def _apply_reply(
        self, peer: Peer, claimed: int, first: int, count: int, task: asyncio.Task[Fetched]
    ) -> str:
        """Apply one range reply: ``"ok"``, ``"stop"`` (the window ends) or ``"retry"`` (the
        peer failed the request: ask another). ``claimed``: the peer's height claim when we
        asked (an empty answer to a range starting at or below it is a false claim)."""
        try:
            chunks = await task
        except (PeerProtocolError, TimeoutError, asyncio.CancelledError) as exc:
            log.info("get_blocks %d+%d from %s failed: %s", first, count, peer.label(), exc)
            peer.height, peer.proven = min(peer.height, first - 1), False
            return "retry"
        blocks = [b for part, _ in chunks for b in part]
        if any(b.height != first + i for i, b in enumerate(blocks)) or len(blocks) > count:
            self.net.penalize(peer, "malformed", "blocks reply out of the requested range")
            return "stop"
        if not blocks and first <= claimed:
            peer.height, peer.proven = min(peer.height, first - 1), False
            self.net.penalize(peer, "bad_claim", f"claimed height {claimed}, no block {first}")
            return "retry"
        try:
            for part, verified in chunks:
                self.chain.note_preverified(await verified)
                if not self._apply_chunk(peer, part):
                    return "stop"
                await asyncio.sleep(0)  # let the API and other peers be served
        finally:
            for _, verified in chunks:
                verified.cancel()  # not started yet: never started (no-op once done)
        if len(blocks) < count:
            peer.height = min(peer.height, first + len(blocks) - 1)
            return "stop"
        return "ok"

    def _apply_chunk(self, peer: Peer, blocks: tuple[Block, ...]) -> bool:
        """Apply ``blocks`` in height order in one store transaction (``Chain.batch``: each
        block in its own savepoint, so a refused block leaves the ones before it applied);
        False once a block is refused (the rest of the range is not tried)."""
        with self.chain.batch():
            for block in blocks:
                if not self.net.gossip.accept_block(block, peer, live=False):
                    if peer.closed or block.height > self.chain.tip.height:
                        return False
                    continue  # a block we already have (syncing a fork from finality)
                self.net.gossip.seen_blocks.add(block.id)
                self.synced_blocks += 1
                peer.proven = True
        return True
