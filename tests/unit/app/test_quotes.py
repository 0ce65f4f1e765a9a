"""The price impact a quote shows and ``swap start`` refuses above ``--max-slippage``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.app.quotes import PPM, largest_in, price_impact_ppm, pricing_reserves
from etm_bridge.exchange.pool import PoolDirection


def _out(reserve_in: int, reserve_out: int, net_in: int) -> int:
    return reserve_out * net_in // (reserve_in + net_in)  # exchange.pool.quote


def test_issue_15_a_quote_of_five_times_the_pool_is_a_huge_impact() -> None:
    # `pool quote btc 0.05` into 0.01 BTC / 100 ETM: ~83 % of the value is lost to the curve
    impact = price_impact_ppm(1_000_000, 100 * 10**8, 5_000_000, _out(1_000_000, 10**10, 5_000_000))
    assert 830_000 <= impact <= 834_000


def test_a_small_swap_has_a_small_impact() -> None:
    assert price_impact_ppm(10**8, 10**10, 10**5, _out(10**8, 10**10, 10**5)) <= 1_000


def test_an_empty_side_is_all_impact() -> None:
    assert price_impact_ppm(0, 10, 5, 0) == PPM and price_impact_ppm(10, 0, 5, 0) == PPM


@given(st.integers(1, 10**12), st.integers(1, 10**12), st.integers(1, 10**12))
def test_the_impact_is_the_constant_products_within_rounding(r_in, r_out, net) -> None:
    impact = price_impact_ppm(r_in, r_out, net, _out(r_in, r_out, net))
    exact = net * PPM / (r_in + net)
    assert exact - 1 <= impact  # never shown smaller than it is
    assert 0 <= impact <= PPM


@given(st.integers(1, 10**12), st.integers(1, PPM - 1))
def test_the_largest_input_stays_within_the_bound(r_in, bound) -> None:
    n = largest_in(r_in, bound)
    assert n * PPM <= bound * (r_in + n)  # n / (r_in + n) <= bound


def test_pricing_reserves_are_the_worst_case_for_the_swapper() -> None:
    pool = {"asset_reserve": 100, "asset_pending_in": 10, "asset_reserved": 7,
            "etm_reserve": 1_000, "etm_pending_in": 50, "etm_reserved": 30}  # fmt: skip
    assert pricing_reserves(pool, PoolDirection.ASSET_TO_ETM) == (110, 970)
    assert pricing_reserves(pool, PoolDirection.ETM_TO_ASSET) == (1_050, 93)
