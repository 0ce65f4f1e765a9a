"""The pure fee-bump policy (etm_bridge/swaps/core/bumps.py): when, at what rate, how, and the
caps an attacker (or a node lying about fees) cannot push a bump past."""

from __future__ import annotations

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
