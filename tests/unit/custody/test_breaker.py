"""The bond requirement and the circuit breaker (design-14 section 6.5), with the attack of
dumping the price to lower the valuation of what the vault holds."""

from __future__ import annotations

import pytest

from etm_bridge.custody import breaker as br
from etm_bridge.errors import ExchangeError

pytestmark = pytest.mark.unit

SCALE = br.PRICE_SCALE


def pool(
    asset: str = "x",
    reserve: int = 1_000,
    owed: int = 0,
    in_htlc: int = 0,
    etm: int = 0,
    prices: tuple[int, ...] = (2 * SCALE,),
    attested: bool = False,
) -> br.PoolRisk:
    return br.PoolRisk(asset, reserve, owed, in_htlc, etm, prices, attested)


def test_formula_exact() -> None:
    a = pool(reserve=1_000, owed=200, in_htlc=300, prices=(2 * SCALE, 3 * SCALE))
    b = pool("y", reserve=10, etm=7_000, prices=(5 * SCALE,), attested=True)
    assert a.held_value == 1_500 * 3
    assert b.held_value == 50 and b.relay_risk == 7_000
    assert br.value_at_risk([a, b]) == 4_500 + 50 + 7_000
    state = br.breaker([a, b], coalition_bond=17_325, ratio_ppm=1_500_000, m=3)
    assert not state.paused  # 11,550 * 1.5 = 17,325: covered exactly
    assert br.breaker([a, b], 17_324, 1_500_000, 3).paused
    assert state.to_json()["value_at_risk_etm"] == 11_550


def test_price_window_is_the_max_of_the_last_snapshots() -> None:
    prices: tuple[int, ...] = ()
    for etm, asset in [(100, 10), (300, 10), (200, 10), (0, 0)]:
        prices = br.push_price(prices, etm, asset, window=2)
    assert prices == (30 * SCALE, 20 * SCALE)  # the empty pool added nothing; window 2


def test_attack_a_dumped_price_does_not_lower_the_valuation() -> None:
    """An attacker swaps the pool's price down 100x in the last round to make the vault look
    cheap and reopen inflows: the window's maximum still values it at the old price."""
    honest = (10 * SCALE,) * 4
    dumped = br.push_price(honest, 10, 100, window=4)  # 0.1: the attacker's round
    assert dumped[-1] == SCALE // 10
    before = pool(reserve=1_000, prices=honest)
    after = pool(reserve=1_000, prices=dumped)
    assert after.held_value == before.held_value == 10_000
    with pytest.raises(ExchangeError) as exc:
        br.check_inflow([after], "x", 1, coalition_bond=14_999, ratio_ppm=1_500_000, m=3)
    assert exc.value.reason == "custody_bond_cap"


def test_an_inflow_crossing_the_line_is_refused_and_smaller_ones_pass() -> None:
    p = pool(reserve=1_000, prices=(SCALE,))  # value 1,000; bond covers 1,000 * 1.5 exactly
    br.check_inflow([p], "x", 0, 1_500, 1_500_000, 3)
    with pytest.raises(ExchangeError) as exc:
        br.check_inflow([p], "x", 1, 1_500, 1_500_000, 3)
    assert "would pass its cap" in str(exc.value) and "cheapest 3 members bond 1500" in str(
        exc.value
    )
    br.check_inflow([p], "x", 10, 1_515, 1_500_000, 3)
    with pytest.raises(ExchangeError, match="is paused"):
        br.check_inflow([p], "x", 0, 1_499, 1_500_000, 3)


def test_withdrawals_only_lower_the_value_at_risk() -> None:
    """The breaker has no outflow check; a withdrawal (reserve down, owed up until paid, then
    gone) never raises the value at risk, so it can only reopen inflows."""
    held = pool(reserve=1_000, prices=(SCALE,))
    owed = pool(reserve=600, owed=400, prices=(SCALE,))
    paid = pool(reserve=600, prices=(SCALE,))
    assert br.value_at_risk([paid]) <= br.value_at_risk([owed]) <= br.value_at_risk([held])
    assert br.breaker([held], 1_400, 1_500_000, 3).paused
    assert not br.breaker([paid], 1_400, 1_500_000, 3).paused
