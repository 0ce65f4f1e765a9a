"""The watcher drives swaps to the end on real nodes (see swap_world for the setup)."""

from __future__ import annotations

import pytest
from swap_world import BTC_SAT, SwapWorld

from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.swaps.core.model import ActionKind


@pytest.fixture
def world(bitcoin_node, anvil_node, tmp_path):
    return SwapWorld(bitcoin_node, anvil_node, tmp_path)


def _run(world: SwapWorld, watchers, done, steps: int = 80) -> None:
    for _ in range(steps):
        if done():
            return
        for w in watchers:
            w.tick()
        world.mine()
    raise AssertionError(f"user {world.state(Role.USER)}, operator {world.state(Role.OPERATOR)}")


def test_a_swap_on_real_nodes_ends_claimed_on_both_chains(world) -> None:
    world.create(world.terms())
    user, op = world.watcher(Role.USER), world.watcher(Role.OPERATOR)
    user_eth = user.adapters["ethereum"]
    op_btc = op.adapters["bitcoin"]
    eth_before, btc_before = user_eth.balance(), op_btc.balance()
    try:
        _run(
            world,
            [user, op],
            lambda: (
                world.state(Role.USER) is SwapState.CLAIMED_BOTH
                and world.state(Role.OPERATOR) is SwapState.CLAIMED_BOTH
            ),
        )
        world.mine()
        assert user_eth.balance() > eth_before  # got the ETH (minus the claim's gas)
        assert BTC_SAT - 5_000 < op_btc.balance() - btc_before <= BTC_SAT  # got the BTC - fee
        rec = op.store.get("real1")
        assert rec.preimage == world.preimage
        assert [t.to_state for t in op.store.transitions("real1")] == [
            SwapState.ETM_LOCKED,
            SwapState.COUNTER_LOCKED,
            SwapState.SECRET_REVEALED,
            SwapState.CLAIMED_BOTH,
        ]
    finally:
        for w in (user, op):
            w.stop()


def test_an_operator_that_never_locks_leaves_the_user_refunded_by_the_node(world) -> None:
    world.create(world.terms(user_blocks=8))
    user = world.watcher(Role.USER)
    try:
        _run(world, [user], lambda: world.state(Role.USER) is SwapState.REFUNDED)
        rec = user.store.get("real1")
        [refund] = rec.intents_of(ActionKind.REFUND_USER_LOCK)
        assert refund.result is not None and refund.result.txid
        assert [t.to_state for t in user.store.transitions("real1")] == [
            SwapState.ETM_LOCKED,
            SwapState.EXPIRED,
            SwapState.REFUNDED,
        ]
    finally:
        user.stop()


def test_a_counter_lock_reorged_out_of_anvil_sends_both_sides_back_and_they_refund(
    world, anvil_node
) -> None:
    """The user waits for 3 confirmations of the ETH counter lock; anvil_reorg removes it first.
    Both sides step back (explicit reorg event); the operator does not lock twice; both refund."""
    terms = world.terms(user_blocks=14, counter_confirmations=3)
    world.create(terms)
    user, op = world.watcher(Role.USER), world.watcher(Role.OPERATOR)
    try:
        _run(world, [user, op], lambda: world.state(Role.USER) is SwapState.COUNTER_LOCKED)
        [lock] = op.adapters["ethereum"].find_locks(terms.hashlock)
        depth = op.adapters["ethereum"].tip().height - lock.block_height + 1
        anvil_node.rpc.call("anvil_reorg", depth, [])
        assert op.adapters["ethereum"].find_locks(terms.hashlock) == []
        _run(
            world,
            [user, op],
            lambda: (
                world.state(Role.USER) is SwapState.REFUNDED
                and world.state(Role.OPERATOR) is SwapState.REFUNDED
            ),
        )
        for w in (user, op):
            events = [t.event.value for t in w.store.transitions("real1")]
            assert "counter_lock_reorged" in events
        assert len(op.store.get("real1").intents_of(ActionKind.LOCK_COUNTER_LEG)) == 1
        assert not user.store.get("real1").intents_of(ActionKind.CLAIM_COUNTER)
    finally:
        for w in (user, op):
            w.stop()
