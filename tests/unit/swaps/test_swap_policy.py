"""What the engine decides: timelock boundaries, the two guards, and crash recovery."""

from __future__ import annotations

from dataclasses import replace

import pytest
from swapkit import NOW, claim_of, lock_for, record, refund_of, view

from etm_bridge.errors import SwapError
from etm_bridge.swaps.core.fsm import Role, SwapDirection, SwapState
from etm_bridge.swaps.core.model import ActionKind, Intent, IntentResult, Outcome
from etm_bridge.swaps.core.policy import (
    PolicyConfig,
    check_reveal_allowed,
    counter_lock_refusal,
    decide,
    reveal_refusal,
)
from etm_bridge.swaps.core.views import ProofStatus, ProofView

A = ActionKind
E2F = SwapDirection.ETM_TO_FOREIGN


def _kinds(plan) -> list[ActionKind]:
    return [a.kind for a in plan.actions]


def _counter_locked(counter_tip: int = 100, confirmed: bool = True, **lock_over):
    rec = record(SwapState.COUNTER_LOCKED)
    ulock = lock_for(rec.terms.user_leg)
    clock = lock_for(rec.terms.counter_leg, block_height=100 if confirmed else None, **lock_over)
    return rec, view(rec, user_lock=ulock, counter_lock=clock, counter_tip=counter_tip)


# --- the point of no return ---------------------------------------------------------------------


@pytest.mark.parametrize(("counter_tip", "allowed"), [(140, True), (141, False)])
def test_reveal_needs_the_margin_before_the_counter_timeout(counter_tip, allowed) -> None:
    rec, v = _counter_locked(counter_tip)  # counter timelock 150, margin 10 blocks
    refusal = reveal_refusal(rec, v)
    assert (refusal is None) is allowed
    assert (A.CLAIM_COUNTER in _kinds(decide(rec, v, NOW))) is allowed
    if not allowed:
        assert "point of no return refused" in refusal
        assert refusal in decide(rec, v, NOW).notes
        with pytest.raises(SwapError, match="not revealing the secret"):
            check_reveal_allowed(rec, v)


def test_reveal_needs_the_margin_before_an_etm_counter_locks_deadline() -> None:
    """The ETM counter lock has 50 blocks left by height, but its wall-clock deadline (the
    chain enforces whichever comes first) is 599 s away: inside the 600 s ETM margin."""
    rec, v = _counter_locked(130)
    for left, allowed in ((600, True), (599, False)):
        lock = replace(v.counter.lock, deadline_s=NOW + left)
        seen = replace(v, counter=replace(v.counter, lock=lock, now_s=NOW))
        refusal = reveal_refusal(rec, seen)
        assert (refusal is None) is allowed, refusal
        if not allowed:
            assert "deadline" in refusal


def test_reveal_margin_is_the_policys_hours_on_the_chains_blocks() -> None:
    """The policy's margin (seconds) converted with the counter chain's block time wins over
    a smaller margin recorded in the swap: 60 ETM blocks x 60 s = the 3600 s asked for."""
    rec, v = _counter_locked(counter_tip=90)  # 60 blocks left, the swap's margin is 10
    v = replace(v, counter=replace(v.counter, lock=replace(v.counter.lock, block_height=80)))
    assert reveal_refusal(rec, v, PolicyConfig(etm_reveal_margin_s=3600)) is None
    assert "need 61" in reveal_refusal(rec, v, PolicyConfig(etm_reveal_margin_s=3601))


def test_reveal_waits_for_the_counter_lock_confirmations() -> None:
    rec, v = _counter_locked(confirmed=False)
    assert "0/1 confirmations" in reveal_refusal(rec, v)
    assert A.CLAIM_COUNTER not in _kinds(decide(rec, v, NOW))


def test_reveal_refused_for_a_counter_lock_below_the_agreed_amount() -> None:
    rec, v = _counter_locked(amount=4_999_999)
    assert "wrong_amount" not in (reveal_refusal(rec, v) or "")  # detail, not the code
    assert "amount 4999999" in reveal_refusal(rec, v)


def test_operator_never_reveals_anything() -> None:
    rec, v = _counter_locked()
    rec = replace(rec, role=Role.OPERATOR, preimage=None)
    assert _kinds(decide(rec, v, NOW)) == []


# --- refunds at the timelock boundary ------------------------------------------------------------


@pytest.mark.parametrize(("tip", "refund"), [(199, False), (200, True)])
def test_user_refunds_exactly_when_a_refund_fits_the_next_block(tip, refund) -> None:
    rec = record(SwapState.EXPIRED)
    v = view(rec, user_lock=lock_for(rec.terms.user_leg), user_tip=tip)
    plan = decide(rec, v, NOW)
    assert (A.REFUND_USER_LOCK in _kinds(plan)) is refund
    assert ("btc", 200) in plan.wake_heights


@pytest.mark.parametrize(("tip", "refund"), [(149, False), (150, True)])
def test_operator_refunds_the_counter_lock_at_its_timelock(tip, refund) -> None:
    rec = record(SwapState.EXPIRED, role=Role.OPERATOR)
    clock = lock_for(rec.terms.counter_leg)
    v = view(rec, user_lock=lock_for(rec.terms.user_leg), counter_lock=clock, counter_tip=tip)
    assert (A.REFUND_COUNTER in _kinds(decide(rec, v, NOW))) is refund


def test_operator_claims_the_user_lock_as_soon_as_the_secret_is_known() -> None:
    rec = record(SwapState.SECRET_REVEALED, role=Role.OPERATOR, preimage=bytes(range(32)))
    ulock, clock = lock_for(rec.terms.user_leg), lock_for(rec.terms.counter_leg)
    v = view(rec, user_lock=ulock, counter_lock=clock, counter_spend=claim_of(clock))
    plan = decide(rec, v, NOW)
    assert _kinds(plan) == [A.CLAIM_USER_LOCK]
    assert plan.actions[0].key == "s1:claim_user_lock:0"
    assert plan.actions[0].chain == "btc"


# --- the operator's counter-lock guard -----------------------------------------------------------


def _etm_locked(user_timelock: int = 200, counter_timelock: int = 150, confs_tip: int = 101):
    rec = record(SwapState.ETM_LOCKED, role=Role.OPERATOR, direction=E2F)
    t = rec.terms
    t = replace(
        t,
        user_leg=replace(t.user_leg, timelock_height=user_timelock),
        counter_leg=replace(t.counter_leg, timelock_height=counter_timelock),
    )
    rec = replace(rec, terms=t)
    return rec, view(rec, user_lock=lock_for(t.user_leg), user_tip=confs_tip)


def test_operator_counter_locks_when_the_long_leg_outlives_the_short_one() -> None:
    rec, v = _etm_locked()  # user: 99 ETM blocks x 60 s; counter: 50 BTC blocks x 600 s
    cfg = PolicyConfig(leg_margin_s=0)
    assert counter_lock_refusal(rec, v, cfg) is not None  # 5940 s < 30000 s: refused
    rec, v = _etm_locked(user_timelock=2000)  # 1899 x 60 = 113940 s vs 30000 s
    assert counter_lock_refusal(rec, v, PolicyConfig()) is None
    assert _kinds(decide(rec, v, NOW)) == [A.LOCK_COUNTER_LEG]


def test_operator_does_not_counter_lock_inside_the_leg_margin() -> None:
    rec, v = _etm_locked(user_timelock=1000)  # 899 x 60 = 53940 s; short 30000 s; margin 21600
    assert "margin" in counter_lock_refusal(rec, v, PolicyConfig(leg_margin_s=30_000))
    assert counter_lock_refusal(rec, v, PolicyConfig(leg_margin_s=20_000)) is None


def test_operator_waits_for_the_user_lock_confirmations() -> None:
    rec, v = _etm_locked(user_timelock=2000, confs_tip=100)  # 1/2
    assert "1/2 confirmations" in counter_lock_refusal(rec, v, PolicyConfig())


def test_operator_waits_for_etm_finality_before_locking_the_counter_leg() -> None:
    """Issue 11, item 15: one ETM confirmation can still be reorganised away, the operator's
    BTC lock cannot: it locks only once the user's ETM lock is at or below the final height."""
    rec, v = _etm_locked(user_timelock=2000)  # the user's lock is in block 100, tip 101
    not_final = replace(v, user=replace(v.user, final_height=99))
    refusal = counter_lock_refusal(rec, not_final, PolicyConfig())
    assert refusal is not None and "finality" in refusal and "block 100" in refusal
    plan = decide(rec, not_final, NOW)
    assert _kinds(plan) == [] and ("etm", 102) in plan.wake_heights  # look again next block
    final = replace(v, user=replace(v.user, final_height=100))
    assert counter_lock_refusal(rec, final, PolicyConfig()) is None
    assert _kinds(decide(rec, final, NOW)) == [A.LOCK_COUNTER_LEG]


def test_operator_counter_lock_ends_the_margin_before_the_users_etm_deadline() -> None:
    """Issue 11, item 4: the user's ETM lock ends by its deadline if that comes first (a halt
    stops heights, not time); the operator measures the long leg by it."""
    rec, v = _etm_locked(user_timelock=2000)  # by height: 1899 x 60 s = 31.6 h
    lock = replace(v.user.lock, deadline_s=NOW + 40_000)  # by time: 11.1 h
    v = replace(v, user=replace(v.user, lock=lock, now_s=NOW))
    assert v.user.seconds_left == 40_000
    assert "margin" in counter_lock_refusal(rec, v, PolicyConfig(leg_margin_s=20_000))
    assert counter_lock_refusal(rec, v, PolicyConfig(leg_margin_s=10_000)) is None


# --- proofs and relaying (foreign -> ETM) --------------------------------------------------------


def test_operator_relays_headers_then_proves_the_lock() -> None:
    rec = record(SwapState.LOCK_CONFIRMED, role=Role.OPERATOR, preimage=None)
    ulock = lock_for(rec.terms.user_leg, block_height=100)
    behind = view(rec, user_lock=ulock, user_tip=101, proof=ProofView(100))
    plan = decide(rec, behind, NOW)
    assert [(a.kind, a.relay_to_height, a.key) for a in plan.actions] == [
        (A.RELAY_HEADERS, 101, "")
    ]
    caught_up = view(rec, user_lock=ulock, user_tip=101, proof=ProofView(101))
    assert _kinds(decide(rec, caught_up, NOW)) == [A.SUBMIT_PROOF]


def test_user_proves_its_own_lock_only_if_nobody_did() -> None:
    rec = record(SwapState.LOCK_CONFIRMED)
    ulock = lock_for(rec.terms.user_leg, block_height=100)
    early = view(rec, user_lock=ulock, user_tip=103, proof=ProofView(110))
    assert _kinds(decide(rec, early, NOW)) == []
    late = view(rec, user_lock=ulock, user_tip=104, proof=ProofView(110))
    assert _kinds(decide(rec, late, NOW)) == [A.SUBMIT_PROOF]


def test_no_proof_is_submitted_once_etm_has_judged_it() -> None:
    rec = record(SwapState.LOCK_CONFIRMED, role=Role.OPERATOR, preimage=None)
    ulock = lock_for(rec.terms.user_leg, block_height=100)
    v = view(rec, user_lock=ulock, user_tip=101, proof=ProofView(101, ProofStatus.REJECTED))
    assert _kinds(decide(rec, v, NOW)) == []


# --- crash recovery: intent without result -------------------------------------------------------


def _pending(rec, kind: ActionKind, chain: str, key: str | None = None):
    intent = Intent(key or f"s1:{kind.value}:0", kind, chain, NOW - 5)
    return rec.with_intent(intent)


def test_pending_lock_the_chain_shows_is_recorded_as_found_not_rebroadcast() -> None:
    rec = _pending(record(SwapState.CREATED), A.LOCK_USER_LEG, "btc")
    v = view(rec, user_lock=lock_for(rec.terms.user_leg, block_height=None))
    plan = decide(rec, v, NOW)
    assert plan.actions == ()
    [(key, result)] = plan.resolved
    assert key == "s1:lock_user_leg:0"
    assert result.outcome is Outcome.FOUND_ON_CHAIN and result.txid == "btc-locktx"


def test_pending_lock_the_chain_does_not_show_is_reissued_with_the_same_key() -> None:
    rec = _pending(record(SwapState.CREATED), A.LOCK_USER_LEG, "btc")
    plan = decide(rec, view(rec), NOW)
    assert plan.resolved == ()
    assert [(a.kind, a.key) for a in plan.actions] == [(A.LOCK_USER_LEG, "s1:lock_user_leg:0")]


def test_pending_lock_past_the_deadline_is_closed_not_reissued() -> None:
    rec = _pending(record(SwapState.CREATED), A.LOCK_USER_LEG, "btc")
    plan = decide(rec, view(rec), rec.terms.lock_deadline_s + 1)
    assert plan.actions == ()
    assert plan.resolved[0][1].outcome is Outcome.REJECTED


def test_pending_claim_is_reissued_even_when_the_guard_would_now_refuse() -> None:
    """The secret may already be out: claiming is the only move that cannot lose."""
    rec, v = _counter_locked(counter_tip=145)
    assert reveal_refusal(rec, v) is not None
    rec = _pending(rec, A.CLAIM_COUNTER, "etm")
    plan = decide(rec, v, NOW)
    assert [(a.kind, a.key) for a in plan.actions] == [(A.CLAIM_COUNTER, "s1:claim_counter:0")]


def test_pending_claim_the_chain_shows_is_resolved() -> None:
    rec, v = _counter_locked()
    rec = _pending(rec, A.CLAIM_COUNTER, "etm")
    v = replace(v, counter=replace(v.counter, spend=claim_of(v.counter.lock)))
    plan = decide(rec, v, NOW)
    assert plan.actions == ()
    assert plan.resolved[0][1].txid == "etm-claimtx"


def test_pending_refund_of_a_lock_claimed_meanwhile_is_not_reissued() -> None:
    rec = _pending(record(SwapState.EXPIRED), A.REFUND_USER_LOCK, "btc")
    ulock = lock_for(rec.terms.user_leg)
    v = view(rec, user_lock=ulock, user_tip=250, user_spend=claim_of(ulock))
    plan = decide(rec, v, NOW)
    assert plan.actions == ()
    [(key, result)] = plan.resolved  # closed, not left pending forever
    assert key == "s1:refund_user_lock:0" and result.outcome is Outcome.REJECTED
    assert "spent by another" in result.detail


def test_pending_claim_of_a_counter_lock_refunded_meanwhile_is_closed() -> None:
    """Killed between the claim intent and its broadcast, back after the operator refunded:
    the claim never happened (the secret stayed private) and the intent is closed."""
    rec, v = _counter_locked()
    rec = _pending(rec, A.CLAIM_COUNTER, "etm")
    v = replace(v, counter=replace(v.counter, spend=refund_of(v.counter.lock)))
    plan = decide(rec, v, NOW)
    assert plan.actions == ()
    assert [(k, r.outcome) for k, r in plan.resolved] == [("s1:claim_counter:0", Outcome.REJECTED)]


def test_rejected_refund_is_retried_with_a_new_key_after_the_retry_delay() -> None:
    rec = _pending(record(SwapState.EXPIRED), A.REFUND_USER_LOCK, "btc")
    rejected = IntentResult(Outcome.REJECTED, None, "non-final (-26)", NOW)
    rec = rec.with_result("s1:refund_user_lock:0", rejected)
    v = view(rec, user_lock=lock_for(rec.terms.user_leg), user_tip=200)
    assert decide(rec, v, NOW + 1).actions == ()
    plan = decide(rec, v, NOW + 15)
    assert [(a.kind, a.key) for a in plan.actions] == [
        (A.REFUND_USER_LOCK, "s1:refund_user_lock:1")
    ]


def test_a_broadcast_lock_that_vanished_is_never_locked_again() -> None:
    rec = _pending(record(SwapState.CREATED), A.LOCK_USER_LEG, "btc")
    rec = rec.with_result("s1:lock_user_leg:0", IntentResult(Outcome.BROADCAST, "t", "", NOW))
    assert decide(rec, view(rec), NOW + 1000).actions == ()


def test_a_broadcast_claim_that_vanished_is_broadcast_again() -> None:
    rec = record(SwapState.SECRET_REVEALED, role=Role.OPERATOR, preimage=bytes(range(32)))
    rec = _pending(rec, A.CLAIM_USER_LOCK, "btc")
    rec = rec.with_result("s1:claim_user_lock:0", IntentResult(Outcome.BROADCAST, "t", "", NOW))
    ulock, clock = lock_for(rec.terms.user_leg), lock_for(rec.terms.counter_leg)
    v = view(rec, user_lock=ulock, counter_lock=clock, counter_spend=claim_of(clock))
    assert decide(rec, v, NOW + 1).actions == ()
    assert [a.key for a in decide(rec, v, NOW + 20).actions] == ["s1:claim_user_lock:1"]


def test_refund_by_user_after_the_operator_missed_its_deadline() -> None:
    rec = record(SwapState.SECRET_REVEALED)
    ulock, clock = lock_for(rec.terms.user_leg), lock_for(rec.terms.counter_leg)
    v = view(rec, user_lock=ulock, counter_lock=clock, counter_spend=claim_of(clock), user_tip=200)
    assert _kinds(decide(rec, v, NOW)) == [A.REFUND_USER_LOCK]
    v2 = replace(v, user=replace(v.user, spend=refund_of(ulock)))
    assert _kinds(decide(rec, v2, NOW)) == []


# --- suspected censorship (etm_client.inclusion) ------------------------------------------------


def test_no_secret_is_revealed_through_endpoints_suspected_of_censoring() -> None:
    """The endpoints we submit to on the counter chain left one of our transactions out of 10
    produced blocks: a claim sent through them could wait until the counter lock expires while
    its secret is read. The reveal is refused, with the reason, well before the margin."""
    rec, v = _counter_locked(counter_tip=100)  # 50 blocks left: the margin is no problem
    assert reveal_refusal(rec, v) is None
    message = "censorship suspected: transaction t1 is in no block 10 blocks after ..."
    v = replace(v, counter=replace(v.counter, censored=(("t1", message),)))
    refusal = reveal_refusal(rec, v)
    assert refusal is not None and "point of no return refused: censorship suspected" in refusal
    assert A.CLAIM_COUNTER not in _kinds(decide(rec, v, NOW))


def test_a_censored_claim_of_this_swap_is_a_warning_on_the_record() -> None:
    rec, v = _counter_locked(counter_tip=120)
    rec = rec.with_intent(Intent("s1:claim_counter:0", A.CLAIM_COUNTER, "etm", NOW - 5))
    result = IntentResult(Outcome.BROADCAST, "claim-tx", "claim", NOW - 5)
    rec = rec.with_result("s1:claim_counter:0", result)
    message = "censorship suspected: transaction claim-tx is in no block 10 blocks after ..."
    other = ("someone-elses", "censorship suspected: transaction someone-elses ...")
    seen = replace(v, counter=replace(v.counter, censored=(("claim-tx", message), other)))
    notes = decide(rec, seen, NOW).notes
    warnings = [n for n in notes if n.startswith("WARNING")]
    assert warnings == [f"WARNING {v.counter.chain}: {message}; its lock times out at height 150"]
