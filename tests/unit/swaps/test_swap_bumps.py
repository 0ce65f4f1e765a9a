"""The pure fee-bump policy (etm_bridge/swaps/core/bumps.py): when, at what rate, how, and the
caps an attacker (or a node lying about fees) cannot push a bump past."""

from __future__ import annotations

from dataclasses import replace

import pytest

from etm_bridge.adapter import BumpMethod, SpendFee
from etm_bridge.errors import ValidationError
from etm_bridge.swaps.core.bumps import (
    BumpConfig,
    ceiling_rate,
    plan_bump,
    scheduled_rate,
)

R, C = BumpMethod.REPLACE, BumpMethod.CPFP
CFG = BumpConfig(window_blocks=6, max_fee_share_ppm=50_000)


def fee(rate=1, estimate=1, ceiling=1000, value=1_000_000, vsize=150, methods=(R, C)) -> SpendFee:
    return SpendFee("ab" * 32, rate, rate * vsize, vsize, 110, estimate, ceiling, value, methods)


def test_nothing_is_bumped_before_the_window() -> None:
    assert scheduled_rate(1, 7, CFG) is None
    assert plan_bump(fee(), 7, CFG) is None


def test_the_rate_doubles_per_block_as_the_deadline_nears() -> None:
    due = [scheduled_rate(3, left, CFG) for left in (6, 5, 4, 3, 2, 1, 0, -3)]
    assert due == [6, 12, 24, 48, 96, 192, 384, 3072]


def test_a_bump_is_planned_only_when_the_due_rate_is_above_what_is_paid() -> None:
    plan = plan_bump(fee(rate=1), 6, CFG)
    assert plan is not None and (plan.rate, plan.method) == (2, R)
    assert plan_bump(fee(rate=2), 6, CFG) is None  # already paid: one bump per block at most
    assert plan_bump(fee(rate=2), 5, CFG).rate == 4


def test_cpfp_when_the_node_refuses_replacement_and_nothing_without_a_method() -> None:
    assert plan_bump(fee(methods=(C,)), 6, CFG).method is C
    assert plan_bump(fee(methods=()), 0, CFG) is None


def test_attack_a_huge_estimate_never_lifts_a_bump_above_the_configured_ceiling() -> None:
    plan = plan_bump(fee(estimate=10**9, ceiling=40), 1, CFG)
    assert plan is not None and plan.rate == 40
    assert plan_bump(fee(rate=40, estimate=10**9, ceiling=40), 0, CFG) is None


def test_attack_fees_never_exceed_the_share_of_the_amount() -> None:
    # 5 % of 20 000 sat = 1 000 sat: 6 sat/vB over 150 vB, 3 sat/vB over the 260 vB of a CPFP
    small = fee(value=20_000, estimate=500)
    assert ceiling_rate(small, R, CFG) == 6 and ceiling_rate(small, C, CFG) == 3
    assert plan_bump(small, 0, CFG).rate == 6
    cpfp = plan_bump(fee(value=20_000, estimate=500, methods=(C,)), 0, CFG)
    assert cpfp.rate == 3 and cpfp.rate * (150 + 110) <= 20_000 * 5 // 100
    assert plan_bump(fee(rate=6, value=20_000, estimate=500), 0, CFG) is None


@pytest.mark.parametrize(
    "kwargs",
    [{"window_blocks": 0}, {"max_fee_share_ppm": 0}, {"max_fee_share_ppm": 10**6},
     {"refund_deadline_blocks": True}],
)  # fmt: skip
def test_a_bad_bump_config_is_refused(kwargs) -> None:
    with pytest.raises(ValidationError):
        BumpConfig(**kwargs)


def test_a_spend_fee_with_a_negative_amount_is_refused() -> None:
    with pytest.raises(ValidationError):
        fee(rate=-1)


# --- which spends are ours, their deadlines, and recovery from a crash mid-bump ---------------

from swapkit import claim_of, lock_for, record, refund_of, view  # noqa: E402

from etm_bridge.swaps.core.bumps import pending_spends  # noqa: E402
from etm_bridge.swaps.core.fsm import Role, SwapState  # noqa: E402
from etm_bridge.swaps.core.model import ActionKind, Intent, IntentResult, Outcome  # noqa: E402
from etm_bridge.swaps.core.policy import decide  # noqa: E402

A = ActionKind


def _with(rec, kind, txid, chain="btc", outcome=Outcome.BROADCAST):
    key = f"s1:{kind.value}:{len(rec.intents_of(kind))}"
    result = None if outcome is None else IntentResult(outcome, txid, "", 1)
    return rec.with_intent(Intent(key, kind, chain, 1, result))


def _operator_claiming(tip=190):
    rec = record(SwapState.SECRET_REVEALED, Role.OPERATOR, preimage=None)
    lock = lock_for(rec.terms.user_leg)
    spend = claim_of(lock, height=None)  # unconfirmed
    return rec, lock, spend, tip


def test_our_unconfirmed_claim_is_pending_with_its_locks_timelock_as_deadline() -> None:
    rec, lock, spend, tip = _operator_claiming()
    rec = _with(rec, A.CLAIM_USER_LOCK, spend.txid)
    [p] = pending_spends(rec, view(rec, user_tip=tip, user_lock=lock, user_spend=spend), CFG)
    assert (p.kind, p.deadline_height, p.blocks_left) == (A.CLAIM_USER_LOCK, 200, 10)


def test_attack_a_spend_we_did_not_broadcast_is_never_bumped() -> None:
    """The counterparty's refund of the lock, or a claim with a txid none of our intents
    names, is not ours: bumping it would mean paying for (or double-spending) someone else's."""
    rec, lock, spend, tip = _operator_claiming()
    rec = _with(rec, A.CLAIM_USER_LOCK, "some-other-txid")
    assert pending_spends(rec, view(rec, user_tip=tip, user_lock=lock, user_spend=spend), CFG) == []
    theirs = refund_of(lock, height=None)
    rec2 = _with(record(SwapState.SECRET_REVEALED, Role.OPERATOR), A.CLAIM_USER_LOCK, theirs.txid)
    assert pending_spends(rec2, view(rec2, user_lock=lock, user_spend=theirs), CFG) == []


def test_a_mined_spend_is_not_pending_and_a_refunds_deadline_is_after_its_timelock() -> None:
    rec, lock, spend, tip = _operator_claiming()
    rec = _with(rec, A.CLAIM_USER_LOCK, spend.txid)
    mined = claim_of(lock, height=150)
    assert pending_spends(rec, view(rec, user_tip=tip, user_lock=lock, user_spend=mined), CFG) == []
    user = record(SwapState.EXPIRED)
    own = lock_for(user.terms.user_leg)
    refund = refund_of(own, height=None)
    user = _with(user, A.REFUND_USER_LOCK, refund.txid)
    [p] = pending_spends(user, view(user, user_tip=201, user_lock=own, user_spend=refund), CFG)
    assert p.deadline_height == 200 + CFG.refund_deadline_blocks


def test_a_crash_between_a_bump_and_its_record_resolves_to_the_live_revision() -> None:
    """The bump's intent was saved, the node accepted the replacement, the process died: the
    next plan records the intent as found on chain with the revision the chain shows, issues
    no new claim, keeps the swap awake every block, and the revision is ours to bump again."""
    rec, lock, first, tip = _operator_claiming()
    rec = _with(rec, A.CLAIM_USER_LOCK, first.txid)
    rec = _with(rec, A.CLAIM_USER_LOCK, None, outcome=None)  # the bump's intent, no result
    replacement = replace(first, txid="btc-claimtx-bumped")
    v = view(rec, user_tip=tip, user_lock=lock, user_spend=replacement)
    plan = decide(rec, v, 100)
    assert [(k, r.outcome, r.txid) for k, r in plan.resolved] == [
        ("s1:claim_user_lock:1", Outcome.FOUND_ON_CHAIN, "btc-claimtx-bumped")
    ]
    assert plan.actions == ()
    assert ("btc", tip + 1) in plan.wake_heights
    for key, result in plan.resolved:
        rec = rec.with_result(key, result)
    [p] = pending_spends(rec, v, CFG)
    assert p.leg.spend.txid == "btc-claimtx-bumped"
