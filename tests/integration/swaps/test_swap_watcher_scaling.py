"""The watcher's cost per block follows the blocks' HTLC activity, not the number of open swaps,
on real nodes: the Bitcoin and Ethereum adapters' ``htlc_activity`` tell it which hashlocks a
new block touched, so quiet blocks examine no swap and a lock examines its own swap only."""

from __future__ import annotations

from dataclasses import replace

from swap_world import SwapWorld

from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.swaps.core.model import SwapRecord
from etm_bridge.swaps.runtime.store import SwapStore

IDLE_SWAPS = 40


def test_quiet_blocks_examine_no_open_swap_and_a_lock_examines_only_its_swap(
    bitcoin_node, anvil_node, tmp_path
) -> None:
    world = SwapWorld(bitcoin_node, anvil_node, tmp_path)
    terms = world.terms()
    world.create(terms)
    store = SwapStore(world.db(Role.OPERATOR))
    for i in range(IDLE_SWAPS):  # users who never lock
        idle = replace(terms, swap_id=f"idle{i}", hashlock=sha256(b"idle" + bytes([i]) * 28))
        store.create(SwapRecord(idle, Role.OPERATOR))
    store.close()
    op = world.watcher(Role.OPERATOR)
    user_btc = world.adapters(Role.USER)["bitcoin"]
    try:
        assert op.tick().examined == IDLE_SWAPS + 1  # the first look at every swap
        assert op.tick().examined == 0
        for _ in range(3):
            world.mine()  # a Bitcoin and an Ethereum block, no HTLC in them
            report = op.tick()
            assert set(report.new_blocks) == {"bitcoin", "ethereum"}
            assert report.examined == 0, report
        user_btc.lock(terms.user_leg.htlc_terms(terms.hashlock))
        bitcoin_node.mine(1)
        report = op.tick()
        assert report.examined == 1
        assert {t.swap_id for t in report.transitions} == {"real1"}
        assert op.store.get("real1").state is not SwapState.CREATED
        assert all(op.store.get(f"idle{i}").state is SwapState.CREATED for i in range(IDLE_SWAPS))
    finally:
        op.stop()
        user_btc.close()
