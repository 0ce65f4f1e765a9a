"""Adversarial users on real nodes (Bitcoin long leg, anvil counter leg): the user's engine
locks Bitcoin with terms the operator did not agree to. The operator must never counter-lock
(its ETH stays put); the user's bad lock still refunds to it at its timelock (fees only).
Documented ends: a lock that fails the terms -> operator ``failed`` (``lock_mismatch``, typed
reason), then ``expired`` and ``refunded`` (it locked nothing, so nothing to wait for); a lock
with another hashlock is not the swap's lock at all -> operator stays ``created``. A user that
never claims is the crash test's refunded scenario."""

from __future__ import annotations

from dataclasses import replace

import pytest
from swap_world import BTC_SAT, ETH_WEI, SwapWorld

from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.swaps.core.model import ActionKind, SwapRecord, SwapTerms
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.testing.preimages import new_preimage

BTC_FEES_MAX = 20_000


def _bad_amount(t: SwapTerms, preimage: bytes) -> tuple[SwapTerms, bytes]:
    return replace(t, user_leg=replace(t.user_leg, amount=t.user_leg.amount - 10_000)), preimage


def _short_timelock(t: SwapTerms, preimage: bytes) -> tuple[SwapTerms, bytes]:
    leg = replace(t.user_leg, timelock_height=t.user_leg.timelock_height - 8)
    return replace(t, user_leg=leg), preimage


def _wrong_hash(t: SwapTerms, preimage: bytes) -> tuple[SwapTerms, bytes]:
    other = new_preimage()
    return replace(t, hashlock=sha256(other)), other


CASES = {
    "wrong_amount": (_bad_amount, SwapState.REFUNDED, ["lock_mismatch"]),
    "too_short_timelock": (_short_timelock, SwapState.REFUNDED, ["lock_mismatch"]),
    "wrong_hash": (_wrong_hash, SwapState.CREATED, []),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_user_lock_is_never_answered_and_refunds(bitcoin_node, anvil_node, tmp_path, case):
    tamper, op_end, op_first = CASES[case]
    world = SwapWorld(bitcoin_node, anvil_node, tmp_path)
    agreed = world.terms(user_blocks=20)
    user_terms, user_preimage = tamper(agreed, world.preimage)
    for role, terms, preimage in (
        (Role.USER, user_terms, user_preimage),
        (Role.OPERATOR, agreed, None),
    ):
        store = SwapStore(world.db(role))
        store.create(SwapRecord(terms, role, preimage=preimage))
        store.close()
    user, op = world.watcher(Role.USER), world.watcher(Role.OPERATOR)
    btc_before, eth_before = user.adapters["bitcoin"].balance(), op.adapters["ethereum"].balance()
    try:
        for _ in range(60):
            if world.state(Role.USER) is SwapState.REFUNDED:
                break
            for w in (user, op):
                w.tick()
            world.mine()
        assert world.state(Role.USER) is SwapState.REFUNDED
        assert world.state(Role.OPERATOR) is op_end
        moves = [(t.event.value, t.to_state) for t in op.store.transitions("real1")]
        assert [e for e, _ in moves[:1]] == op_first, moves
        assert [s for _, s in moves[:1]] == ([SwapState.FAILED] if op_first else []), moves
        assert not op.store.get("real1").intents_of(ActionKind.LOCK_COUNTER_LEG)
        assert op.adapters["ethereum"].find_locks(agreed.hashlock) == []
        world.mine()
        assert op.adapters["ethereum"].balance() == eth_before < eth_before + ETH_WEI
        assert 0 <= btc_before - user.adapters["bitcoin"].balance() <= BTC_FEES_MAX
    finally:
        for w in (user, op):
            w.stop()


def _small_counter(t: SwapTerms) -> SwapTerms:
    return replace(t, counter_leg=replace(t.counter_leg, amount=t.counter_leg.amount - 10**15))


def _short_counter(t: SwapTerms) -> SwapTerms:
    leg = replace(t.counter_leg, timelock_height=t.counter_leg.timelock_height - 5)
    return replace(t, counter_leg=leg)


@pytest.mark.parametrize("tamper", [_small_counter, _short_counter], ids=["amount", "timelock"])
def test_a_bad_counter_lock_is_never_claimed_and_both_refund(
    bitcoin_node, anvil_node, tmp_path, tamper
):
    """The operator locks less ETH, or with an earlier timeout, than agreed: the user sees
    ``counter_lock_mismatch`` -> ``failed``, never reveals the secret, and both refund."""
    world = SwapWorld(bitcoin_node, anvil_node, tmp_path)
    agreed = world.terms(user_blocks=30, counter_blocks=20)
    for role, terms, preimage in (
        (Role.USER, agreed, world.preimage),
        (Role.OPERATOR, tamper(agreed), None),
    ):
        store = SwapStore(world.db(role))
        store.create(SwapRecord(terms, role, preimage=preimage))
        store.close()
    user, op = world.watcher(Role.USER), world.watcher(Role.OPERATOR)
    btc_before, eth_before = user.adapters["bitcoin"].balance(), op.adapters["ethereum"].balance()
    try:
        for _ in range(80):
            if world.state(Role.USER) is world.state(Role.OPERATOR) is SwapState.REFUNDED:
                break
            for w in (user, op):
                w.tick()
            world.mine()
        assert world.state(Role.USER) is world.state(Role.OPERATOR) is SwapState.REFUNDED
        events = [t.event.value for t in user.store.transitions("real1")]
        assert "counter_lock_mismatch" in events, events
        assert not user.store.get("real1").intents_of(ActionKind.CLAIM_COUNTER)
        assert op.store.get("real1").preimage is None  # the secret never left the user
        [lock] = op.adapters["ethereum"].find_locks(agreed.hashlock)
        assert lock.state.value == "refunded"
        world.mine()
        assert 0 <= eth_before - op.adapters["ethereum"].balance() <= ETH_WEI // 10
        assert 0 <= btc_before - user.adapters["bitcoin"].balance() <= BTC_FEES_MAX
    finally:
        for w in (user, op):
            w.stop()


def test_a_claim_at_the_last_allowed_block_still_lets_the_operator_claim(
    bitcoin_node, anvil_node, tmp_path
):
    """The user stays away until the counter lock is exactly ``reveal_margin_blocks`` from its
    timeout (the last block the reveal guard allows), then claims: the operator still claims
    the user's BTC with the revealed secret and both end ``claimed_both``."""
    world = SwapWorld(bitcoin_node, anvil_node, tmp_path)
    terms = world.terms(user_blocks=40, counter_blocks=40)
    world.create(terms)
    user, op = world.watcher(Role.USER), world.watcher(Role.OPERATOR)
    btc_before = op.adapters["bitcoin"].balance()
    try:
        for _ in range(20):  # the user ticks only until the operator has counter-locked
            if world.state(Role.OPERATOR) is SwapState.COUNTER_LOCKED:
                break
            locked = op.store.get("real1").intents_of(ActionKind.LOCK_COUNTER_LEG)
            for w in (op,) if locked else (user, op):
                w.tick()
            world.mine()
        assert world.state(Role.OPERATOR) is SwapState.COUNTER_LOCKED
        while True:  # the user is away; only anvil moves
            _, obs, plan = user.inspect(user.store.get("real1"))
            if obs.view.counter.blocks_left <= terms.reveal_margin_blocks:
                break
            anvil_node.rpc.call("anvil_mine", "0x1")
        assert obs.view.counter.blocks_left == terms.reveal_margin_blocks
        assert [a.kind for a in plan.actions] == [ActionKind.CLAIM_COUNTER]
        user.tick()  # reveals at the last allowed block
        [claim] = user.store.get("real1").intents_of(ActionKind.CLAIM_COUNTER)
        assert claim.result is not None and claim.result.txid
        for _ in range(10):
            if world.state(Role.USER) is world.state(Role.OPERATOR) is SwapState.CLAIMED_BOTH:
                break
            for w in (user, op):
                w.tick()
            world.mine()
        assert world.state(Role.USER) is world.state(Role.OPERATOR) is SwapState.CLAIMED_BOTH
        world.mine()
        assert BTC_SAT - BTC_FEES_MAX <= op.adapters["bitcoin"].balance() - btc_before <= BTC_SAT
    finally:
        for w in (user, op):
            w.stop()
