"""Review a13d: gossiped transactions that cost the sender nothing must cost the node nothing.

A transaction refused for a reason an honest peer can cause (``wrong_nonce``,
``insufficient_balance``: our state may differ from the peer's) costs the peer no ban score, and
``txs`` messages carry 1,000 transactions each at up to 200 messages a second. Admission verified
the ed25519 signature before it looked at the sender's nonce and balance, so a peer sending
validly signed transfers from fresh, unfunded keys (or with a nonce far ahead) made the node
verify 1,000 signatures per message, for free: 200,000 a second requested from one connection,
far beyond a core, and the forger shares that thread. Now admission looks at the nonce and the
balance first (state reads) and verifies the signature only of a transaction that could be
admitted. Performed through the real gossip path and a real chain: the flood's signatures are no
longer verified at all, a funded sender's transaction still is, and a badly signed one is still
refused and penalized."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace
from typing import Any

import pytest

from etm_bridge.chain import tx as tx_module
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams, etm_time
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.node.p2p.messages import PROTOCOL_VERSION, Hello, Txs, encode_frame
from etm_bridge.node.p2p.network import P2PNetwork
from etm_bridge.node.p2p.peer import TXS_PER_S, LinkClosed, Peer
from etm_bridge.node.p2p.settings import P2PSettings
from etm_bridge.store import ChainStore


class QuietLink:
    """A link that records nothing and never receives (the gossip path is called directly)."""

    remote_host = "192.0.2.7"

    async def send(self, data: bytes) -> None:
        return None

    async def recv(self) -> bytes:
        await asyncio.sleep(3600)
        return b""

    async def close(self, code: int, reason: str) -> None:
        return None


FEE = 1_000_000


def _transfer(key: Any, nonce: int, network: int, fee: int = FEE) -> Tx:
    payload = TransferPayload(b"\x01" * 20, 1).encode()
    return Tx.create(key, network=network, type_id=TRANSFER, nonce=nonce, fee=fee,
                     payload=payload)  # fmt: skip


def test_free_to_send_transactions_cost_no_signature_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    params = replace(ChainParams(), genesis_time=etm_time(time.time()) - 20, block_time_s=1)
    genesis, _keys = dev_genesis(params, 3, funded=2)
    chain = Chain(ChainStore.memory(), genesis)
    net_id = params.network_id
    funded = dev_key("user-0")
    flood = [_transfer(dev_key(f"stranger-{i}"), 0, net_id) for i in range(1_000)]  # no balance
    flood += [_transfer(funded, 10_000 + i, net_id) for i in range(500)]  # nonce far ahead
    checked: list[bytes] = []
    real_verify = tx_module.verify

    def counting_verify(public_key: bytes, digest: bytes, signature: bytes) -> bool:
        checked.append(public_key)
        return bool(real_verify(public_key, digest, signature))

    monkeypatch.setattr(tx_module, "verify", counting_verify)

    async def send() -> tuple[P2PNetwork, Peer, QuietLink]:
        net = P2PNetwork(chain, P2PSettings())
        link = QuietLink()
        peer = Peer(link, outbound=False)
        for i in range(0, len(flood), 1_000):
            net.gossip.on_txs(peer, Txs(tuple(flood[i : i + 1_000])))
        good = _transfer(funded, 0, net_id)
        bad = replace(_transfer(funded, 1, net_id), signature=bytes(64))
        net.gossip.on_txs(peer, Txs((good, bad)))
        await asyncio.sleep(0.01)
        return net, peer, link

    net, peer, _link = asyncio.run(send())
    # before the fix: 1,502 signature checks, 1,500 of them for transactions that cost nothing
    assert len(checked) == 2, f"{len(checked)} signatures verified for a free flood"
    assert len(chain.mempool) == 1  # the funded sender's transfer is in
    assert net.bans.score("192.0.2.7") == 20  # the badly signed one is still an invalid tx
    assert not peer.closed


class FrameLink(QuietLink):
    """Frames from the peer, in order; then the connection ends."""

    def __init__(self, frames: list[bytes]):
        self.frames = frames

    async def recv(self) -> bytes:
        if not self.frames:
            raise LinkClosed(1000, "done")
        return self.frames.pop(0)


def test_a_peer_cannot_make_the_node_process_unbounded_transactions() -> None:
    """Review a13d: the per-peer limit counted messages (200/s), and a ``txs`` message holds
    1,000 transactions, so one peer could make the node decode and look up 200,000 free
    transactions a second (about 25 ms of CPU per message even without signature checks:
    five seconds of CPU per second). A peer now has a budget of transactions too (5,000/s,
    burst 20,000: a 1-second chain includes at most 5,000 a block), read from the message's
    count before it is decoded; beyond it a message is dropped and costs ``rate_limited``."""
    params = replace(ChainParams(), genesis_time=etm_time(time.time()) - 20, block_time_s=1)
    genesis, _keys = dev_genesis(params, 3, funded=2)
    chain = Chain(ChainStore.memory(), genesis)
    sender = dev_key("stranger").public_key  # no balance: refused for free
    payload = TransferPayload(b"\x01" * 20, 1).encode()
    frames = [
        encode_frame(
            Txs(
                tuple(
                    Tx(
                        params.network_id,
                        TRANSFER,
                        sender,
                        m * 1_000 + i,
                        FEE,
                        payload,
                        b"\x02" * 64,
                    )
                    for i in range(1_000)
                )
            )
        )
        for m in range(60)
    ]

    async def flood() -> tuple[P2PNetwork, Peer, float]:
        net = P2PNetwork(chain, P2PSettings())
        peer = Peer(FrameLink(frames), outbound=False)
        peer.hello = Hello(network=0, genesis=bytes(32), protocol=PROTOCOL_VERSION, height=0,
                           tip=bytes(32), finalized=0, port=0, node_id=b"\x07" * 16)  # fmt: skip
        started = time.monotonic()
        with contextlib.suppress(LinkClosed):
            await net._read_loop(peer)
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.01)
        return net, peer, elapsed

    net, peer, elapsed = asyncio.run(flood())
    processed = len(net.gossip.seen_txs)
    # the bucket's bound: the burst plus what refilled while the loop ran (slower under load);
    # before: all 60,000 decoded and looked up within the message rate (burst 400 messages)
    bound = 4 * TXS_PER_S + TXS_PER_S * elapsed
    assert processed <= bound, f"{processed} transactions from one peer in {elapsed:.2f} s"
    assert peer.closed  # the flood earns rate_limited until the ban
