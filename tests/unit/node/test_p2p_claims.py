"""Review a13d: what a peer says about its height is bounded and, unproven, moves nothing.

In-process (a real chain on an in-memory store, the real peer layer, no sockets)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from etm_bridge.chain.block import Block
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams, etm_time
from etm_bridge.node.p2p.messages import PROTOCOL_VERSION, BlockMsg, GetPeers, Hello, Peers
from etm_bridge.node.p2p.network import P2PNetwork
from etm_bridge.node.p2p.peer import Peer
from etm_bridge.node.p2p.settings import P2PSettings
from etm_bridge.store import ChainStore

_HELLO = Hello(network=0, genesis=bytes(32), protocol=PROTOCOL_VERSION, height=0, tip=bytes(32),
               finalized=0, port=0, node_id=bytes(16))  # fmt: skip


class QuietLink:
    remote_host = "192.0.2.9"

    async def send(self, data: bytes) -> None:
        return None

    async def recv(self) -> bytes:
        await asyncio.sleep(3600)
        return b""

    async def close(self, code: int, reason: str) -> None:
        return None


def test_a_gossiped_block_cannot_claim_a_height_beyond_the_current_slot() -> None:
    """A ``block`` message raised the sender's believed height to the block's height before
    any check, and a block stamped in the future is dropped without blame: a peer (once
    proven, e.g. by relaying one real block first) made the node believe it was 4 billion
    blocks behind, ``syncing`` (no forging, 503), and fetch towards that height. ``hello`` and
    ``status`` claims were already bounded by the current slot; a block's now is too."""
    params = replace(ChainParams(), genesis_time=etm_time(time.time()) - 20, block_time_s=1)
    genesis, keys = dev_genesis(params, 3, funded=1)
    chain, forger = Chain(ChainStore.memory(), genesis), Chain(ChainStore.memory(), genesis)
    now = etm_time(time.time())
    real = None
    while real is None:
        real = forger.forge_next(now, keys)
        now += 1

    async def offer() -> tuple[P2PNetwork, Peer]:
        net = P2PNetwork(chain, P2PSettings())
        net.syncer.started -= 60  # past the startup grace
        peer = Peer(QuietLink(), outbound=False)
        net.gossip.on_block(peer, BlockMsg(real))  # one real block: the peer is proven
        assert peer.proven and chain.tip.height == real.height
        header = replace(real.header, height=2**32 - 1, timestamp=2**32 - 1)
        net.gossip.on_block(peer, BlockMsg(Block(header)))
        return net, peer

    net, peer = asyncio.run(offer())
    assert peer.height <= net.syncer.chain.tip.height + 1, peer.height
    assert not net.syncer.syncing


def _closed_ports(n: int) -> list[str]:
    """Loopback addresses where nothing listens (a dial fails at once)."""
    out = []
    for _ in range(n):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            out.append(f"127.0.0.1:{s.getsockname()[1]}")
    return out


def test_peer_exchange_cannot_be_poisoned_for_good() -> None:
    """Review a13d: a ``peers`` message was learnt whether we asked or not, learnt addresses
    were kept for ever (1,000 at most, then nothing new was learnt) and redialled for ever. One
    peer sending ten unsolicited messages of 100 dead addresses filled the table for good: the
    node never learnt another address and its outbound slots dialled the dead ones. Now only a
    reply to our ``get_peers`` is learnt (once per request), and a learnt address that failed 3
    dials in a row is forgotten."""
    params = replace(ChainParams(), genesis_time=etm_time(time.time()) - 20, block_time_s=1)
    genesis, _keys = dev_genesis(params, 3, funded=1)
    chain = Chain(ChainStore.memory(), genesis)
    junk = [f"10.{i // 250}.{i % 250}.1:{1000 + i}" for i in range(1_000)]
    dead = _closed_ports(6)

    async def poison() -> tuple[P2PNetwork, bool, bool]:
        net = P2PNetwork(chain, P2PSettings(max_outbound=8))
        peer = Peer(QuietLink(), outbound=False)
        for i in range(0, 1_000, 100):
            net._dispatch(peer, Peers(tuple(junk[i : i + 100])))  # nobody asked
        honest_unsolicited = "192.0.2.50:26657" in net.known
        net._dispatch(peer, Peers(("192.0.2.50:26657",)))
        learnt_unasked = "192.0.2.50:26657" in net.known
        peer.send(GetPeers())  # we ask: the one reply is learnt
        net._dispatch(peer, Peers(tuple(dead)))
        net._dispatch(peer, Peers(("192.0.2.51:26657",)))  # a second, unasked reply
        assert all(a in net.known for a in dead) and "192.0.2.51:26657" not in net.known
        net.start()
        deadline = time.monotonic() + 20
        while any(a in net.known for a in dead) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await net.stop()
        return net, honest_unsolicited, learnt_unasked

    net, _before, learnt_unasked = asyncio.run(poison())
    assert len(net.known) < 100, f"{len(net.known)} addresses learnt from unsolicited messages"
    assert not learnt_unasked
    assert not any(a in net.known for a in dead), "dead learnt addresses are dialled for ever"


def test_fork_hints_of_gone_peers_are_not_kept() -> None:
    """Review a13d: a block with an unknown parent (free: ``unknown_parent`` is an honest
    reason) left its sender's node id in the syncer's fork hints, and a peer that disconnected
    before the next sync round left it there for ever: node ids are the peer's own choice, so
    connect, hint, leave, repeat grew the set without bound."""
    params = replace(ChainParams(), genesis_time=etm_time(time.time()) - 20, block_time_s=1)
    genesis, _keys = dev_genesis(params, 3, funded=1)
    chain = Chain(ChainStore.memory(), genesis)

    async def hint() -> int:
        net = P2PNetwork(chain, P2PSettings())
        for _ in range(500):
            peer = Peer(QuietLink(), outbound=False)
            peer.hello = replace(_HELLO, node_id=os.urandom(16))
            net.syncer.fork_hint(peer)  # what an unknown-parent block does; then it leaves
        await net.syncer.catch_up()
        return len(net.syncer._fork_peers)

    assert asyncio.run(hint()) == 0


def test_a_sync_reply_of_junk_costs_no_transaction_signature_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review a13d: sync verifies a reply's signatures ahead in worker threads before applying
    any of it, and ``preverify`` checked every transaction's signature whatever the header was.
    A peer claiming to be ahead answered each of the 8 ranges in flight with blocks holding
    thousands of junk-signed transactions under a header of its own fresh key (or a bad
    signature, or a payload hash that does not match): the node spent two cores on them (a
    frame holds ~60,000 transactions, 8 frames ~40 s of ed25519) before the first block was
    refused, for 50 of ban score. Now a block's transaction signatures are verified ahead only
    when its header is signed by a registered delegate (snapshot taken before the threads
    run), its reveal verifies and its payload matches the header."""
    from etm_bridge.chain import tx as tx_module
    from etm_bridge.chain.block import payload_summary
    from etm_bridge.chain.forging import forged_header, open_forged_block
    from etm_bridge.chain.keys import dev_key
    from etm_bridge.chain.tx import Tx
    from etm_bridge.node.p2p.messages import Blocks
    from etm_bridge.node.p2p.sync import _fetch_and_verify

    params = replace(ChainParams(), genesis_time=etm_time(time.time()) - 20, block_time_s=1)
    genesis, keys = dev_genesis(params, 3, funded=1)
    chain = Chain(ChainStore.memory(), genesis)
    stranger = dev_key("stranger")
    junk = [Tx(params.network_id, 1, dev_key(f"j{i}").public_key, 0, 10**6, b"\x00" * 28,
               b"\x01" * 64) for i in range(300)]  # fmt: skip
    tip = chain.tip
    slot = tip.slot + 1
    reveal = open_forged_block(chain.store_view(), params, stranger, 1, tip.slot, slot)
    own = forged_header(params, tip, slot, stranger.public_key, reveal, junk, 0)
    stranger_block = Block(own.signed(stranger, chain.genesis_id), tuple(junk))
    delegate = next(iter(keys.values()))
    reveal = open_forged_block(chain.store_view(), params, delegate, 1, tip.slot, slot)
    real = forged_header(params, tip, slot, delegate.public_key, reveal, junk[:1], 0)
    mismatched = Block(real.signed(delegate, chain.genesis_id), tuple(junk))  # payload != header
    assert payload_summary(list(junk)) != (real.payload_length, real.payload_hash)
    checked: list[bytes] = []
    real_verify = tx_module.verify

    def counting_verify(public_key: bytes, digest: bytes, signature: bytes) -> bool:
        checked.append(public_key)
        return bool(real_verify(public_key, digest, signature))

    monkeypatch.setattr(tx_module, "verify", counting_verify)

    async def fetch(block: Block) -> list[Any]:
        peer = Peer(QuietLink(), outbound=False)
        with ThreadPoolExecutor(2) as executor:
            task = asyncio.create_task(_fetch_and_verify(chain, peer, 1, 1, executor))
            while not peer._pending:
                await asyncio.sleep(0.001)
            peer.resolve(Blocks(next(iter(peer._pending)), (block,)))
            return [r for _, fut in await task for r in await fut]

    for block in (stranger_block, mismatched):
        [result] = asyncio.run(fetch(block))
        assert not result.tx_ids
    assert checked == [], f"{len(checked)} junk transaction signatures verified ahead"


def test_a_silent_peer_cannot_stall_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review a13d: a range request that failed (no answer within the timeout) stopped the
    whole sync window, and the next round spread the ranges over the same peers again: a peer
    that claims the tip (``status``, free) and answers nothing got the first range every round,
    so the node never synced a block while an honest peer could have served them all. Now the
    failed range is asked again from another peer at once. In-process: the real syncer, a real
    source chain of 300 blocks served by the honest peer; the request timeout is shortened."""
    from etm_bridge.node.p2p import peer as peer_module
    from etm_bridge.node.p2p.messages import Blocks, GetBlocks, decode_frame

    monkeypatch.setattr(peer_module, "REQUEST_TIMEOUT_S", 0.5)
    params = replace(ChainParams(), genesis_time=etm_time(time.time()) - 1_000, block_time_s=1,
                     delegates_per_round=3)  # fmt: skip
    genesis, keys = dev_genesis(params, 3, funded=1)
    source, victim = Chain(ChainStore.memory(), genesis), Chain(ChainStore.memory(), genesis)
    now = params.genesis_time
    while source.tip.height < 300:
        now += 1
        source.forge_next(now, keys)

    async def sync() -> int:
        net = P2PNetwork(victim, P2PSettings())
        net.syncer.started -= 60  # past the startup grace
        silent, honest = Peer(QuietLink(), outbound=True), Peer(QuietLink(), outbound=True)
        for p in (silent, honest):  # the silent one connected first: it gets the first range
            p.hello = replace(_HELLO, node_id=os.urandom(16))
            p.height = 300
            net.peers[p.node_id] = p

        async def serve() -> None:
            while True:
                frame = await honest._outbox.get()
                msg = decode_frame(frame) if frame else None
                if isinstance(msg, GetBlocks):
                    top = min(300, msg.from_height + msg.count - 1)
                    blocks = tuple(source.block_by_height(h)
                                   for h in range(msg.from_height, top + 1))  # fmt: skip
                    honest.resolve(Blocks(msg.request_id, blocks))

        server = asyncio.create_task(serve())
        deadline = time.monotonic() + 15.0  # a wait on the condition, not a bound
        while victim.tip.height < 300 and time.monotonic() < deadline:
            silent.height = 300  # its status says so again, as often as it likes
            await net.syncer.catch_up()
        server.cancel()
        return victim.tip.height

    assert asyncio.run(sync()) == 300
    assert victim.store.digest_at(300) == source.store.digest_at(300)


def test_a_proven_peer_is_asked_before_a_mere_claim() -> None:
    """Review a13d: with a peer that has delivered blocks and one that only claims a height
    (for free), every range goes to the proven one: the claimant, which may never answer,
    holds no range until its timeout. In-process, a real source chain of 300 blocks."""
    from etm_bridge.node.p2p.messages import Blocks, GetBlocks, decode_frame

    params = replace(ChainParams(), genesis_time=etm_time(time.time()) - 1_000, block_time_s=1,
                     delegates_per_round=3)  # fmt: skip
    genesis, keys = dev_genesis(params, 3, funded=1)
    source, victim = Chain(ChainStore.memory(), genesis), Chain(ChainStore.memory(), genesis)
    now = params.genesis_time
    while source.tip.height < 300:
        now += 1
        source.forge_next(now, keys)

    async def sync() -> tuple[int, int]:
        net = P2PNetwork(victim, P2PSettings())
        net.syncer.started -= 60
        claimant, honest = Peer(QuietLink(), outbound=True), Peer(QuietLink(), outbound=True)
        for p in (claimant, honest):
            p.hello = replace(_HELLO, node_id=os.urandom(16))
            p.height = 300
            net.peers[p.node_id] = p
        honest.proven = True  # it delivered a new block before (by gossip)

        async def serve() -> None:
            while True:
                msg = decode_frame(await honest._outbox.get())
                if isinstance(msg, GetBlocks):
                    top = min(300, msg.from_height + msg.count - 1)
                    blocks = tuple(source.block_by_height(h)
                                   for h in range(msg.from_height, top + 1))  # fmt: skip
                    honest.resolve(Blocks(msg.request_id, blocks))

        server = asyncio.create_task(serve())
        await asyncio.wait_for(net.syncer.catch_up(), 10)  # before: the claimant's 20 s timeout
        server.cancel()
        asked = sum(1 for f in list(claimant._outbox._queue) if f and f[0] == 5)  # type: ignore[attr-defined]
        return victim.tip.height, asked

    height, asked = asyncio.run(sync())
    assert height == 300 and asked == 0, (height, asked)
