"""``lp withdraw`` minimum outputs: ``min_etm`` / ``min_asset`` bound what a burn may pay.

A withdrawal that would pay less than either minimum (the pool moved since the investor looked)
is rejected with ``slippage`` and changes nothing.
"""

from __future__ import annotations

from test_txtypes import rejected, seeded_ledger

from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import pool as pm
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.reasons import Reason


def test_a_withdrawal_below_either_minimum_is_slippage_and_changes_nothing() -> None:
    led = seeded_ledger()
    pool, shares = led.pool(), 10**7  # ~31,600 sat: above the minimum withdrawal
    _, burn = pm.remove_liquidity(pool, shares, led.shares("operator"))
    before = led.state.changes()
    for min_etm, min_asset in ((burn.etm_out + 1, 0), (0, burn.asset_out + 1)):
        payload = pl.LpWithdraw("btc", shares, min_etm, min_asset)
        rejected(Reason.SLIPPAGE, lambda p=payload: led.send("operator", tt.LP_WITHDRAW, p))
        assert led.state.changes() == before
    owned = led.shares("operator")
    balance = led.balance("operator")
    led.send("operator", tt.LP_WITHDRAW, pl.LpWithdraw("btc", shares, burn.etm_out, burn.asset_out))
    assert led.shares("operator") == owned - shares
    assert led.balance("operator") == balance + burn.etm_out  # the harness charges no tx fee
    led.check_money()


def test_remove_liquidity_checks_minimums_after_the_rounding() -> None:
    led = seeded_ledger()
    pool, owned = led.pool(), led.shares("operator")
    _, burn = pm.remove_liquidity(pool, 7, owned)
    _, exact = pm.remove_liquidity(pool, 7, owned, burn.asset_out, burn.etm_out)
    assert exact == burn
