"""A finished swap re-observed by a Bitcoin adapter whose ``birth_height`` is above its lock
(the demo run twice on one stack): on a real regtest node the lock is invisible to that adapter,
and the swap must stay ``claimed_both`` with the gap reported, never step back to
``secret_revealed`` as if the claim had been reorganised out."""

from __future__ import annotations

from typing import Any

from etm_bridge_bitcoin import BitcoinAdapter
from swap_world import CONFIG, SwapWorld

from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.swaps.core.model import DepKind
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.swaps.runtime.watcher import Watcher


def _run_to_claimed_both(world: SwapWorld) -> None:
    user, op = world.watcher(Role.USER), world.watcher(Role.OPERATOR)
    try:
        for _ in range(80):
            if world.state(Role.USER) is world.state(Role.OPERATOR) is SwapState.CLAIMED_BOTH:
                break
            for w in (user, op):
                w.tick()
            world.mine()
        for w in (user, op):  # record the claim's block
            w.tick()
    finally:
        for w in (user, op):
            w.stop()


def test_a_claimed_swap_is_not_reorged_by_an_adapter_born_above_its_lock(
    bitcoin_node: Any, anvil_node: Any, tmp_path
) -> None:
    world = SwapWorld(bitcoin_node, anvil_node, tmp_path)
    world.create(world.terms())
    _run_to_claimed_both(world)
    assert world.state(Role.USER) is world.state(Role.OPERATOR) is SwapState.CLAIMED_BOTH
    store = SwapStore(world.db(Role.USER))
    before = store.get("real1")
    claim = next(r for r in before.depends_on if r.kind is DepKind.CLAIM)
    born = bitcoin_node.height()
    config = dict(world.configs[Role.USER]["bitcoin"], birth_height=born)
    config["data_dir"] = str(tmp_path / "btc-user-second-run")
    adapters = dict(world.adapters(Role.USER), bitcoin=BitcoinAdapter.from_config(config))
    assert adapters["bitcoin"].scan_start_height() == born > claim.height
    assert adapters["ethereum"].scan_start_height() == world.htlc.block_number  # from_block
    assert adapters["bitcoin"].find_locks(sha256(world.preimage)) == []  # invisible to it
    rerun = Watcher(store, adapters, owner="user-second-run", config=CONFIG)
    rerun.start()
    try:
        errors = []
        for _ in range(3):
            errors.append(rerun.tick().errors.get("real1", ""))
            world.mine()
    finally:
        rerun.stop()
    after = SwapStore(world.db(Role.USER)).get("real1")
    assert after.state is SwapState.CLAIMED_BOTH
    assert after.depends_on == before.depends_on
    assert "claim_reorged" not in [t.event.value for t in store.transitions("real1")]
    assert f"birth_height {born}" in errors[0] and str(claim.height) in errors[0]
