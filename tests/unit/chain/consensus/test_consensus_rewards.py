"""Tribunal rewards: fixed + dynamic split that conserves every base unit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.chain.consensus.rewards import PPM, largest_remainder, split_round_rewards
from etm_bridge.errors import ValidationError

A, B, C = b"a" * 32, b"b" * 32, b"c" * 32


@st.composite
def rounds(draw: st.DrawFn) -> tuple[dict[bytes, int], dict[bytes, int]]:
    keys = draw(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=20, unique=True))
    tickets = {k: draw(st.integers(min_value=0, max_value=10**15)) for k in keys}
    productive = {k: draw(st.integers(min_value=0, max_value=v)) for k, v in tickets.items()}
    return tickets, productive


@given(
    rounds(), st.integers(min_value=0, max_value=10**18), st.integers(min_value=0, max_value=PPM)
)
def test_every_unit_of_the_pool_is_paid(
    round_: tuple[dict[bytes, int], dict[bytes, int]], pool: int, ppm: int
) -> None:
    tickets, productive = round_
    rewards = split_round_rewards(pool, ppm, tickets, productive)
    if sum(tickets.values()) and pool:
        assert sum(rewards.values()) == pool
    else:
        assert rewards == {}
    assert all(v > 0 and tickets[k] > 0 for k, v in rewards.items())


def test_fixed_part_by_tickets_dynamic_part_by_productive_tickets() -> None:
    # pool 1000, 40% fixed: 400 by tickets 1:1:2, 600 by productive tickets (only A and C backed
    # forgers, 1:2).
    tickets = {A: 100, B: 100, C: 200}
    productive = {A: 100, C: 200}
    assert split_round_rewards(1000, 400_000, tickets, productive) == {A: 300, B: 100, C: 600}


def test_dynamic_part_falls_back_to_tickets_when_nobody_forged() -> None:
    assert split_round_rewards(90, 500_000, {A: 1, B: 2}, {}) == {A: 30, B: 60}


def test_remainders_go_to_the_largest_fractions_then_lowest_key() -> None:
    assert largest_remainder(10, {A: 1, B: 1, C: 1}) == {A: 4, B: 3, C: 3}
    assert largest_remainder(5, {A: 1, B: 2, C: 4}) == {A: 1, B: 1, C: 3}


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValidationError, match="fixed_share_ppm"):
        split_round_rewards(10, PPM + 1, {A: 1}, {})
    with pytest.raises(ValidationError, match="productive tickets"):
        split_round_rewards(10, 0, {A: 1}, {A: 2})
    with pytest.raises(ValidationError, match="reward pool"):
        split_round_rewards(-1, 0, {A: 1}, {})
