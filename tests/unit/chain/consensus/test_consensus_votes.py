"""Vote weights: increasing, concave, the whitepaper's ratio compression, and the Sybil bound."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from etm_bridge.chain.consensus.votes import (
    DEFAULT_SCHEDULE,
    MAX_STAKE,
    WeightSchedule,
    split_weight,
    vote_weight,
)
from etm_bridge.errors import ValidationError
from etm_bridge.units import ETM

S = DEFAULT_SCHEDULE
T1 = S.first_threshold
stakes = st.integers(min_value=0, max_value=MAX_STAKE - 1)
concave_stakes = st.integers(min_value=T1 + 1, max_value=MAX_STAKE)


def test_weights_follow_the_marginal_brackets() -> None:
    assert vote_weight(0) == 0
    assert vote_weight(100 * ETM) == 800 * ETM
    assert vote_weight(1_000 * ETM) == (800 + 3_600) * ETM
    assert vote_weight(1_000_000 * ETM) == (800 + 3_600 + 18_000 + 990_000) * ETM


@given(stakes)
def test_weight_is_strictly_increasing(b: int) -> None:
    assert vote_weight(b + 1) > vote_weight(b)


@given(stakes, stakes, st.fractions(min_value=0, max_value=1))
def test_weight_is_concave_on_every_chord(x: int, y: int, t: Fraction) -> None:
    # weight(t x + (1-t) y) >= t weight(x) + (1-t) weight(y) for integer midpoints of the chord
    lo, hi = min(x, y), max(x, y)
    mid = lo + (hi - lo) * t.numerator // t.denominator
    t_exact = Fraction(mid - lo, hi - lo) if hi > lo else Fraction(0)
    chord = (1 - t_exact) * vote_weight(lo) + t_exact * vote_weight(hi)
    assert vote_weight(mid) >= chord


@given(concave_stakes, st.integers(min_value=1, max_value=MAX_STAKE))
def test_share_ratio_is_strictly_compressed_above_first_threshold(a_i: int, a_j: int) -> None:
    # Whitepaper 3.3: a_i > a_j  =>  B_i / B_j < a_i / a_j, exactly in rationals.
    assume(a_j < a_i)
    assert Fraction(vote_weight(a_i), vote_weight(a_j)) < Fraction(a_i, a_j)


@given(st.integers(min_value=T1 + 1, max_value=MAX_STAKE))
def test_share_ratio_is_compressed_for_neighbouring_stakes(a_i: int) -> None:
    # the tightest case of the inequality: stakes one base unit apart
    assert vote_weight(a_i) * (a_i - 1) < vote_weight(a_i - 1) * a_i


@given(st.integers(min_value=1, max_value=T1), st.integers(min_value=1, max_value=T1))
def test_ratio_is_proportional_inside_the_first_bracket(a_i: int, a_j: int) -> None:
    # The documented edge of the strict domain: both stakes in bracket 0 -> weights are linear.
    assert Fraction(vote_weight(a_i), vote_weight(a_j)) == Fraction(a_i, a_j)


@given(st.lists(st.integers(min_value=1, max_value=10**6 * ETM), min_size=2, max_size=40))
def test_splitting_gains_at_most_one_bonus_per_extra_account(parts: list[int]) -> None:
    whole = sum(parts)
    split = sum(vote_weight(p) for p in parts)
    assert vote_weight(whole) <= split  # subadditive: concavity does reward splitting ...
    if whole > T1:
        assert vote_weight(whole) < split  # ... strictly once the whole leaves bracket 0
    assert split - vote_weight(whole) <= (len(parts) - 1) * S.sybil_bonus
    num, den = S.max_split_factor
    assert split * den <= vote_weight(whole) * num


def test_sybil_gain_is_bounded_by_the_rate_ratio_for_any_number_of_accounts() -> None:
    whale = 1_000_000 * ETM
    for accounts in (1, 10, 100, 10_000, 1_000_000):
        gain = Fraction(split_weight(whale, accounts), vote_weight(whale))
        assert gain <= Fraction(*S.max_split_factor)
    # the bound is approached when every account sits in the first bracket
    assert Fraction(split_weight(whale, 10_000), vote_weight(whale)) > Fraction(79, 10)
    assert S.sybil_bonus == (7 * 100 + 3 * 900 + 1 * 9_000) * ETM


def test_schedule_rejects_non_concave_or_non_increasing_rates() -> None:
    with pytest.raises(ValidationError, match="strictly decrease"):
        WeightSchedule(thresholds=(10,), rates=(2, 3))
    with pytest.raises(ValidationError, match="positive"):
        WeightSchedule(thresholds=(10,), rates=(2, 0))
    with pytest.raises(ValidationError, match="one more rate"):
        WeightSchedule(thresholds=(10, 20), rates=(2, 1))
    with pytest.raises(ValidationError, match="strictly increase"):
        WeightSchedule(thresholds=(20, 10), rates=(3, 2, 1))


def test_bad_stakes_are_refused_with_a_reason() -> None:
    with pytest.raises(ValidationError, match="outside"):
        vote_weight(-1)
    with pytest.raises(ValidationError, match="outside"):
        vote_weight(MAX_STAKE + 1)
    with pytest.raises(ValidationError, match="integer"):
        vote_weight(1.5)  # type: ignore[arg-type]
