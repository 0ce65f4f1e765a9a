"""A user's Bitcoin lock reorganised out of a real regtest node, before and after the anvil
counter lock (the ``etm_to_foreign`` shape of swap_world: no SPV proof step, the counter lock
plays the proof's role). The reorg is a longer competing branch handed to the node with
``submitblock`` (btc_fork). Documented ends (docs/swaps.md, Known limits): before the counter
lock both sides step back to ``created`` (explicit ``user_lock_reorged``) and follow the lock
again if the node re-mines it; after it, both sides fail
(``user_lock_reorged_after_counter_lock``), nobody reveals, and every lock still on a chain is
refunded. Funds: nobody loses more than fees, nothing is locked twice."""

from __future__ import annotations

import pytest
from btc_fork import reorg_out
from swap_world import ETH_WEI, SwapWorld

from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.swaps.core.model import ActionKind
from etm_bridge.swaps.core.states import TERMINAL

BTC_FEES_MAX, ETH_GAS_MAX = 20_000, ETH_WEI // 10


@pytest.fixture
def world_fixture(bitcoin_node, anvil_node, tmp_path) -> SwapWorld:
    return SwapWorld(bitcoin_node, anvil_node, tmp_path)


def _run(world: SwapWorld, watchers, done, steps: int = 80) -> None:
    for _ in range(steps):
        if done():
            return
        for w in watchers:
            w.tick()
        world.mine()
    rec = watchers[0].store.get("real1")
    raise AssertionError(f"{world.state(Role.USER)}, {world.state(Role.OPERATOR)}, {rec.intents}")


def _events(w) -> list[str]:
    return [t.event.value for t in w.store.transitions("real1")]


def _reorg_user_lock(world: SwapWorld, user) -> None:
    [lock] = user.adapters["bitcoin"].find_locks(sha256(world.preimage))
    assert lock.block_height is not None
    reorg_out(world.btc_node, lock.block_height)
    assert all(
        lk.block_height != lock.block_height or lk.txid != lock.txid
        for lk in user.adapters["bitcoin"].find_locks(sha256(world.preimage))
    )


def _both_saw_it_mined(world: SwapWorld, user) -> bool:
    if not world.state(Role.USER) is world.state(Role.OPERATOR) is SwapState.ETM_LOCKED:
        return False
    locks = user.adapters["bitcoin"].find_locks(sha256(world.preimage))
    return bool(locks) and locks[0].block_height is not None


def _both_ended(world: SwapWorld):
    return lambda: world.state(Role.USER) in TERMINAL and world.state(Role.OPERATOR) in TERMINAL


def test_a_btc_lock_reorged_out_before_the_counter_lock(world_fixture) -> None:
    """Both sides saw the lock; the operator waits for 3 confirmations; the lock's block is
    replaced. Both step back to ``created``. bitcoind re-mines the lock (the swap then goes on
    to claimed); bcoin 1.0.2 drops it: the swap waits in ``created``, the user does not lock a
    second time, the operator never counter-locks and the user's coins are back unspent."""
    world = world_fixture
    world.create(world.terms(user_confirmations=3))
    user, op = world.watcher(Role.USER), world.watcher(Role.OPERATOR)
    btc_before = user.adapters["bitcoin"].balance()
    try:
        _run(world, [user, op], lambda: _both_saw_it_mined(world, user))
        assert not op.store.get("real1").intents_of(ActionKind.LOCK_COUNTER_LEG)
        _reorg_user_lock(world, user)
        _run(world, [user, op], lambda: "user_lock_reorged" in _events(op), steps=3)
        assert "user_lock_reorged" in _events(user)
        if user.adapters["bitcoin"].find_locks(sha256(world.preimage)):  # re-mined
            _run(world, [user, op], _both_ended(world))
            assert world.state(Role.USER) is world.state(Role.OPERATOR) is SwapState.CLAIMED_BOTH
        else:
            for _ in range(6):  # nothing happens: no second lock, no counter lock
                for w in (user, op):
                    w.tick()
                world.mine()
            assert world.state(Role.USER) is world.state(Role.OPERATOR) is SwapState.CREATED
            assert not op.store.get("real1").intents_of(ActionKind.LOCK_COUNTER_LEG)
            assert user.adapters["bitcoin"].balance() == btc_before  # the coins came back
        assert len(user.store.get("real1").intents_of(ActionKind.LOCK_USER_LEG)) == 1
        assert len(op.store.get("real1").intents_of(ActionKind.LOCK_COUNTER_LEG)) <= 1
    finally:
        for w in (user, op):
            w.stop()


def test_a_btc_lock_reorged_out_after_the_counter_lock(world_fixture) -> None:
    world = world_fixture
    world.create(world.terms(user_blocks=50, counter_blocks=30, counter_confirmations=3))
    user, op = world.watcher(Role.USER), world.watcher(Role.OPERATOR)
    btc_before = user.adapters["bitcoin"].balance()
    eth_before = op.adapters["ethereum"].balance()
    try:
        _run(world, [user, op], lambda: world.state(Role.OPERATOR) is SwapState.COUNTER_LOCKED)
        _reorg_user_lock(world, user)
        _run(world, [user, op], _both_ended(world))
        for w in (user, op):
            assert "user_lock_reorged" in _events(w), _events(w)
        assert not user.store.get("real1").intents_of(ActionKind.CLAIM_COUNTER)  # never revealed
        assert world.state(Role.OPERATOR) is SwapState.REFUNDED
        assert world.state(Role.USER) is SwapState.REFUNDED, world.state(Role.USER)
        assert len(op.store.get("real1").intents_of(ActionKind.LOCK_COUNTER_LEG)) == 1
        assert len(user.store.get("real1").intents_of(ActionKind.LOCK_USER_LEG)) == 1
        world.mine()
        assert 0 <= btc_before - user.adapters["bitcoin"].balance() <= BTC_FEES_MAX
        assert 0 <= eth_before - op.adapters["ethereum"].balance() <= ETH_GAS_MAX
    finally:
        for w in (user, op):
            w.stop()
