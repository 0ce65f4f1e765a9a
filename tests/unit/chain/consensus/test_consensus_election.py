"""Election: top-n by weight, deterministic ties, ineligible delegates pushed behind."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.chain.consensus.election import elect
from etm_bridge.errors import ValidationError

keys = st.binary(min_size=32, max_size=32)
weight_maps = st.dictionaries(keys, st.integers(min_value=0, max_value=10**12), max_size=30)


def test_top_n_by_weight_with_ties_broken_by_key_bytes() -> None:
    weights = {b"c" * 32: 5, b"a" * 32: 5, b"b" * 32: 9, b"d" * 32: 1}
    assert elect(weights, 3, frozenset()) == [b"b" * 32, b"a" * 32, b"c" * 32]


def test_ineligible_delegates_lose_their_seat_to_eligible_ones() -> None:
    weights = {b"a" * 32: 100, b"b" * 32: 50, b"c" * 32: 10}
    assert elect(weights, 2, {b"a" * 32}) == [b"b" * 32, b"c" * 32]


def test_short_rounds_are_backfilled_so_the_chain_never_halts() -> None:
    weights = {b"a" * 32: 100, b"b" * 32: 50, b"c" * 32: 10}
    everyone = set(weights)
    assert elect(weights, 2, everyone) == [b"a" * 32, b"b" * 32]
    assert elect(weights, 3, {b"a" * 32}) == [b"b" * 32, b"c" * 32, b"a" * 32]


@given(weight_maps, st.integers(min_value=1, max_value=40), st.data())
def test_election_invariants(weights: dict[bytes, int], n: int, data: st.DataObject) -> None:
    ineligible = data.draw(st.sets(st.sampled_from(sorted(weights)))) if weights else set()
    elected = elect(weights, n, ineligible)
    assert len(elected) == min(n, len(weights)) == len(set(elected))
    eligible = [k for k in weights if k not in ineligible]
    if len(eligible) >= n:
        assert not set(elected) & ineligible
        losers = set(eligible) - set(elected)
        for winner in elected:
            for x in losers:
                assert weights[winner] > weights[x] or (
                    weights[winner] == weights[x] and winner < x
                )
    assert elect(dict(reversed(list(weights.items()))), n, ineligible) == elected


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValidationError, match="positive"):
        elect({b"a" * 32: 1}, 0, set())
    with pytest.raises(ValidationError, match="non-negative"):
        elect({b"a" * 32: -1}, 1, set())
