"""Attacks on the pool's money rules: each test is one way a trader or investor could take value.

An in-flight swap can be cancelled for free (the user simply never claims, and refunds after
expiry), so nothing an investor or another trader gets may depend on in-flight swaps
completing. These tests were written failing against pricing/withdrawing on the "effective"
reserves (as if every in-flight swap completes) and pass with the pessimistic rules in
:mod:`etm_bridge.exchange.pool`.
"""

from __future__ import annotations

import pytest

from etm_bridge.errors import ExchangeError, LiquidityError
from etm_bridge.exchange import pool as P
from etm_bridge.exchange.pool import PoolDirection
from etm_bridge.exchange.reasons import Reason

CLAIM_KEY = b"\x02" + b"\x11" * 32
SIDE = 10**9  # each investor's deposit on each side; price 1 ETM unit per asset unit


def two_investors() -> tuple[P.Pool, int, int]:
    """Bob (victim) seeds the pool, alice (attacker) matches it: (pool, bob, alice shares)."""
    pool = P.Pool(P.PoolParams("btc", "etm1op", CLAIM_KEY, fee_ppm=3_000))
    pool, bob = P.add_liquidity(pool, SIDE, SIDE)
    pool, alice = P.add_liquidity(pool, SIDE, SIDE)
    return pool, bob.shares, alice.shares


def test_withdrawal_during_own_cancellable_swap_takes_nothing_from_others() -> None:
    # alice proves a large BTC lock (reserving ETM), withdraws, then lets the swap expire
    pool, _, alice_shares = two_investors()
    pool, q = P.reserve_swap(pool, PoolDirection.ASSET_TO_ETM, SIDE, 0)
    pool, burn = P.remove_liquidity(pool, alice_shares, alice_shares)
    pool = P.release_swap(pool, q)
    # nothing traded, so she cannot leave with more of either side than she put in
    assert burn.asset_out <= SIDE and burn.etm_out <= SIDE
    # and bob's shares are still backed by at least his deposit on each side
    assert pool.asset_reserve >= SIDE and pool.etm_reserve >= SIDE


def test_deposit_during_a_cancellable_swap_loses_nothing_to_it() -> None:
    # alice's in-flight swap skews the price; bob deposits at that price; alice cancels
    pool, _, _ = two_investors()
    pool, q = P.reserve_swap(pool, PoolDirection.ASSET_TO_ETM, SIDE, 0)
    etm_need = P.deposit_quote(pool, 10**8)
    pool, mint = P.add_liquidity(pool, 10**8, etm_need)
    pool = P.release_swap(pool, q)
    _, burn = P.remove_liquidity(pool, mint.shares, mint.shares)
    # withdrawn at once after the cancel: at most one unit of rounding per side lost
    assert burn.asset_out >= mint.asset_in - 2 and burn.etm_out >= mint.etm_in - 2


def test_cancellable_swap_cannot_improve_the_price_of_an_opposite_swap() -> None:
    # alice locks a huge amount of ETM (ETM -> BTC), which would make BTC "plentiful"; then she
    # sells BTC for ETM and settles that, and lets the first swap expire
    pool, _, _ = two_investors()
    honest = P.quote(pool, PoolDirection.ASSET_TO_ETM, 10**8).amount_out
    pool, big = P.reserve_swap(pool, PoolDirection.ETM_TO_ASSET, 2 * SIDE, 0)
    pool, small = P.reserve_swap(pool, PoolDirection.ASSET_TO_ETM, 10**8, 0)
    assert small.amount_out <= honest
    pool = P.settle_swap(pool, small)
    pool = P.release_swap(pool, big)
    # the round trip left the pool's curve value intact
    assert pool.asset_reserve * pool.etm_reserve >= (2 * SIDE) ** 2


def test_same_direction_in_flight_swaps_still_price_one_after_another() -> None:
    pool, _, _ = two_investors()
    pool1, first = P.reserve_swap(pool, PoolDirection.ASSET_TO_ETM, 10**8, 0)
    _, second = P.reserve_swap(pool1, PoolDirection.ASSET_TO_ETM, 10**8, 0)
    sequential = P.quote(P.settle_swap(pool1, first), PoolDirection.ASSET_TO_ETM, 10**8)
    assert second.amount_out == sequential.amount_out


def test_withdrawal_of_reserved_funds_is_refused_not_shortchanged() -> None:
    # a withdrawal is paid at the pool's real reserves or refused: never at a skewed price
    pool, bob_shares, _ = two_investors()
    pool, _ = P.reserve_swap(pool, PoolDirection.ASSET_TO_ETM, 10 * SIDE, 0)  # reserves most ETM
    with pytest.raises(LiquidityError) as exc:
        P.remove_liquidity(pool, bob_shares, bob_shares)
    assert exc.value.reason == Reason.RESERVED_BY_INFLIGHT


def test_tiny_swaps_never_pay_out_for_free() -> None:
    # 1-unit swaps: the fee is rounded up to 1, so nothing is left to buy with
    pool, _, _ = two_investors()
    for direction in PoolDirection:
        with pytest.raises(ExchangeError) as exc:
            P.quote(pool, direction, 1)
        assert exc.value.reason == Reason.ZERO_OUTPUT


def test_repeated_tiny_swaps_never_beat_one_swap() -> None:
    # splitting a trade into minimal pieces does not exploit rounding
    pool, _, _ = two_investors()
    one = P.quote(pool, PoolDirection.ASSET_TO_ETM, 400).amount_out
    got = 0
    for _ in range(100):
        pool, q = P.reserve_swap(pool, PoolDirection.ASSET_TO_ETM, 4, 0)
        pool = P.settle_swap(pool, q)
        got += q.amount_out
    assert got <= one


def test_deposit_short_of_etm_is_refused_instead_of_donating_the_asset() -> None:
    # the SPV-proven asset payment is taken whole; with too little ETM beside it the shares are
    # limited by the ETM and the rest of the asset would be a gift to the other investors
    pool, _, _ = two_investors()
    need = P.deposit_quote(pool, 10**8)
    with pytest.raises(ExchangeError) as exc:
        P.add_liquidity(pool, 10**8, need // 10)
    assert exc.value.reason == Reason.DEPOSIT_ETM_SHORT
    assert str(need) in str(exc.value)
    _, mint = P.add_liquidity(pool, 10**8, need)  # the quoted ETM is always enough
    assert mint.etm_in <= need
