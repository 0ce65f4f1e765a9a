"""Gossip dedupe before decode, and attacks on it and on sync's batches (issue 13).

In-process: a real chain on an in-memory store, the real peer layer (``P2PNetwork._read_loop``
fed real frames, the real ``Syncer``), no sockets. Every client sends its transaction to every
node and every node relays it, so a node gets each transaction up to once per peer: only the
first copy may be decoded and verified. The caches must be keyed by the hash of the exact bytes
(a different transaction, or a real block header with other transactions, is never shadowed)
and stay bounded under a flood; a sync reply with one invalid block in the middle keeps every
valid block before it and costs the peer."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import replace
from typing import Any

import pytest

from etm_bridge.chain import tx as tx_module
from etm_bridge.chain.block import Block, payload_summary
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams, etm_time
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.errors import PeerProtocolError, TxRejectedError
from etm_bridge.node.p2p.limits import SeenMap, SeenSet
from etm_bridge.node.p2p.messages import (
    PROTOCOL_VERSION,
    BlockMsg,
    Blocks,
    GetBlocks,
    Hello,
    Txs,
    decode_frame,
    encode_frame,
)
from etm_bridge.node.p2p.network import P2PNetwork
from etm_bridge.node.p2p.peer import LinkClosed, Peer
from etm_bridge.node.p2p.settings import P2PSettings
from etm_bridge.store import ChainStore

FEE = 1_000_000


class FrameLink:
    """Frames from the peer, in order; then the connection ends."""

    def __init__(self, frames: list[bytes], host: str):
        self.frames, self.remote_host = list(frames), host

    async def send(self, data: bytes) -> None:
        return None

    async def recv(self) -> bytes:
        if not self.frames:
            raise LinkClosed(1000, "done")
        return self.frames.pop(0)

    async def close(self, code: int, reason: str) -> None:
        return None


def _peer(frames: list[bytes], host: str) -> Peer:
    peer = Peer(FrameLink(frames, host), outbound=False)
    peer.hello = Hello(network=0, genesis=bytes(32), protocol=PROTOCOL_VERSION, height=0,
                       tip=bytes(32), finalized=0, port=0, node_id=os.urandom(16))  # fmt: skip
    return peer


def _chain(delegates_per_round: int = 3, age_s: int = 20) -> tuple[Chain, dict[bytes, Any]]:
    params = replace(ChainParams(), genesis_time=etm_time(time.time()) - age_s, block_time_s=1,
                     delegates_per_round=delegates_per_round)  # fmt: skip
    genesis, keys = dev_genesis(params, 3, funded=2)
    return Chain(ChainStore.memory(), genesis), keys


def _transfer(key: Any, nonce: int, network: int) -> Tx:
    payload = TransferPayload(b"\x01" * 20, 1).encode()
    return Tx.create(key, network=network, type_id=TRANSFER, nonce=nonce, fee=FEE,
                     payload=payload)  # fmt: skip


def _counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count tx signature verifications and tx / block decodes."""
    counts = {"verify": 0, "tx_decode": 0, "block_decode": 0}
    real_verify, real_tx, real_block = tx_module.verify, Tx.decode, Block.decode

    def verify(public_key: bytes, digest: bytes, signature: bytes) -> bool:
        counts["verify"] += 1
        return bool(real_verify(public_key, digest, signature))

    def tx_decode(cls: type, data: bytes) -> Tx:
        counts["tx_decode"] += 1
        return real_tx(data)

    def block_decode(cls: type, data: bytes) -> Block:
        counts["block_decode"] += 1
        return real_block(data)

    monkeypatch.setattr(tx_module, "verify", verify)
    monkeypatch.setattr(Tx, "decode", classmethod(tx_decode))
    monkeypatch.setattr(Block, "decode", classmethod(block_decode))
    return counts


async def _read_all(net: P2PNetwork, *peers: Peer) -> None:
    for peer in peers:
        with contextlib.suppress(LinkClosed):
            await net._read_loop(peer)
    await asyncio.sleep(0.01)  # a close runs as a task


def test_a_transaction_from_every_peer_is_decoded_and_verified_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain, _keys = _chain()
    tx = _transfer(dev_key("user-0"), 0, chain.params.network_id)
    frame = encode_frame(Txs((tx,)))
    counts = _counting(monkeypatch)

    async def run() -> P2PNetwork:
        net = P2PNetwork(chain, P2PSettings())
        peers = [_peer([frame, frame], f"192.0.2.{i}") for i in range(1, 4)]
        await _read_all(net, *peers)
        for peer in peers:
            assert tx.id in peer.known_txs  # not relayed back to any of them
        return net

    net = asyncio.run(run())
    assert tx.id in chain.mempool
    # six copies (three peers, twice each); before: six decodes, and one verification
    assert counts == {"verify": 1, "tx_decode": 1, "block_decode": 0}, counts
    assert net.bans.score("192.0.2.1") == 0


def test_a_different_transaction_is_never_taken_for_a_seen_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The attack: make the cache drop the honest transaction by sending first something that
    looks like it. A copy with another signature (same sender, nonce and payload: the same
    "logical" transaction) or with trailing bytes is a different byte string, so another id:
    it is refused (and costs its sender) and the honest transaction still goes in."""
    chain, _keys = _chain()
    honest = _transfer(dev_key("user-0"), 0, chain.params.network_id)
    forged = replace(honest, signature=bytes(64))
    assert forged.unsigned_bytes == honest.unsigned_bytes and forged.id != honest.id
    trailing = encode_frame(Txs((honest,)))
    trailing = trailing[:5] + (len(honest.encoded) + 1).to_bytes(4, "big") + honest.encoded + b"!"
    counts = _counting(monkeypatch)

    async def run() -> P2PNetwork:
        net = P2PNetwork(chain, P2PSettings())
        await _read_all(net, _peer([encode_frame(Txs((forged,)))], "192.0.2.66"))
        with pytest.raises(PeerProtocolError, match="trailing"):  # ends that connection
            await _read_all(net, _peer([trailing], "192.0.2.67"))
        await _read_all(net, _peer([encode_frame(Txs((honest,)))], "192.0.2.7"))
        return net

    net = asyncio.run(run())
    assert honest.id in chain.mempool and forged.id not in chain.mempool
    assert net.bans.score("192.0.2.66") == 20  # invalid_tx
    assert counts["verify"] == 2  # the forged signature (refused), the honest one


def test_the_dedupe_caches_stay_bounded_under_a_flood(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood of distinct free-to-send transactions (unfunded senders: refused for nothing)
    and of distinct block encodings: what the node remembers is capped. Block bytes are cached
    only for blocks the chain holds, so the invalid copies leave nothing behind (and the map
    itself keeps its last ``capacity`` keys)."""
    chain, keys = _chain()
    net_id = chain.params.network_id
    flood = [_transfer(dev_key(f"stranger-{i}"), 0, net_id) for i in range(1_500)]
    forged = None
    now = etm_time(time.time())
    source, _ = Chain(ChainStore.memory(), chain.genesis), None
    while forged is None:
        forged = source.forge_next(now, keys)
        now += 1
    copies = [Block(replace(forged.header, nonce=n)) for n in range(40)]  # distinct bytes

    async def run() -> P2PNetwork:
        net = P2PNetwork(chain, P2PSettings())
        net.gossip.seen_txs = SeenSet(1_000)
        net.gossip.seen_block_bytes.capacity = 25
        frames = [encode_frame(Txs(tuple(flood[i : i + 500]))) for i in range(0, 1_500, 500)]
        await _read_all(net, _peer(frames, "192.0.2.5"))
        for i, block in enumerate(copies):  # from many peers: each copy is invalid
            await _read_all(net, _peer([encode_frame(BlockMsg(block))], f"192.0.2.{100 + i}"))
        return net

    net = asyncio.run(run())
    assert len(net.gossip.seen_txs) == 1_000
    cached = {v[0] for v in net.gossip.seen_block_bytes._items.values()}
    held = {chain.block_by_height(h).id for h in range(chain.tip.height + 1)}
    assert len(cached) <= 25 and cached <= held
    bounded: SeenMap[int, int] = SeenMap(25)
    for i in range(40):
        bounded.add(i, i)
    assert len(bounded) == 25 and bounded.get(14) is None and bounded.get(15) == 15
    assert len(chain.mempool) == 0


def test_a_real_header_with_other_transactions_cannot_shadow_the_real_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The attack on a block cache keyed by block id (the header's hash): relay a real block's
    header with other transactions first; it is refused (its payload does not match), and
    before this change its id was remembered as seen, so the real block from every honest
    peer was dropped unread until sync found it. Identical copies are decoded once."""
    chain, keys = _chain()
    source = Chain(ChainStore.memory(), chain.genesis)
    tx = _transfer(dev_key("user-0"), 0, chain.params.network_id)
    source.submit_tx(tx)
    now, real = etm_time(time.time()) - 5, None
    while real is None:
        real = source.forge_next(now, keys)
        now += 1
    assert real.transactions == (tx,)
    other = _transfer(dev_key("user-1"), 0, chain.params.network_id)
    shadow = Block(real.header, (other,))
    assert shadow.id == real.id and shadow.encoded != real.encoded
    counts = _counting(monkeypatch)

    async def run() -> P2PNetwork:
        net = P2PNetwork(chain, P2PSettings())
        attacker = _peer([encode_frame(BlockMsg(shadow))], "192.0.2.66")
        honest = [_peer([encode_frame(BlockMsg(real))], f"192.0.2.{i}") for i in (1, 2, 3)]
        await _read_all(net, attacker, *honest)
        return net

    net = asyncio.run(run())
    assert chain.tip.block_id == real.id
    assert net.bans.score("192.0.2.66") == 50  # invalid_block
    assert counts["block_decode"] == 2  # the shadow and the first real copy, not the others


def _tampered(chain: Chain, keys: dict[bytes, Any], block: Block, how: str) -> Block:
    """``block`` with one defect, re-signed by its own generator where that is possible."""
    h = block.header
    key = keys[h.generator_public_key]
    if how == "signature":
        return Block(replace(h, block_signature=bytes(64)), block.transactions)
    if how == "reveal":
        other = next(k for k in keys if k != h.generator_public_key)
        from etm_bridge.chain import vrf
        from etm_bridge.chain.rounds import reveal_alpha

        wrong = vrf.prove(keys[other].seed, reveal_alpha(chain.params.network_id, 10**6))
        return Block(replace(h, reveal=wrong).signed(key, chain.genesis_id), block.transactions)
    [tx] = block.transactions
    bad = replace(tx, signature=bytes(64))
    length, root = payload_summary([bad])
    header = replace(h, payload_length=length, payload_hash=root).signed(key, chain.genesis_id)
    return Block(header, (bad,))


@pytest.mark.parametrize("how", ["signature", "reveal", "transaction"])
def test_an_invalid_block_in_the_middle_of_a_sync_reply_keeps_the_valid_ones(how: str) -> None:
    """A peer answers the sync's range requests with a chain whose block 60 has a bad
    signature, a reveal that is not its generator's VRF proof, or a badly signed transaction
    (each re-signed so that it is the only defect). Blocks 1-59 are applied and kept (block
    60 is in the middle of a chunk of 50 applied in one store transaction), block 60 and
    everything after it are refused, and the peer pays for an invalid block."""
    chain, keys = _chain(age_s=400)
    source = Chain(ChainStore.memory(), chain.genesis)
    users = [dev_key("user-0"), dev_key("user-1")]
    now = chain.params.genesis_time
    while source.tip.height < 80:
        height = source.tip.height
        source.submit_tx(_transfer(users[height % 2], height // 2, chain.params.network_id))
        while source.tip.height == height:
            now += 1
            source.forge_next(now, keys)
    served = {h: source.block_by_height(h) for h in range(1, 81)}
    served[60] = _tampered(chain, keys, served[60], how)

    async def sync() -> P2PNetwork:
        net = P2PNetwork(chain, P2PSettings())
        net.syncer.started -= 60  # past the startup grace
        peer = Peer(FrameLink([], "192.0.2.66"), outbound=True)
        peer.hello = Hello(network=0, genesis=bytes(32), protocol=PROTOCOL_VERSION, height=80,
                           tip=bytes(32), finalized=0, port=0, node_id=os.urandom(16))  # fmt: skip
        peer.height = 80
        net.peers[peer.node_id] = peer

        async def serve() -> None:
            while True:
                frame = await peer._outbox.get()
                msg = decode_frame(frame) if frame else None
                if isinstance(msg, GetBlocks):
                    top = min(80, msg.from_height + msg.count - 1)
                    blocks = tuple(served[h] for h in range(msg.from_height, top + 1))
                    peer.resolve(Blocks(msg.request_id, blocks))

        server = asyncio.create_task(serve())
        await net.syncer.catch_up()
        server.cancel()
        return net

    net = asyncio.run(sync())
    assert chain.tip.height == 59
    assert chain.store.digest_at(59) == source.store.digest_at(59)
    assert net.bans.score("192.0.2.66") == 50


def test_every_sender_of_a_block_beyond_the_slot_pays_not_only_the_first() -> None:
    """The dedupe must not turn a copy of a block claiming a height beyond the current slot
    into a free claim: each sender of the same bytes pays ``bad_claim`` and none raises what
    the node believes of its height (``test_p2p_claims.py`` has the single-sender attack)."""
    chain, keys = _chain()
    source = Chain(ChainStore.memory(), chain.genesis)
    now, real = etm_time(time.time()), None
    while real is None:
        real = source.forge_next(now, keys)
        now += 1
    liar = Block(replace(real.header, height=2**32 - 1, timestamp=2**32 - 1))
    frame = encode_frame(BlockMsg(liar))

    async def run() -> tuple[P2PNetwork, list[Peer]]:
        net = P2PNetwork(chain, P2PSettings())
        peers = [_peer([frame], f"192.0.2.{i}") for i in (1, 2, 3)]
        await _read_all(net, *peers)
        return net, peers

    net, peers = asyncio.run(run())
    assert [net.bans.score(f"192.0.2.{i}") for i in (1, 2, 3)] == [20, 20, 20]
    assert all(p.height == 0 for p in peers)


def test_a_block_sent_before_its_parent_does_not_poison_the_cache_for_honest_copies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cache poisoning: a peer that hears block 2 first sends it to us before block 1 reached
    us, so we cannot apply it (``unknown_parent``). Its bytes were cached before it was
    applied, so the same block from every honest peer, right after block 1, was dropped unread
    and we stayed at height 1 until sync (from whichever peer the fork hint named, the
    attacker here) found it. Only bytes of a block we hold are cached now."""
    chain, keys = _chain()
    source = Chain(ChainStore.memory(), chain.genesis)
    now, blocks = etm_time(time.time()) - 5, []
    while len(blocks) < 2:
        block = source.forge_next(now, keys)
        if block is not None:
            blocks.append(block)
        now += 1
    first, second = blocks
    assert second.header.previous_block == first.id
    counts = _counting(monkeypatch)

    async def run() -> P2PNetwork:
        net = P2PNetwork(chain, P2PSettings())
        attacker = _peer([encode_frame(BlockMsg(second))], "192.0.2.66")
        honest = [_peer([encode_frame(BlockMsg(b)) for b in blocks], f"192.0.2.{i}")
                  for i in (1, 2)]  # fmt: skip
        await _read_all(net, attacker, *honest)
        return net

    net = asyncio.run(run())
    assert chain.tip.block_id == second.id
    assert net.bans.score("192.0.2.66") == 0  # an early block is no offence
    assert counts["block_decode"] == 3  # the early copy, then each block once


def test_every_sender_of_an_invalid_block_pays_not_only_the_first() -> None:
    """Ban scoring: the bytes of an invalid block (a bad block signature) were cached on
    first sight, so every later copy, from any peer, was dropped unread and cost nothing."""
    chain, keys = _chain()
    source = Chain(ChainStore.memory(), chain.genesis)
    now, real = etm_time(time.time()) - 5, None
    while real is None:
        real = source.forge_next(now, keys)
        now += 1
    bad = Block(replace(real.header, block_signature=bytes(64)), real.transactions)
    frame = encode_frame(BlockMsg(bad))

    async def run() -> P2PNetwork:
        net = P2PNetwork(chain, P2PSettings())
        await _read_all(net, *[_peer([frame], f"192.0.2.{i}") for i in (1, 2, 3)])
        return net

    net = asyncio.run(run())
    assert [net.bans.score(f"192.0.2.{i}") for i in (1, 2, 3)] == [50, 50, 50]
    assert chain.tip.height == 0


def test_a_transaction_sent_before_its_predecessor_is_still_taken_from_honest_peers() -> None:
    """Cache poisoning: a peer relays a user's nonce-1 transaction before we hold nonce 0, so
    we refuse it ``wrong_nonce`` (no blame: honest peers' states differ). Its id was remembered
    as seen anyway, so the same transaction from every honest peer, right after nonce 0, was
    dropped unread and never reached our mempool (nor the blocks we forge)."""
    chain, _ = _chain()
    user = dev_key("user-0")
    tx0, tx1 = (_transfer(user, n, chain.params.network_id) for n in (0, 1))

    async def run() -> P2PNetwork:
        net = P2PNetwork(chain, P2PSettings())
        attacker = _peer([encode_frame(Txs((tx1,)))], "192.0.2.66")
        honest = [_peer([encode_frame(Txs((tx0, tx1)))], f"192.0.2.{i}") for i in (1, 2)]
        await _read_all(net, attacker, *honest)
        return net

    net = asyncio.run(run())
    assert tx0.id in chain.mempool and tx1.id in chain.mempool
    assert net.bans.score("192.0.2.66") == 0


@pytest.mark.parametrize("reason", ["spv_duplicate", "outcome_replayed"])
def test_a_race_lost_to_another_copy_of_the_same_work_costs_the_relaying_peer_nothing(
    reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two relayers feeding the same headers, or two custody signers proving the same spend:
    the second transaction is refused because the first landed, though every peer that relayed
    it saw it valid. Blaming those peers banned honest nodes of a committee (p14's finding)."""
    chain, _ = _chain()
    tx = _transfer(dev_key("user-0"), 0, chain.params.network_id)

    def refuse(_tx: Tx) -> None:
        raise TxRejectedError(reason, "the same work landed first")

    monkeypatch.setattr(chain, "submit_tx", refuse)

    async def run() -> P2PNetwork:
        net = P2PNetwork(chain, P2PSettings())
        await _read_all(net, _peer([encode_frame(Txs((tx,)))], "192.0.2.7"))
        return net

    assert asyncio.run(run()).bans.score("192.0.2.7") == 0
