"""Reorganisations seen by the watcher, and a tick's cost not growing with idle open swaps."""

from __future__ import annotations

import pytest
from chainkit import reorg
from worldkit import World

from etm_bridge.swaps.core.fsm import Event, Role, SwapDirection, SwapState


def _events(world: World, role: Role) -> list[Event]:
    w = world.user if role is Role.USER else world.op
    return [t.event for t in w.store.transitions("w1")]


@pytest.mark.parametrize("scanning", [False, True])
def test_a_user_lock_reorged_before_the_proof_is_followed_again(tmp_path, scanning) -> None:
    world = World(tmp_path, SwapDirection.FOREIGN_TO_ETM, scanning=scanning)
    world.create()
    world.run_until(lambda: world.state(Role.OPERATOR) is SwapState.LOCK_CONFIRMED, op=True)
    # hold the proof back: the reorg happens before anyone proves the lock
    lock_height = next(iter(world.btc.locks.values())).block_height
    reorg(world.btc, world.btc.tip_height - lock_height + 1)
    world.op.tick()
    assert Event.USER_LOCK_REORGED in _events(world, Role.OPERATOR)
    world.run_until(lambda: world.both_end(SwapState.CLAIMED_BOTH))
    assert Event.USER_LOCK_REORGED in _events(world, Role.USER)


def test_a_user_lock_reorged_after_the_counter_lock_fails_the_operator_side_safely(tmp_path):
    """The pool's ETM is locked against a Bitcoin lock that a reorg removes: the operator's
    swap fails (it will only refund, never reveal); the lock is mined again, the user claims,
    and the operator still collects its BTC with the revealed secret."""
    world = World(tmp_path, SwapDirection.FOREIGN_TO_ETM)
    world.create()
    world.run_until(lambda: bool(world.etm.locks))  # the pool's counter lock is out
    world.op.tick()
    assert world.state(Role.OPERATOR) is SwapState.COUNTER_LOCKED
    lock_height = next(iter(world.btc.locks.values())).block_height
    reorg(world.btc, world.btc.tip_height - lock_height + 1)
    world.op.tick()
    op = world.op.store.get("w1")
    assert op.state is SwapState.FAILED
    assert op.failure == "user_lock_reorged_after_counter_lock"
    world.run_until(lambda: world.both_end(SwapState.CLAIMED_BOTH))
    assert Event.USER_LOCK_REORGED in _events(world, Role.USER)


def test_a_reorged_final_claim_is_noticed_and_the_swap_ends_claimed_again(tmp_path) -> None:
    world = World(tmp_path, SwapDirection.ETM_TO_FOREIGN)
    world.create()
    world.run_until(lambda: world.both_end(SwapState.CLAIMED_BOTH))
    world.step()  # both watchers record the claim's block
    reorg(world.etm, 3)  # the operator's ETM claim is in the last blocks
    world.run_until(
        lambda: (
            Event.CLAIM_REORGED in _events(world, Role.OPERATOR)
            and world.both_end(SwapState.CLAIMED_BOTH)
        )
    )
    states = [t.to_state for t in world.op.store.transitions("w1")]
    assert states[-2:] == [SwapState.SECRET_REVEALED, SwapState.CLAIMED_BOTH]


def test_idle_open_swaps_are_not_examined_on_new_blocks_with_a_scanner(tmp_path) -> None:
    world = World(tmp_path, SwapDirection.FOREIGN_TO_ETM, scanning=True)
    world.idle_operator_swaps(200)
    world.create()
    world.op.tick()  # first look at everything
    assert max(world.examined_per_block(5)) <= 2
    idle = world.op.tick()  # no new block: nothing to look at
    assert idle.examined == 0 and idle.new_blocks == {}


def test_without_a_scanner_every_swap_on_the_chain_is_polled_per_block(tmp_path) -> None:
    world = World(tmp_path, SwapDirection.FOREIGN_TO_ETM)
    world.idle_operator_swaps(20)
    world.create()
    world.op.tick()
    assert min(world.examined_per_block(3)) == 21
    world.op.tick()
    assert world.op.tick().examined == 0
