"""The bond requirement and the inflow circuit breaker (design-14 section 6.5).

m members of the committee can sign anything, so the value the vaults hold must stay covered by
what the cheapest m of them would lose. Per pool ``p`` (ETM units, integers)::

    price_p        = max over the last price_window_rounds round snapshots of
                     etm_reserve_p * 10**12 // asset_reserve_p
    held_value_p   = (asset_reserve_p + owed_p + in_htlc_p) * price_p // 10**12
    relay_risk_p   = etm_reserve_p if p's chain relay is committee-attested else 0
    value_at_risk  = sum_p (held_value_p + relay_risk_p)
    coalition_bond = the m smallest custody bonds of the active committee (committee.py)
    paused         = value_at_risk * bond_ratio_ppm > coalition_bond * 1_000_000

The price is the **maximum** of the window: a manipulator can push the valuation up (tripping
the breaker at its own cost), never down (a dumped price cannot open the gate). While paused,
inflows (LP deposits, swap-ins, swap intents) are refused with ``custody_bond_cap``; an inflow
that would itself cross the line is refused too. Outflows (swap-outs, withdrawals) are never
checked here: they lower the value at risk. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ExchangeError
from ..exchange.reasons import Reason

PRICE_SCALE = 10**12
PPM = 1_000_000


def price_ppt(etm_reserve: int, asset_reserve: int) -> int | None:
    """ETM per asset base unit, scaled by 10**12; None for an empty pool."""
    return None if asset_reserve <= 0 else etm_reserve * PRICE_SCALE // asset_reserve


def push_price(
    prices: Sequence[int], etm_reserve: int, asset_reserve: int, window: int
) -> tuple[int, ...]:
    """The window after one round snapshot (an empty pool adds nothing)."""
    now = price_ppt(etm_reserve, asset_reserve)
    out = tuple(prices) + (() if now is None else (now,))
    return out[-window:]


@dataclass(frozen=True)
class PoolRisk:
    """What one pool puts at risk (its custody accounts and price window)."""

    asset: str
    asset_reserve: int
    owed: int
    in_htlc: int
    etm_reserve: int
    prices: tuple[int, ...]  # the window, oldest first
    attested_relay: bool = False

    @property
    def price(self) -> int:
        return max(self.prices, default=0)

    @property
    def held_value(self) -> int:
        return (self.asset_reserve + self.owed + self.in_htlc) * self.price // PRICE_SCALE

    @property
    def relay_risk(self) -> int:
        return self.etm_reserve if self.attested_relay else 0


@dataclass(frozen=True)
class Breaker:
    paused: bool
    value_at_risk: int
    coalition_bond: int
    ratio_ppm: int
    m: int

    def to_json(self) -> dict[str, object]:
        return {
            "paused": self.paused,
            "value_at_risk_etm": self.value_at_risk,
            "coalition_bond_etm": self.coalition_bond,
            "ratio_ppm": self.ratio_ppm,
        }


def value_at_risk(pools: Sequence[PoolRisk]) -> int:
    return sum(p.held_value + p.relay_risk for p in pools)


def covered(value: int, coalition_bond: int, ratio_ppm: int) -> bool:
    return value * ratio_ppm <= coalition_bond * PPM


def breaker(pools: Sequence[PoolRisk], coalition_bond: int, ratio_ppm: int, m: int) -> Breaker:
    var = value_at_risk(pools)
    return Breaker(not covered(var, coalition_bond, ratio_ppm), var, coalition_bond, ratio_ppm, m)


def check_inflow(
    pools: Sequence[PoolRisk],
    asset: str,
    amount: int,
    coalition_bond: int,
    ratio_ppm: int,
    m: int,
) -> None:
    """Raise ``custody_bond_cap`` unless ``amount`` more of ``asset`` keeps the value at risk
    covered by the coalition bond at the ratio."""
    pool = next((p for p in pools if p.asset == asset), None)
    extra = 0 if pool is None else amount * pool.price // PRICE_SCALE
    var = value_at_risk(pools)
    if covered(var + extra, coalition_bond, ratio_ppm):
        return
    need = -(-(var + extra) * ratio_ppm // PPM)
    whole, frac = divmod(ratio_ppm, PPM)
    ratio = f"{whole}.{frac:06d}".rstrip("0").rstrip(".")
    state = "is paused" if not covered(var, coalition_bond, ratio_ppm) else "would pass its cap"
    raise ExchangeError(
        Reason.CUSTODY_BOND_CAP,
        f"custody {state}: vault value {var + extra} ETM base units needs {need} of committee "
        f"bond at ratio {ratio}; the cheapest {m} members bond {coalition_bond}: add bond or "
        "wait for withdrawals",
    )
