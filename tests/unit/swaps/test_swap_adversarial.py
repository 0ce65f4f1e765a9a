"""Adversarial counterparties on fake chains: each swap ends in its documented state and no
honest party loses funds (balances are checked on the chains)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from worldkit import BTC_AMOUNT, CONFIG, ETM_AMOUNT, OP_KEY, USER_KEY, World

from etm_bridge.hashlock import blocks_for_seconds
from etm_bridge.swaps.core.fsm import Role, SwapDirection, SwapState
from etm_bridge.swaps.core.model import ActionKind
from etm_bridge.testing.fakechain import FEE


@pytest.fixture
def e2f(tmp_path):
    return World(tmp_path, SwapDirection.ETM_TO_FOREIGN)


def _user_waits_for_op(world: World) -> None:
    world.create()
    world.run_until(lambda: world.state(Role.USER) is SwapState.ETM_LOCKED, op=False)


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"amount": BTC_AMOUNT - 1}, "wrong_amount"),
        ({"claim_key": OP_KEY}, "wrong_claim_key"),
        ({"timelock_height_delta": -1}, "timelock_too_short"),
    ],
)
def test_a_bad_counter_lock_is_never_claimed_and_the_user_gets_its_etm_back(e2f, over, reason):
    _user_waits_for_op(e2f)
    before = e2f.balance(e2f.etm, USER_KEY)
    t = e2f.user.store.get("w1").terms
    terms = t.counter_leg.htlc_terms(t.hashlock)
    delta = over.pop("timelock_height_delta", 0)
    bad = replace(terms, timelock_height=terms.timelock_height + delta, **over)
    e2f.op_ad["btc"].lock(bad)  # the adversary's own lock, not the operator's engine
    e2f.step(op=False)
    e2f.step(op=False)
    rec = e2f.user.store.get("w1")
    assert rec.state is SwapState.FAILED and rec.failure.startswith(reason)
    e2f.run_until(lambda: e2f.state(Role.USER) is SwapState.REFUNDED, op=False)
    assert not e2f.user.store.get("w1").intents_of(ActionKind.CLAIM_COUNTER)
    assert e2f.balance(e2f.etm, USER_KEY) == before + ETM_AMOUNT - FEE  # the lock came back


def test_a_counter_lock_with_another_hashlock_is_ignored_and_the_user_refunds(e2f) -> None:
    _user_waits_for_op(e2f)
    t = e2f.user.store.get("w1").terms
    other = replace(t.counter_leg.htlc_terms(t.hashlock), hashlock=b"\x42" * 32)
    e2f.op_ad["btc"].lock(other)
    e2f.run_until(lambda: e2f.state(Role.USER) is SwapState.REFUNDED, op=False)
    states = [tr.to_state for tr in e2f.user.store.transitions("w1")]
    assert states == [SwapState.ETM_LOCKED, SwapState.EXPIRED, SwapState.REFUNDED]


def test_a_user_lock_below_the_terms_is_refused_by_the_operator(tmp_path) -> None:
    world = World(tmp_path, SwapDirection.ETM_TO_FOREIGN)
    world.create()
    t = world.op.store.get("w1").terms
    short = replace(t.user_leg.htlc_terms(t.hashlock), amount=ETM_AMOUNT - 1)
    world.user_ad["etm"].lock(short)  # the user's lock, made by hand, pays too little
    world.run_until(lambda: world.state(Role.OPERATOR) is not SwapState.CREATED, user=False)
    op = world.op.store.get("w1")
    assert op.state is SwapState.FAILED and op.failure.startswith("wrong_amount")
    world.run_until(lambda: world.state(Role.OPERATOR) is SwapState.REFUNDED, steps=200, user=False)
    assert not world.btc.locks  # the operator never locked anything


def _reveal_margin_blocks(world: World) -> int:
    """The guard's margin: the swap's, or the policy's hours on the chain's blocks if more."""
    t = world.user.store.get("w1").terms
    block_s = world.user_ad["btc"].info().block_time_s
    return max(t.reveal_margin_blocks, blocks_for_seconds(CONFIG.policy.reveal_margin_s, block_s))


def test_a_claim_at_the_last_allowed_block_still_leaves_the_operator_time(e2f) -> None:
    """The user reveals exactly at the margin; the operator still claims the long leg."""
    e2f.create(counter_blocks=40)
    e2f.run_until(lambda: bool(e2f.btc.locks), user=True)  # the operator's counter lock
    t = e2f.user.store.get("w1").terms
    last = t.counter_leg.timelock_height - _reveal_margin_blocks(e2f)
    e2f.btc.mine(last - e2f.btc.tip_height)  # the user's machine was off until now
    e2f.run_until(lambda: e2f.both_end(SwapState.CLAIMED_BOTH))
    assert e2f.balance(e2f.btc, USER_KEY) > 0
    assert e2f.user.store.get("w1").intents_of(ActionKind.CLAIM_COUNTER)


def test_a_user_back_after_the_reveal_margin_does_not_reveal_and_gets_its_etm_back(e2f) -> None:
    """Issue 11, item 9: revealing with little time left lets the operator refund the counter
    lock and still read the secret from the slow claim. One block past the margin (hours, on
    the chain's blocks) the user never claims; both locks go back to their owners."""
    e2f.create(counter_blocks=40)
    e2f.run_until(lambda: bool(e2f.btc.locks), user=True)
    before = e2f.balance(e2f.etm, USER_KEY)
    t = e2f.user.store.get("w1").terms
    late = t.counter_leg.timelock_height - _reveal_margin_blocks(e2f) + 1
    e2f.btc.mine(late - e2f.btc.tip_height)
    e2f.run_until(lambda: e2f.both_end(SwapState.REFUNDED), steps=200)
    assert not e2f.user.store.get("w1").intents_of(ActionKind.CLAIM_COUNTER)
    assert e2f.balance(e2f.etm, USER_KEY) == before + ETM_AMOUNT - FEE


def test_a_counter_lock_shorter_than_the_minimum_duration_is_not_claimed(e2f) -> None:
    """The operator's lock lasts 16 blocks (~2.7 h) from its block: inside the reveal margin it
    would still be claimable, but it is shorter than the 3 h a user accepts."""
    e2f.create(counter_blocks=16)
    e2f.run_until(lambda: bool(e2f.btc.locks), user=True)
    e2f.step()
    notes = e2f.user.store.get("w1").notes
    assert any("we accept at least" in n for n in notes), notes
    e2f.run_until(lambda: e2f.both_end(SwapState.REFUNDED), steps=200)
    assert not e2f.user.store.get("w1").intents_of(ActionKind.CLAIM_COUNTER)
