"""One of the stack's 4 ETM delegate nodes killed mid-swap: the swap still ends claimed_both.

A private stack (own state dir and ports) with the demo's parties and BTC pool
(``scenario.prepare``); the demo's world talks to all 4 nodes (a NodeSet, as the CLI does with
the stack's ``client.toml``). A BTC -> ETM pool swap starts; once the user's Bitcoin lock is
seen, node 0 (the first endpoint: where reads went) is killed with SIGKILL. The other 3
delegates keep forging and finalizing (3 of 4 is more than two thirds), the engines fail over to
them, and the swap ends ``claimed_both`` for both parties. With node 0 still down, ``stack
faucet`` pays ETM and ``stack operator``'s obligation payer pays and proves an LP's BTC
withdrawal (both talk to every node of the stack). Then ``stack up`` starts only the killed
node, which catches up with the others.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from etm_bridge_regtest import procs
from etm_bridge_regtest.bitcoin import BitcoinNode
from etm_bridge_regtest.demo import operator
from etm_bridge_regtest.demo.engines import PoolSwaps
from etm_bridge_regtest.demo.parties import ETM_FEE, BitcoinRpc, World
from etm_bridge_regtest.demo.scenario import load_parties, prepare
from etm_bridge_regtest.etm_node import NETWORK_NODES
from etm_bridge_regtest.faucet import fund_wallet
from etm_bridge_regtest.stack import StackConfig, down, port_span, status, up

from etm_bridge.app import liquidity
from etm_bridge.node.client import NodeClient
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.units import ETM

pytestmark = pytest.mark.bitcoin


def _base_port() -> int:
    span = port_span(NETWORK_NODES)
    base = procs.free_port()
    while base + span >= 32768 or not all(
        procs.port_is_free(base + off) for off in range(span + 1)
    ):
        base = procs.free_port()
    return base


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[StackConfig]:
    env = {"ETM_STACK_DIR": str(tmp_path / "stack"), "ETM_STACK_BASE_PORT": str(_base_port())}
    config = StackConfig.from_env(env)
    try:
        yield config
    finally:
        down(config)


def test_a_node_killed_mid_swap_and_the_swap_ends_claimed_both(
    stack: StackConfig, tmp_path: Path
) -> None:
    report = up(stack)
    etm, b = report["etm"], report["bitcoin"]
    urls = list(etm["urls"])
    assert len(urls) == NETWORK_NODES
    btc = BitcoinNode(rpc_url=b["rpc_url"], rpc_user=b["rpc_user"],
                      rpc_password=b["rpc_password"], kind=b["kind"],
                      faucet=b.get("faucet_address"))  # fmt: skip
    if btc.height() < 101:
        btc.mine(101 - btc.height())
    rpc = BitcoinRpc(btc.rpc_url, btc.rpc_user, btc.rpc_password)
    parties, birth = load_parties(stack.state_dir / "demo", btc.height())
    world = World(rpc, urls, birth)  # every read and write on all 4 nodes (a NodeSet)
    prepare(world, btc, parties, lambda _: None)
    swaps = PoolSwaps(world, parties["user"], parties["operator"], tmp_path / "u.db", btc.mine)
    both = (Role.USER, Role.OPERATOR)
    try:
        terms = swaps.start_swap_in(100_000)
        swaps.run_until(terms.swap_id, {SwapState.USER_LOCKED, SwapState.LOCK_CONFIRMED},
                        timeout_s=60)  # fmt: skip
        victim = procs.pidfile_process(stack.pidfile("etm-0"))
        assert victim is not None
        os.killpg(victim, signal.SIGKILL)  # a crash of the first endpoint, mid-swap
        procs.wait_until(lambda: not procs.group_alive(victim), timeout_s=10, what="etm-0 dead")
        swaps.run_until(terms.swap_id, {SwapState.CLAIMED_BOTH}, roles=both, timeout_s=150)
    finally:
        print("\n".join(swaps.log))
        swaps.close()
    nodes = status(stack)["etm"]["nodes"]
    assert [n["running"] for n in nodes] == [False] + [True] * (NETWORK_NODES - 1)
    survivors = [NodeClient(u).status() for u in urls[1:]]
    assert min(s["finalizedHeight"] for s in survivors) > 0

    # node 0 still down: the faucet and the stack's operator talk to every node, so they work
    paid = fund_wallet(stack, parties["user"].public(), btc_sat=0, eth_wei=0, etm_units=ETM)
    assert paid["etm"]["amount"] == ETM
    investor = parties["investor"]
    [position] = [p for p in world.client.positions(investor.etm_address) if p["asset"] == "btc"]
    inv_ctx = world.context(investor, {"etm": world.etm_adapter(investor)})
    _tx, owed = liquidity.lp_withdraw(inv_ctx, "btc", int(position["shares"]) // 10, fee=ETM_FEE)
    ctx, _watcher = operator.operator_engine(stack)
    mine, close_miner = operator.block_miner(stack)
    try:  # `stack operator`'s payer: the generic use case, Bitcoin's payment from its profile
        settled = operator.obligation_payer(ctx, tmp_path / "journal.json", mine)()
    finally:
        close_miner()
        operator.close_engine(ctx)
    assert [p.obligation_id for p in settled] == [int(o["obligation_id"]) for o in owed]
    assert {o["status"] for o in world.client.obligations(investor.etm_address)} == {"paid"}

    # `stack up` starts only the killed node; it catches up with the others
    again = up(stack)["etm"]
    assert again["action"].startswith("started etm-0")
    tip = max(int(NodeClient(u).status()["height"]) for u in urls[1:])
    procs.wait_until(lambda: int(NodeClient(urls[0]).status()["height"]) >= tip,
                     timeout_s=30, what="etm-0 catching up")  # fmt: skip
