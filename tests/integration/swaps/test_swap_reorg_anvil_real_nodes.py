"""The user's lock on anvil reorganised out (``anvil_reorg``), before and after the operator's
Bitcoin counter lock: swap_world's legs flipped (ETH long leg, BTC short leg; 12 s vs 600 s
blocks, so the ETH leg is 450 blocks long and anvil mines the waits in bulk). Documented ends
as for Bitcoin (test_swap_reorg_real_nodes): before, both step back to ``created`` and anvil
drops the lock, so nothing more happens and the user's ETH is whole; after, both fail, nobody
reveals, the operator refunds its BTC and both end ``refunded`` paying fees only."""

from __future__ import annotations

import pytest
from swap_world import BTC_SAT, ETH_WEI, SwapWorld

from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import Role, SwapDirection, SwapState
from etm_bridge.swaps.core.model import ActionKind, LegTerms, SwapRecord, SwapTerms
from etm_bridge.swaps.core.policy import PolicyConfig
from etm_bridge.swaps.core.states import TERMINAL
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.swaps.runtime.watcher import Watcher, WatcherConfig

CONFIG = WatcherConfig(policy=PolicyConfig(leg_margin_s=60, retry_after_s=0))
BTC_FEES_MAX, ETH_GAS_MAX = 20_000, ETH_WEI // 10


@pytest.fixture
def world(bitcoin_node, anvil_node, tmp_path) -> SwapWorld:
    world = SwapWorld(bitcoin_node, anvil_node, tmp_path)
    op_btc = world.adapters(Role.OPERATOR)["bitcoin"]
    bitcoin_node.fund(op_btc.address(), 3 * BTC_SAT, confirm=False)
    bitcoin_node.mine(1)
    op_btc.close()
    return world


def _create(world: SwapWorld, counter_confirmations: int, user_confirmations: int) -> SwapTerms:
    user, op = world.adapters(Role.USER), world.adapters(Role.OPERATOR)
    try:
        eth_tip, btc_tip = user["ethereum"].tip().height, user["bitcoin"].tip().height
        terms = SwapTerms(
            "real1",
            SwapDirection.ETM_TO_FOREIGN,
            sha256(world.preimage),
            LegTerms(
                "ethereum",
                ETH_WEI,
                op["ethereum"].our_key(),
                user["ethereum"].our_key(),
                eth_tip + 450,
                user_confirmations,
            ),
            LegTerms(
                "bitcoin",
                BTC_SAT,
                user["bitcoin"].our_key(),
                op["bitcoin"].our_key(),
                btc_tip + 8,
                counter_confirmations,
            ),
            1_700_000_000,
            1_700_000_000 + 10**9,
            1,
        )
    finally:
        for a in (*user.values(), *op.values()):
            a.close()
    for role in Role:
        store = SwapStore(world.db(role))
        preimage = world.preimage if role is Role.USER else None
        store.create(SwapRecord(terms, role, preimage=preimage))
        store.close()
    return terms


def _watchers(world: SwapWorld) -> tuple[Watcher, Watcher]:
    made = []
    for role in (Role.USER, Role.OPERATOR):
        store = SwapStore(world.db(role))
        w = Watcher(store, world.adapters(role), owner=role.value, config=CONFIG)
        w.start()
        made.append(w)
    return made[0], made[1]


def _run(world: SwapWorld, watchers, done, steps: int = 40, eth_blocks: int = 1) -> None:
    for _ in range(steps):
        if done():
            return
        for w in watchers:
            w.tick()
        world.btc_node.mine(1)
        world.anvil.rpc.call("anvil_mine", hex(eth_blocks))
    raise AssertionError(f"user {world.state(Role.USER)}, operator {world.state(Role.OPERATOR)}")


def _both_ended(world: SwapWorld) -> bool:
    return world.state(Role.USER) in TERMINAL and world.state(Role.OPERATOR) in TERMINAL


def _events(w: Watcher) -> list[str]:
    return [t.event.value for t in w.store.transitions("real1")]


def _reorg_eth_lock(world: SwapWorld, user: Watcher, terms: SwapTerms) -> None:
    [lock] = user.adapters["ethereum"].find_locks(terms.hashlock)
    assert lock.block_height is not None
    depth = user.adapters["ethereum"].tip().height - lock.block_height + 1
    world.anvil.rpc.call("anvil_reorg", depth, [])
    assert user.adapters["ethereum"].find_locks(terms.hashlock) == []


def test_an_eth_lock_reorged_out_before_the_counter_lock(world) -> None:
    terms = _create(world, counter_confirmations=1, user_confirmations=3)
    user, op = _watchers(world)
    eth_before = user.adapters["ethereum"].balance()
    try:

        def both_saw_it_mined() -> bool:
            locks = user.adapters["ethereum"].find_locks(terms.hashlock)
            return (
                world.state(Role.USER) is world.state(Role.OPERATOR) is SwapState.ETM_LOCKED
                and bool(locks)
                and locks[0].block_height is not None
            )

        _run(world, [user, op], both_saw_it_mined)
        assert not op.store.get("real1").intents_of(ActionKind.LOCK_COUNTER_LEG)
        _reorg_eth_lock(world, user, terms)
        _run(world, [user, op], lambda: "user_lock_reorged" in _events(op), steps=3)
        assert "user_lock_reorged" in _events(user)
        for _ in range(6):  # nothing more happens: no second lock, no counter lock
            for w in (user, op):
                w.tick()
            world.btc_node.mine(1)
            world.anvil.rpc.call("anvil_mine", "0x1")
        assert world.state(Role.USER) is world.state(Role.OPERATOR) is SwapState.CREATED
        assert len(user.store.get("real1").intents_of(ActionKind.LOCK_USER_LEG)) == 1
        assert not op.store.get("real1").intents_of(ActionKind.LOCK_COUNTER_LEG)
        assert user.adapters["ethereum"].balance() == eth_before  # the lock tx is gone
    finally:
        for w in (user, op):
            w.stop()


def test_an_eth_lock_reorged_out_after_the_counter_lock(world) -> None:
    terms = _create(world, counter_confirmations=3, user_confirmations=1)
    user, op = _watchers(world)
    eth_before = user.adapters["ethereum"].balance()
    btc_before = op.adapters["bitcoin"].balance()
    try:
        _run(world, [user, op], lambda: world.state(Role.OPERATOR) is SwapState.COUNTER_LOCKED)
        assert world.state(Role.USER) is SwapState.COUNTER_LOCKED  # waits for 3 confirmations
        _reorg_eth_lock(world, user, terms)
        _run(world, [user, op], lambda: _both_ended(world), eth_blocks=50)
        for w in (user, op):
            assert "user_lock_reorged" in _events(w), _events(w)
        assert not user.store.get("real1").intents_of(ActionKind.CLAIM_COUNTER)  # never revealed
        assert world.state(Role.USER) is world.state(Role.OPERATOR) is SwapState.REFUNDED
        [counter] = op.adapters["bitcoin"].find_locks(terms.hashlock)
        assert counter.state.value == "refunded"
        world.btc_node.mine(1)
        assert 0 <= btc_before - op.adapters["bitcoin"].balance() <= BTC_FEES_MAX
        assert 0 <= eth_before - user.adapters["ethereum"].balance() <= ETH_GAS_MAX
    finally:
        for w in (user, op):
            w.stop()
