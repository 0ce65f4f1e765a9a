"""Whitepaper 3.1: the exact catch-up probability, Nakamoto's table, confirmations required."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etm_bridge.errors import ValidationError
from etm_bridge.spv import confirmation_risk as risk

# Nakamoto, "Bitcoin: A Peer-to-Peer Electronic Cash System", section 11, q = 0.1.
NAKAMOTO_TABLE_Q01 = [
    1.0,
    0.2045873,
    0.0509779,
    0.0131722,
    0.0034552,
    0.0009137,
    0.0002428,
    0.0000647,
    0.0000173,
    0.0000046,
    0.0000012,
]
# Same paper: smallest z with P < 0.1% for each q.
NAKAMOTO_Z_FOR_0_1_PERCENT = {
    0.10: 5,
    0.15: 8,
    0.20: 11,
    0.25: 15,
    0.30: 24,
    0.35: 41,
    0.40: 89,
    0.45: 340,
}


def test_nakamoto_table_is_reproduced() -> None:
    for z, expected in enumerate(NAKAMOTO_TABLE_Q01):
        assert round(risk.nakamoto_probability(0.1, z), 7) == expected


def test_nakamoto_confirmations_match_the_paper() -> None:
    for q, z in NAKAMOTO_Z_FOR_0_1_PERCENT.items():
        assert risk.nakamoto_confirmations_required(q, "0.001") == z


def _gamblers_ruin(q: Fraction, z: int) -> Fraction:
    """Independent form: sum_k P(X_z = k) min(1, (q/p)^(z-k)), P(X_z = k) negative binomial."""
    p = 1 - q
    below = sum(comb(k + z - 1, k) * p**z * q**k * (q / p) ** (z - k) for k in range(z))
    at_or_above = 1 - sum(comb(k + z - 1, k) * p**z * q**k for k in range(z))
    return below + at_or_above


@settings(max_examples=40, deadline=None)
@given(st.fractions(min_value=0, max_value=Fraction(49, 100)), st.integers(1, 40))
def test_exact_formula_equals_the_gamblers_ruin_sum(q: Fraction, z: int) -> None:
    assert risk.attacker_success_probability(q, z) == _gamblers_ruin(q, z)


def test_exact_small_cases() -> None:
    assert risk.attacker_success_probability("0.1", 1) == Fraction(1, 5)  # P(1) = 2q
    assert risk.attacker_success_probability("0.1", 0) == 1
    assert risk.attacker_success_probability(0, 6) == 0


def test_exact_is_above_nakamoto_and_needs_more_confirmations() -> None:
    # Grunspan & Perez-Marco: Nakamoto underestimates; q=0.1 at 0.1% needs 6, not 5.
    assert risk.confirmations_required(0.1, 0.001) == 6
    assert risk.confirmations_required(0.1, 1e-6) == 12
    assert risk.nakamoto_confirmations_required(0.1, 1e-6) == 11
    for z in range(2, 15):  # z = 1: exact 2q = 0.2 is just below Nakamoto's 0.2046
        assert float(risk.attacker_success_probability("0.1", z)) > risk.nakamoto_probability(
            0.1, z
        )


def test_probability_decreases_with_confirmations() -> None:
    values = [risk.attacker_success_probability("0.3", z) for z in range(0, 30)]
    assert all(a > b for a, b in itertools.pairwise(values))


def test_confirmations_required_is_the_smallest_z() -> None:
    z = risk.confirmations_required("0.25", "1e-4")
    assert risk.attacker_success_probability("0.25", z) <= Fraction("1e-4")
    assert risk.attacker_success_probability("0.25", z - 1) > Fraction("1e-4")


@pytest.mark.parametrize(("q", "tolerance"), [(0.5, 0.001), (-0.1, 0.001), (0.1, 0), (0.1, 1)])
def test_out_of_range_inputs_are_rejected(q: float, tolerance: float) -> None:
    with pytest.raises(ValidationError):
        risk.confirmations_required(q, tolerance)


# Grunspan and Pérez-Marco, "Double spend races" (arXiv:1702.02867), the table comparing the
# smallest z with P(z) < 0.1% by Nakamoto's formula and by theirs (the whitepaper's exact one).
GRUNSPAN_PEREZ_MARCO_Z_FOR_0_1_PERCENT = {
    "0.10": (5, 6),
    "0.15": (8, 9),
    "0.20": (11, 13),
    "0.25": (15, 20),
    "0.30": (24, 32),
    "0.35": (41, 58),
    "0.40": (89, 133),
    "0.45": (340, 539),
}


def test_published_table_of_grunspan_and_perez_marco() -> None:
    for q, (nakamoto, exact) in GRUNSPAN_PEREZ_MARCO_Z_FOR_0_1_PERCENT.items():
        assert risk.nakamoto_confirmations_required(q, "0.001") == nakamoto, q
        assert risk.confirmations_required(q, "0.001") == exact, q


@settings(max_examples=30, deadline=None)
@given(st.fractions(min_value=Fraction(1, 1000), max_value=Fraction(49, 100)), st.integers(1, 300))
def test_float_sum_agrees_with_the_exact_fraction(q: Fraction, z: int) -> None:
    exact = float(risk.attacker_success_probability(q, z))
    assert risk.attacker_success_probability_float(q, z) == pytest.approx(exact, rel=1e-9)


def test_near_one_half_fails_fast_with_a_clear_message() -> None:
    import time

    started = time.perf_counter()
    with pytest.raises(ValidationError, match=r"more than 10000 confirmations.*q=0\.499"):
        risk.confirmations_required("0.499", "1e-6")
    with pytest.raises(ValidationError, match="must be > 0"):
        risk.confirmations_required("0", "1e-6")
    assert time.perf_counter() - started < 5
    assert risk.confirmations_required("0.45", "1e-6") == 1191  # stays exact at the boundary
