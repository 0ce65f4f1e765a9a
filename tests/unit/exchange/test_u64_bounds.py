"""Counts the chain stores as u64 (LP shares, entry share values) cannot overflow into a crash.

ETH amounts are in wei, so an ETH pool's reserves pass 2**64 at about 18.4 ETH, and
``isqrt(asset * etm)`` shares can pass it too. A deposit that would store more than a u64 must
be a clean rejection with a reason (the chain rolls it back), never a ``struct.error`` escaping
the transaction type (which the chain's rules do not catch).
"""

from __future__ import annotations

from exchange_harness import Ledger
from test_txtypes import bind, btc_key, rejected

from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.obligations import VerifiedDeposit
from etm_bridge.exchange.reasons import Reason


def test_deposit_minting_more_than_a_u64_of_shares_is_rejected() -> None:
    led = Ledger()
    led.send("operator", tt.POOL_CREATE, pl.PoolCreate("btc", btc_key("operator"), 3_000, 100, 1))
    bind(led, "operator")
    payload = pl.LpDeposit("btc", 10**13, 1, b"proof")
    # 10**30 base units of the asset (e.g. 10**12 ETH in wei) with 10**13 ETM units
    record = VerifiedDeposit(b"dep-huge", "btc", 10**30, led.address("operator"))
    before = led.state.changes()
    rejected(
        Reason.BAD_AMOUNT,
        lambda: led.send_verified(
            "operator", tt.LP_DEPOSIT, payload, plans.plan_lp_deposit, record
        ),
    )
    assert led.state.changes() == before
    assert led.pool().total_shares == 0
