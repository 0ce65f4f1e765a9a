"""Review a13d: what a peer says about its height is bounded and, unproven, moves nothing.

In-process (a real chain on an in-memory store, the real peer layer, no sockets)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from etm_bridge.chain.block import Block
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams, etm_time
from etm_bridge.node.p2p.messages import BlockMsg
from etm_bridge.node.p2p.network import P2PNetwork
from etm_bridge.node.p2p.peer import Peer
from etm_bridge.node.p2p.settings import P2PSettings
from etm_bridge.store import ChainStore


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
