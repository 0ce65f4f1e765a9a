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
from etm_bridge.node.p2p.messages import Txs
from etm_bridge.node.p2p.network import P2PNetwork
from etm_bridge.node.p2p.peer import Peer
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
