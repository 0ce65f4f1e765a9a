"""A forger that drops swap claims, on a real network of 4 delegate nodes (one module-wide
network, 1-second blocks) and the session's Bitcoin regtest node.

Node 0 runs with ``--unsafe-censor tx-types=htlc_claim``: it accepts ETM HTLC claims through its
API, never relays them and never includes them in its blocks, so a user who talks to it alone
reveals the swap's secret to it and waits. The operator's engine talks to an honest node.

1. The user's engine lists node 0 FIRST and the three others: a BTC -> ETM pool swap and an
   ETM -> BTC pool swap end ``claimed_both`` for both engines; the user's claim is in a block
   another delegate forged.
2. The user's engine lists node 0 ONLY: the claim is reported on the swap record as suspected
   censorship (a WARNING note from the watcher's inclusion check) while the ETM lock still has
   more than the reveal margin left, and nothing is lost: the secret never left node 0 (the
   operator has no preimage, nobody claimed the user's BTC lock, the pool's ETM lock is open).
   The refunds themselves come after the legs' timelocks (hours) and are not waited for here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from etm_bridge_regtest.demo.engines import CONFIG, PoolSwaps
from etm_bridge_regtest.demo.parties import BitcoinRpc, Party, World
from etm_bridge_regtest.etm_network import EtmNetwork

from etm_bridge.adapter import LockState
from etm_bridge.etm_client.endpoints import NodeSet
from etm_bridge.etm_client.htlc_leg import EtmAdapter
from etm_bridge.hashlock import blocks_for_seconds
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.units import ETM

pytestmark = pytest.mark.bitcoin

DEPOSIT_SAT, DEPOSIT_ETM = 1_000_000, 100 * ETM
SWAP_IN_SAT, SWAP_OUT_ETM = 100_000, 5 * ETM


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtmNetwork]:
    net = EtmNetwork(tmp_path_factory.mktemp("etm-censor"), 4, 4, block_time_s=1,
                     funded_accounts=2, spv=SpvSection(allow_dev_pools=True))  # fmt: skip
    net.nodes[0].args += ["--unsafe-censor", "tx-types=htlc_claim"]
    try:
        net.start()
        yield net
    finally:
        net.stop()


class NetWorld(World):
    """The demo's world on the network: set-up through honest node 1; each user's ETM leg on
    the endpoints ``user_urls`` names for it (a NodeSet)."""

    def __init__(self, rpc: BitcoinRpc, net: EtmNetwork, birth: int) -> None:
        super().__init__(rpc, net.client(1).url, birth)
        self.user_urls: dict[str, list[str]] = {}

    def etm_adapter(self, party: Party) -> EtmAdapter:
        urls = self.user_urls.get(party.name)
        if urls is None:
            return super().etm_adapter(party)
        return EtmAdapter(NodeSet.from_urls(urls), party.etm_seed)


@pytest.fixture(scope="module")
def world(net: EtmNetwork, bitcoin_node: Any, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A BTC pool with a deposit; (world, operator, root for the parties)."""
    root = tmp_path_factory.mktemp("parties")
    if bitcoin_node.height() < 101:
        bitcoin_node.mine(101 - bitcoin_node.height())
    rpc = BitcoinRpc(bitcoin_node.rpc_url, bitcoin_node.rpc_user, bitcoin_node.rpc_password)
    world = NetWorld(rpc, net, bitcoin_node.height())
    operator, investor = Party.new("operator", root), Party.new("investor", root)
    for party in (operator, investor):
        world.fund_etm(party, 1_000 * ETM)
        adapter = world.btc_adapter(party)
        bitcoin_node.fund(adapter.address(), 5 * DEPOSIT_SAT)
        adapter.close()
    world.create_pool(operator, "btc", 3_000, 1)
    world.bind_btc(investor)
    world.deposit_btc(investor, DEPOSIT_SAT, DEPOSIT_ETM, bitcoin_node.mine)
    return world, operator, root


def _user(world: NetWorld, root: Path, name: str, urls: list[str], bitcoin_node: Any) -> Party:
    user = Party.new(name, root)
    world.fund_etm(user, 1_000 * ETM)
    adapter = world.btc_adapter(user)
    bitcoin_node.fund(adapter.address(), 5 * DEPOSIT_SAT)
    adapter.close()
    world.bind_btc(user)
    world.user_urls[name] = urls
    return user


def test_the_claim_lands_through_the_other_forgers(net, world, bitcoin_node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w, operator, root = world
    urls = [net.client(i).url for i in (0, 1, 2, 3)]  # the censor first
    user = _user(w, root, "user-many", urls, bitcoin_node)
    swaps = PoolSwaps(w, user, operator, tmp_path / "user.db", bitcoin_node.mine)
    both = (Role.USER, Role.OPERATOR)
    try:
        assert swaps.user_ad["etm"].client.assess(force=True).trusted[0] == urls[0]
        t_in = swaps.start_swap_in(SWAP_IN_SAT)
        swaps.run_until(t_in.swap_id, {SwapState.CLAIMED_BOTH}, roles=both, timeout_s=150)
        [etm_lock] = swaps.user_ad["etm"].find_locks(t_in.hashlock)
        assert etm_lock.state is LockState.CLAIMED
        [claim] = [i for i in swaps.record(t_in.swap_id).intents if i.kind.value == "claim_counter"]
        assert claim.result is not None and claim.result.txid
        height = net.client(1).transaction(claim.result.txid)["height"]
        censor = set(net.client(0).forging_status()["publicKeys"])
        assert net.client(1).block(height)["generatorPublicKey"] not in censor
        t_out = swaps.start_swap_out(SWAP_OUT_ETM)
        swaps.run_until(t_out.swap_id, {SwapState.CLAIMED_BOTH}, roles=both, timeout_s=150)
    finally:
        print("\n".join(swaps.log))
        swaps.close()


def test_the_censor_alone_is_reported_before_the_margin_and_nothing_is_lost(  # type: ignore[no-untyped-def]
    net, world, bitcoin_node, tmp_path
) -> None:
    w, operator, root = world
    user = _user(w, root, "user-one", [net.client(0).url], bitcoin_node)
    swaps = PoolSwaps(w, user, operator, tmp_path / "user.db", bitcoin_node.mine)
    try:
        t_in = swaps.start_swap_in(SWAP_IN_SAT)
        warning, started = None, time.monotonic()
        while warning is None and time.monotonic() - started < 150:
            swaps.tick(1)
            rec = swaps.record(t_in.swap_id)
            assert rec is not None
            warning = next((n for n in rec.notes if "censorship suspected" in n), None)
            time.sleep(0.5)
        assert warning is not None, " | ".join(swaps.log[-12:])
        assert warning.startswith("WARNING etm: censorship suspected")
        [etm_lock] = net.client(1).htlcs(t_in.hashlock)  # read from an honest node
        assert etm_lock["status"] == "locked"
        tip = int(net.client(1).status()["height"])
        margin = max(t_in.reveal_margin_blocks,
                     blocks_for_seconds(CONFIG.policy.etm_reveal_margin_s, 1))  # fmt: skip
        assert int(etm_lock["expiry_height"]) - tip > margin  # reported before the margin
        op_rec = swaps.record(t_in.swap_id, Role.OPERATOR)
        assert op_rec is not None and op_rec.preimage is None  # the secret never left node 0
        [btc_lock] = swaps.op_ad["bitcoin"].find_locks(t_in.hashlock)
        assert swaps.op_ad["bitcoin"].find_spend(btc_lock) is None  # the user's BTC is safe
        for i in (1, 2, 3):
            assert net.client(i).pending_transactions(user.etm_address) == []
    finally:
        print("\n".join(swaps.log))
        swaps.close()
