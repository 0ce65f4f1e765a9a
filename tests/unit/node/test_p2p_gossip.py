"""The peer layer in-process (a real chain on an in-memory store, no sockets): bounded seen-sets,
rate limits and ban scores; the future-block attack; invalid blocks earn a ban; the API answers
503 ``syncing`` while the node catches up."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest
from asgi_call import asgi_request

from etm_bridge.chain.block import Block
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams, etm_time
from etm_bridge.node.api import create_app
from etm_bridge.node.p2p.endpoint import SyncGate
from etm_bridge.node.p2p.limits import BanList, SeenSet, TokenBucket
from etm_bridge.node.p2p.messages import (
    PROTOCOL_VERSION,
    BlockMsg,
    Blocks,
    Evidence,
    GetBlocks,
    Hello,
    decode_frame,
)
from etm_bridge.node.p2p.network import P2PNetwork
from etm_bridge.node.p2p.peer import OUTBOX_BYTES, Peer
from etm_bridge.node.p2p.settings import P2PSettings
from etm_bridge.node.service import NodeService
from etm_bridge.store import ChainStore


class QuietLink:
    """A link that records what the node would send and close (no transport)."""

    def __init__(self, host: str = "192.0.2.7"):
        self.remote_host = host
        self.sent: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, data: bytes) -> None:
        self.sent.append(data)

    async def recv(self) -> bytes:
        await asyncio.sleep(3600)
        return b""

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def _chains(n: int = 2) -> tuple[list[Chain], dict[bytes, Any]]:
    params = replace(ChainParams(), genesis_time=etm_time(time.time()) - 20, block_time_s=1,
                     delegates_per_round=3)  # fmt: skip
    genesis, keys = dev_genesis(params, 3, funded=2)
    return [Chain(ChainStore.memory(), genesis) for _ in range(n)], keys


def test_seen_set_and_token_bucket_and_ban_list_are_bounded() -> None:
    seen = SeenSet(3)
    assert [seen.add(k) for k in (1, 2, 1, 3, 4)] == [True, True, False, True, True]
    assert len(seen) == 3 and 2 not in seen and 1 in seen
    bucket = TokenBucket(rate=10, burst=2, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
    assert bucket.take(0.1)
    bans = BanList(threshold=100, ban_s=60)
    assert not bans.penalize("a", "invalid_tx", 0.0) and bans.score("a") == 20
    assert not bans.penalize("a", "invalid_block", 0.0)
    assert bans.penalize("a", "malformed", 0.0, "bad frame")
    assert bans.banned("a", 59.0) and bans.banned("a", 61.0) is None


def test_future_blocks_cannot_outgrow_the_chain() -> None:
    """The attack: a delegate forges blocks for its own *future* slots and offers them as a
    longer branch. ``apply_block(block, None)`` (history mode) alone accepts them; the peer
    layer refuses any block whose timestamp is beyond our clock."""
    (victim, attacker, raw), keys = _chains(3)
    future = etm_time(time.time()) + 3600
    forged: list[Block] = []
    while len(forged) < 5:
        block = attacker.forge_next(future, keys)
        future += 1
        if block is not None:
            forged.append(block)
    for block in forged:  # the danger: history mode has no clock
        assert raw.apply_block(block, None)
    assert raw.tip.height == 5

    async def offer() -> list[bool]:
        net = P2PNetwork(victim, P2PSettings())
        peer = Peer(QuietLink(), outbound=False)
        return [net.gossip.accept_block(b, peer, live=False) for b in forged]

    assert asyncio.run(offer()) == [False] * 5
    assert victim.tip.height == 0


def test_a_peer_sending_invalid_blocks_is_banned_and_closed() -> None:
    (victim, forger), keys = _chains(2)
    now = etm_time(time.time())
    good = None
    while good is None:
        good = forger.forge_next(now, keys)
        now += 1
    bad = [Block(replace(good.header, block_signature=bytes(64), nonce=n)) for n in range(2)]

    async def offer() -> tuple[QuietLink, P2PNetwork, Peer]:
        net = P2PNetwork(victim, P2PSettings())
        link = QuietLink()
        peer = Peer(link, outbound=False)
        for block in bad:
            net.gossip.on_block(peer, BlockMsg(block))
        await asyncio.sleep(0.05)  # the close runs as a task
        return link, net, peer

    link, net, peer = asyncio.run(offer())
    assert peer.closed and link.closed is not None
    assert link.closed[0] == 4004 and "invalid_block" in link.closed[1]
    assert net.bans.banned("192.0.2.7", time.time())
    assert victim.tip.height == 0


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [("/api/status", "GET", 200), ("/api/blocks", "GET", 200),
     ("/api/delegates", "GET", 503), ("/api/transactions", "POST", 503)],
)  # fmt: skip
def test_state_reads_and_writes_answer_503_while_syncing(
    path: str, method: str, status: int
) -> None:
    (chain,), keys = _chains(1)
    service = NodeService(chain, keys)
    net = P2PNetwork(chain, P2PSettings(peers=("127.0.0.1:9",)))  # peers configured, none up
    service.network_status = net.status
    app = SyncGate(create_app(service, admin_token="t" * 32, max_body_bytes=4096), net)
    code, body = asgi_request(app, method, path, b"{}", {"content-type": "application/json"})
    assert code == status
    if status == 503:
        assert body["error"]["code"] == "syncing"
    if path == "/api/status":
        assert body["syncing"] is True


def test_two_blocks_of_one_delegate_for_one_slot_become_gossiped_evidence() -> None:
    """Double forging reaching a node by gossip: the chain records the second signed header
    for a (generator, slot) as evidence and the peer layer relays it as an ``evidence``
    message."""
    (victim, forger_a, _forger_b), keys = _chains(3)
    now = etm_time(time.time())
    a = None
    while a is None:
        a = forger_a.forge_next(now, keys)
        now += 1
    key = keys[a.header.generator_public_key]
    # The same slot and parent, another payload claim: a second, validly signed header.
    second = replace(a.header, total_fee=a.header.total_fee + 1)
    b = Block(second.solve_and_sign(key, 2**256, victim.genesis_id))
    assert b.id != a.id and b.header.signature_ok(victim.genesis_id)

    async def offer() -> tuple[P2PNetwork, QuietLink]:
        net = P2PNetwork(victim, P2PSettings())
        sender, other_link = Peer(QuietLink(), outbound=False), QuietLink()
        other = Peer(other_link, outbound=False)
        other.hello = sender.hello = None
        net.peers[b"other".ljust(16, b"\0")] = other
        writer = asyncio.create_task(other.write_loop())
        net.gossip.on_block(sender, BlockMsg(a))
        net.gossip.on_block(sender, BlockMsg(b))  # the chain finds the evidence
        net.gossip.gossip_pending_evidence()  # what the status heartbeat does
        await asyncio.sleep(0.05)
        writer.cancel()
        return net, other_link

    _net, other_link = asyncio.run(offer())
    evidence = [f for f in other_link.sent if f[0] == 9]
    assert len(evidence) == 1
    assert {bytes(x) for x in decode_frame(evidence[0]).__dict__.values()} == {
        a.header.encoded,
        b.header.encoded,
    }


def test_block_requests_are_rate_limited_and_a_non_reading_peer_is_bounded() -> None:
    """A peer that floods get_blocks (each can cost us up to 8 MiB) is throttled, then banned;
    what is queued for a peer that never reads is bounded in bytes."""
    (chain,), _keys = _chains(1)

    async def flood() -> tuple[QuietLink, Peer, int]:
        net = P2PNetwork(chain, P2PSettings())
        link = QuietLink()
        peer = Peer(link, outbound=False)
        for i in range(200):
            if peer.closed:
                break
            net._dispatch(peer, GetBlocks(i, 0, 1))
        await asyncio.sleep(0.05)
        return link, peer, i

    link, peer, sent = asyncio.run(flood())
    assert peer.closed and link.closed is not None and link.closed[0] == 4004
    assert "rate_limited" in link.closed[1] and sent < 200

    async def hoard() -> int:
        peer = Peer(QuietLink(), outbound=False)  # no write loop: nothing is ever read
        block = chain.block_by_height(0)
        big = Blocks(1, (block,) * 400)
        n = 0
        while peer.send(big) and n < 10_000:
            n += 1
        return peer.queued_bytes

    assert asyncio.run(hoard()) <= OUTBOX_BYTES


def test_a_peer_that_connects_after_the_evidence_is_sent_it_once() -> None:
    """Evidence the chain holds is sent to a peer right after its handshake (it connected after
    the evidence was gossiped, and before this fix never got it), once: the heartbeat does not
    repeat it, and it is never echoed to the peer that sent it."""
    (chain, forger), keys = _chains(2)
    now = etm_time(time.time())
    a = None
    while a is None:
        a = forger.forge_next(now, keys)
        now += 1
    key = keys[a.header.generator_public_key]
    b = replace(a.header, total_fee=a.header.total_fee + 1).solve_and_sign(
        key, 2**256, chain.genesis_id
    )
    assert chain.note_evidence(a.header, b)

    def hello(i: int) -> Hello:
        return Hello(network=chain.params.network_id, genesis=chain.genesis_id,
                     protocol=PROTOCOL_VERSION, height=0, tip=chain.genesis_id, finalized=0,
                     port=0, node_id=bytes([i]) * 16, agent="test")  # fmt: skip

    async def connect_late() -> tuple[list[QuietLink], QuietLink]:
        net = P2PNetwork(chain, P2PSettings(peer_exchange=False))
        net.gossip.gossip_pending_evidence()  # gossiped while no peer was connected
        links, writers = [QuietLink(f"192.0.2.{i}") for i in (10, 11)], []
        for i, link in enumerate(links):  # two peers connecting afterwards
            peer = Peer(link, outbound=False)
            peer.hello = hello(i + 1)
            net._register(peer, peer.hello)
            writers.append(asyncio.create_task(peer.write_loop()))
        net.gossip.gossip_pending_evidence()  # the heartbeat: both have it already
        sender_link = QuietLink("192.0.2.12")
        sender = Peer(sender_link, outbound=False)
        sender.hello = hello(3)
        net.peers[sender.node_id] = sender
        writers.append(asyncio.create_task(sender.write_loop()))
        net.gossip.on_evidence(sender, Evidence(a.header.encoded, b.encoded))  # no echo
        net.gossip.gossip_pending_evidence()
        await asyncio.sleep(0.05)
        for writer in writers:
            writer.cancel()
        return links, sender_link

    links, sender_link = asyncio.run(connect_late())
    for link in links:
        [frame] = [f for f in link.sent if f[0] == 9]
        assert {decode_frame(frame).header_a, decode_frame(frame).header_b} == {  # type: ignore[union-attr]
            a.header.encoded,
            b.encoded,
        }
    assert not [f for f in sender_link.sent if f[0] == 9]
