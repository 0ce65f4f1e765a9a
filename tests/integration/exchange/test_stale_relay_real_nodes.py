"""Issue 11, attack 2 end to end on real nodes: a stale relay no longer stretches time.

A throwaway Bitcoin regtest node (bitcoind or bcoin) whose clock is set back with
``setmocktime``, so that its blocks carry realistic timestamps (ten minutes apart, the last one
about 45 minutes ago), and a real ETM node process (``node init`` chain with the SPV relays and
the exchange; development pools allowed). An operator's BTC pool holds liquidity.

The attacker locks 0.001 BTC to the pool for 72 blocks, waits until 73 more blocks made it
refundable, relays only as far as suits them and submits the SPV proof of the lock. Before the
fix ETM measured the lock's time left against the relay tip it was given (72 blocks: 12 h) and
opened a ~6 h leg of pool ETM while the attacker refunded the BTC. Now ETM refuses the proof at
every relay height the attacker can pick (``stale_relay`` while the tip lags ETM time by more
than 2 h, ``late_proof`` once the elapsed time counts), the pool keeps its ETM, and the attacker
only gets their own BTC back. A control lock made now, on the same nodes, is accepted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from etm_bridge_regtest.bitcoin import BitcoinNode
from etm_bridge_regtest.demo.parties import BitcoinRpc, Party, World
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in
from etm_bridge_regtest.throwaway import bitcoin_node_in

from etm_bridge.adapter import HtlcTerms, Tip
from etm_bridge.chain.codec import sha256d
from etm_bridge.errors import TxRejectedError
from etm_bridge.etm_client.exchange import proof_bytes
from etm_bridge.etm_client.header_feed import HeaderSource, relay_missing_headers
from etm_bridge.etm_client.submit import sign_and_submit
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as xt
from etm_bridge.hashlock import sha256
from etm_bridge.testing.preimages import new_preimage
from etm_bridge.units import ETM

LOCK_SAT, DEPOSIT_SAT, DEPOSIT_ETM = 100_000, 1_000_000, 100 * ETM
SPACING_S = 600
BACK_S = 13 * 3600  # the chain starts 13 h ago: 74 blocks of 10 minutes end ~45 min ago


class UpTo:
    """What an attacker who relays on demand shows ETM: the node's chain, cut at ``height``."""

    def __init__(self, source: HeaderSource, height: int) -> None:
        self.source, self.height = source, height

    def tip(self) -> Tip:
        [header] = self.source.headers(self.height, 1)
        return Tip(self.height, sha256d(header)[::-1].hex())

    def headers(self, start_height: int, count: int) -> list[bytes]:
        return self.source.headers(start_height, min(count, self.height - start_height + 1))


def _clock_back(btc: BitcoinNode) -> None:
    """Set the node's clock BACK_S back. Bitcoin Core's wallet skips blocks older than its
    birth time (less a 2 h window), so its faucet wallet is replaced by one born then."""
    btc.rpc.call("setmocktime", int(time.time()) - BACK_S)
    if btc.kind == "bitcoind":
        for name in btc.rpc.call("listwallets"):
            btc.rpc.call("unloadwallet", name)
        btc.rpc.call("createwallet", "born-back-then")
        btc._faucet = None  # a fresh faucet address, in that wallet


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[BitcoinNode, EtmNodeProcess]]:
    with bitcoin_node_in(tmp_path / "btc") as btc:
        _clock_back(btc)
        with etm_node_in(tmp_path / "etm", delegates=3, block_time_s=1, funded_accounts=1) as etm:
            yield btc, etm


def _mine_at(btc: BitcoinNode, when: int) -> int:
    btc.rpc.call("setmocktime", when)
    btc.mine(1)
    return btc.height()


def _proof_of(world: World, user: Party, lock) -> bytes:
    adapter = world.btc_adapter(user)
    try:
        return proof_bytes("btc", lock, adapter.inclusion_proof(lock.lock_id))
    finally:
        adapter.close()


def _prove(world: World, user: Party, lock, proof: bytes) -> dict:
    payload = pl.SwapIn("btc", user.etm_address, LOCK_SAT, lock.terms.hashlock, 1, proof)
    return sign_and_submit(world.client, user.etm_key, xt.SWAP_IN, pl.encode_payload(payload))


def _rejected(world: World, user: Party, lock, proof: bytes) -> str:
    with pytest.raises(TxRejectedError) as exc:
        _prove(world, user, lock, proof)
    return exc.value.reason


def test_a_stale_relay_cannot_open_pool_etm_against_a_refundable_lock(nodes, tmp_path) -> None:
    btc, etm = nodes
    client = etm.client
    assert client is not None
    btc.mine(101)  # the faucet's coinbase matures (at the mocked time, 13 h ago)
    rpc = BitcoinRpc(btc.rpc_url, btc.rpc_user, btc.rpc_password)
    world = World(rpc, client.url, btc.height())
    operator, investor, user = (Party.new(n, tmp_path) for n in ("operator", "investor", "user"))
    for party in (operator, investor, user):
        world.fund_etm(party, 1_000 * ETM)
        adapter = world.btc_adapter(party)
        btc.fund(adapter.address(), 5 * DEPOSIT_SAT)
        adapter.close()
    world.create_pool(operator, "btc", 3_000, 1)
    world.bind_btc(investor)
    world.bind_btc(user)
    world.deposit_btc(investor, DEPOSIT_SAT, DEPOSIT_ETM, btc.mine)
    pool_before = client.pool("btc")

    # the attacker's lock: refundable after 72 blocks
    start = int(time.time()) - BACK_S + 120
    attacker = world.btc_adapter(user)
    source = attacker  # the Bitcoin adapter is a header source
    try:
        timelock = btc.height() + 1 + 72
        claim_key = bytes.fromhex(pool_before["claim_key"])
        terms = HtlcTerms(LOCK_SAT, sha256(new_preimage()), claim_key, user.btc_pubkey, timelock)
        lock = attacker.lock(terms)
        lock_height = _mine_at(btc, start)
        for i in range(1, 74):  # 73 more blocks, ten minutes apart: the lock is refundable
            _mine_at(btc, start + i * SPACING_S)
        assert btc.height() == timelock + 1
        lock = attacker.get_lock(lock.lock_id)
        assert lock.block_height == lock_height
        proof = _proof_of(world, user, lock)

        # relay only to the lock's depth: by that tip 72 blocks (12 h) remain
        relay_missing_headers(client, user.etm_key, UpTo(source, lock_height), chain="btc")
        assert _rejected(world, user, lock, proof) == "stale_relay"
        # as far as the freshness bound still refuses (the tip's time lags ETM by > 2 h) ...
        relay_missing_headers(client, user.etm_key, UpTo(source, lock_height + 60), chain="btc")
        assert _rejected(world, user, lock, proof) == "stale_relay"
        # ... just inside it (lag ~1.6 h): the elapsed time is counted, the lock is late
        relay_missing_headers(client, user.etm_key, UpTo(source, lock_height + 68), chain="btc")
        assert _rejected(world, user, lock, proof) == "late_proof"
        relay_missing_headers(client, user.etm_key, source, chain="btc")  # everything
        assert _rejected(world, user, lock, proof) == "late_proof"

        assert client.pool("btc") == pool_before  # no pool ETM reserved, none locked
        assert client.htlcs(terms.hashlock) == []
        refund = attacker.refund(lock)  # the attacker only gets their own BTC back
        btc.rpc.call("setmocktime", int(time.time()))
        btc.mine(1)
        assert attacker.find_spend(attacker.get_lock(lock.lock_id)).txid == refund.txid

        # control: the same proof path accepts a lock made now against a fresh relay
        fresh = HtlcTerms(LOCK_SAT, sha256(new_preimage()), claim_key, user.btc_pubkey,
                          btc.height() + 1 + 72)  # fmt: skip
        good = attacker.lock(fresh)
        btc.mine(1)
        good = attacker.get_lock(good.lock_id)
        relay_missing_headers(client, user.etm_key, source, chain="btc")
        accepted = _prove(world, user, good, _proof_of(world, user, good))
        assert accepted["status"] == "confirmed"
        [htlc] = client.htlcs(fresh.hashlock)
        leg_s = int(htlc["deadline_s"]) - int(client.block(int(accepted["height"]))["timestamp"])
        assert 3600 <= leg_s <= 6 * 3600  # a bounded ETM leg, with its wall-clock deadline
    finally:
        attacker.close()
