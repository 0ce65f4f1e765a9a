"""Pool pricing, rounding, shares and reservations: one test per rule and rejection reason."""

from __future__ import annotations

from dataclasses import replace
from math import isqrt

import pytest

from etm_bridge.errors import ExchangeError, LiquidityError, SlippageError
from etm_bridge.exchange import pool as P
from etm_bridge.exchange.pool import PoolDirection
from etm_bridge.exchange.reasons import Reason

CLAIM_KEY = b"\x02" + b"\x11" * 32


def params(**kw: object) -> P.PoolParams:
    base: dict[str, object] = {"asset": "btc", "operator": "etm1op", "claim_key": CLAIM_KEY}
    base.update(kw)
    return P.PoolParams(**base)  # type: ignore[arg-type]


def seeded(asset: int = 1_000_000, etm: int = 2_000_000, fee_ppm: int = 3_000) -> P.Pool:
    pool, _ = P.add_liquidity(P.Pool(params(fee_ppm=fee_ppm)), asset, etm)
    return pool


def reason_of(exc: pytest.ExceptionInfo[ExchangeError]) -> str:
    return exc.value.reason


# --- parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"asset": ""},
        {"asset": "BTC"},
        {"asset": "etm"},
        {"operator": ""},
        {"claim_key": b"\x02" * 5},
        {"fee_ppm": -1},
        {"fee_ppm": P.MAX_FEE_PPM + 1},
        {"obligation_blocks": 0},
        {"min_confirmations": 0},
    ],
)
def test_bad_pool_parameters_are_rejected(kw: dict[str, object]) -> None:
    with pytest.raises(ExchangeError) as exc:
        params(**kw)
    assert exc.value.reason == Reason.BAD_PARAMETER or exc.value.reason == Reason.BAD_AMOUNT


def test_amounts_must_be_positive_integers() -> None:
    pool = seeded()
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ExchangeError) as exc:
            P.quote(pool, PoolDirection.ASSET_TO_ETM, bad)  # type: ignore[arg-type]
        assert exc.value.reason == Reason.BAD_AMOUNT


# --- first deposit and the inflation guard ------------------------------------------------------


def test_first_deposit_locks_minimum_liquidity() -> None:
    pool, mint = P.add_liquidity(P.Pool(params()), 1_000_000, 4_000_000)
    root = isqrt(1_000_000 * 4_000_000)  # 2_000_000
    assert mint.shares == root - P.MINIMUM_LIQUIDITY
    assert mint.locked_shares == P.MINIMUM_LIQUIDITY
    assert pool.total_shares == root
    assert (pool.asset_reserve, pool.etm_reserve) == (1_000_000, 4_000_000)


def test_first_deposit_too_small_is_rejected() -> None:
    with pytest.raises(ExchangeError) as exc:
        P.add_liquidity(P.Pool(params()), 1_000, 1_000)  # sqrt = 1000, not above the lock
    assert exc.value.reason == Reason.INITIAL_LIQUIDITY_TOO_SMALL


def test_inflation_attack_does_not_steal_the_next_deposit() -> None:
    # The attacker makes the smallest first deposit, then "donates" a large amount to the pool
    # (modelled as reserve growth), hoping the victim's deposit rounds down to 0 shares.
    pool, attacker = P.add_liquidity(P.Pool(params()), 1_001, 1_001)
    assert attacker.shares == 1
    donated = replace(pool, asset_reserve=pool.asset_reserve + 10**8, etm_reserve=10**8 + 1_001)
    victim_pool, victim = P.add_liquidity(donated, 10**7, 10**7)
    # The victim still gets shares, and the attacker's single share owns at most 1/1001 of the
    # donation: the locked shares own the rest, so the attack loses the attacker money.
    assert victim.shares > 0
    _, burn = P.remove_liquidity(victim_pool, attacker.shares, attacker.shares)
    assert burn.asset_out < 10**8 // 1_000


# --- pricing and rounding -----------------------------------------------------------------------


def test_quote_rounds_fee_up_and_output_down() -> None:
    pool = seeded(1_000_000, 2_000_000, fee_ppm=3_000)
    q = P.quote(pool, PoolDirection.ASSET_TO_ETM, 10_000)
    # fee = ceil(10000 * 3000 / 1e6) = 30; net 9970; out = floor(2e6 * 9970 / 1009970) = 19743
    assert (q.fee, q.amount_out) == (30, 19_743)
    q2 = P.quote(pool, PoolDirection.ASSET_TO_ETM, 1_001)
    assert q2.fee == 4  # 3.003 rounded up


def test_swap_too_small_to_buy_anything_is_rejected() -> None:
    with pytest.raises(ExchangeError) as exc:
        P.quote(seeded(), PoolDirection.ETM_TO_ASSET, 1)  # fee 1 eats it all
    assert exc.value.reason == Reason.ZERO_OUTPUT


def test_quote_on_empty_pool_is_rejected() -> None:
    with pytest.raises(ExchangeError) as exc:
        P.quote(P.Pool(params()), PoolDirection.ASSET_TO_ETM, 10)
    assert exc.value.reason == Reason.POOL_EMPTY


def test_slippage_bound_rejects_a_moved_pool() -> None:
    pool = seeded()
    q = P.quote(pool, PoolDirection.ASSET_TO_ETM, 10_000)
    moved, _ = P.reserve_swap(pool, PoolDirection.ASSET_TO_ETM, 50_000, 0)
    with pytest.raises(SlippageError) as exc:
        P.reserve_swap(moved, PoolDirection.ASSET_TO_ETM, 10_000, q.amount_out)
    assert exc.value.reason == Reason.SLIPPAGE
    # the unmoved pool honours the same quote exactly
    _, again = P.reserve_swap(pool, PoolDirection.ASSET_TO_ETM, 10_000, q.amount_out)
    assert again == q


def test_concurrent_swaps_price_like_sequential_ones() -> None:
    pool = seeded()
    p1, q1 = P.reserve_swap(pool, PoolDirection.ASSET_TO_ETM, 100_000, 0)
    _, q2 = P.reserve_swap(p1, PoolDirection.ASSET_TO_ETM, 100_000, 0)
    settled = P.settle_swap(p1, q1)
    _, q2_after_settle = P.reserve_swap(settled, PoolDirection.ASSET_TO_ETM, 100_000, 0)
    assert q2 == q2_after_settle
    assert q2.amount_out < q1.amount_out


# --- reservations -------------------------------------------------------------------------------


def test_reservation_never_exceeds_unreserved_funds() -> None:
    pool = seeded(1_000_000, 2_000_000)
    # pending ETM inflows (which may never arrive) do not count as ETM the pool can pay out
    p1, _ = P.reserve_swap(pool, PoolDirection.ETM_TO_ASSET, 50_000_000, 0)
    p2, q = P.reserve_swap(p1, PoolDirection.ASSET_TO_ETM, 10**12, 0)
    assert q.amount_out < p1.etm_available
    assert p2.etm_reserved <= p2.etm_reserve


def test_settle_and_release_each_undo_exactly_their_reservation() -> None:
    pool = seeded()
    reserved, q = P.reserve_swap(pool, PoolDirection.ASSET_TO_ETM, 10_000, 0)
    assert reserved.etm_reserved == q.amount_out <= reserved.etm_reserve
    assert reserved.asset_pending_in == 10_000
    released = P.release_swap(reserved, q)
    assert released == pool
    settled = P.settle_swap(reserved, q)
    assert settled.etm_reserved == 0 and settled.asset_pending_in == 0
    assert settled.etm_reserve == pool.etm_reserve - q.amount_out
    assert settled.asset_reserve == pool.asset_reserve + 10_000
    assert settled.fees_asset == q.fee
    with pytest.raises(LiquidityError):
        P.release_swap(settled, q)  # a second release would make the reservation negative


def test_withdrawal_of_reserved_funds_is_rejected() -> None:
    pool, mint = P.add_liquidity(P.Pool(params()), 1_000_000, 2_000_000)
    busy, _ = P.reserve_swap(pool, PoolDirection.ASSET_TO_ETM, 500_000, 0)
    with pytest.raises(LiquidityError) as exc:
        P.remove_liquidity(busy, mint.shares, mint.shares)
    assert exc.value.reason == Reason.RESERVED_BY_INFLIGHT
    _, burn = P.remove_liquidity(busy, mint.shares // 10, mint.shares)  # a part is still free
    assert burn.etm_out > 0


def test_withdrawing_more_shares_than_owned_is_rejected() -> None:
    pool, mint = P.add_liquidity(P.Pool(params()), 1_000_000, 2_000_000)
    with pytest.raises(ExchangeError) as exc:
        P.remove_liquidity(pool, mint.shares + 1, mint.shares)
    assert exc.value.reason == Reason.INSUFFICIENT_SHARES


def test_halted_pool_takes_no_swaps_or_deposits_but_pays_withdrawals() -> None:
    pool, mint = P.add_liquidity(P.Pool(params()), 1_000_000, 2_000_000)
    halted = replace(pool, defaulted_obligations=1)
    for call in (
        lambda: P.reserve_swap(halted, PoolDirection.ASSET_TO_ETM, 1_000, 0),
        lambda: P.add_liquidity(halted, 1_000, 2_000),
    ):
        with pytest.raises(ExchangeError) as exc:
            call()
        assert exc.value.reason == Reason.POOL_HALTED
    P.remove_liquidity(halted, mint.shares, mint.shares)


# --- shares -------------------------------------------------------------------------------------


def test_pro_rata_deposit_takes_only_the_etm_it_needs() -> None:
    pool = seeded(1_000_000, 2_000_000)
    need = P.deposit_quote(pool, 100_000)
    assert need == 200_000
    new, mint = P.add_liquidity(pool, 100_000, 10**9)
    assert mint.etm_in == 200_000 and mint.asset_in == 100_000
    assert mint.shares == 100_000 * pool.total_shares // 1_000_000
    assert P.share_value_not_lower(pool, new)


def test_deposit_below_min_shares_is_rejected() -> None:
    pool = seeded()
    with pytest.raises(SlippageError) as exc:
        P.add_liquidity(pool, 100_000, 200_000, min_shares=10**9)
    assert exc.value.reason == Reason.SLIPPAGE
    with pytest.raises(ExchangeError) as exc2:  # 1 unit of asset is worth < 1 share here
        P.add_liquidity(seeded(10**9, 10**6), 1, 10**6)
    assert exc2.value.reason == Reason.ZERO_OUTPUT


def test_fees_raise_share_value() -> None:
    pool, _ = P.add_liquidity(P.Pool(params(fee_ppm=10_000)), 10**8, 10**10)
    traded = pool
    for direction in (PoolDirection.ASSET_TO_ETM, PoolDirection.ETM_TO_ASSET) * 5:
        amount = 10**6 if direction is PoolDirection.ASSET_TO_ETM else 10**8
        traded, q = P.reserve_swap(traded, direction, amount, 0)
        traded = P.settle_swap(traded, q)
    assert P.share_value_not_lower(pool, traded)
    assert not P.share_value_not_lower(traded, pool)  # strictly higher: fees stayed in
    assert traded.fees_asset > 0 and traded.fees_etm > 0
    assert P.share_value_ppm(traded) > P.share_value_ppm(pool) > 0
    assert P.share_value_ppm(P.Pool(params())) == 0
