"""External-asset amounts are u128, ETM amounts stay u64 (docs/exchange.md, "Amount encoding").

ETH is counted in wei, so a u64 stopped at about 18.4 ETH. A payload integer past its range is
an :class:`~etm_bridge.errors.AmountError` (the chain's ``bad_amount``), never a struct.error.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from exchange_harness import Ledger
from test_txtypes import H, bind, btc_key, deposit, foreign_lock, rejected, swap_in

from etm_bridge.chains.ethereum import ETH
from etm_bridge.errors import AmountError, ExchangeError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import pool as pm
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.reasons import Reason
from etm_bridge.units import format_amount, parse_amount

U64_END, U128_END = 2**64, 2**128


def _swap_in(amount_in: int, min_out: int = 1) -> pl.SwapIn:
    return pl.SwapIn("eth", "etm1x", amount_in, b"\x01" * 32, min_out, b"\x02")


@pytest.mark.parametrize(
    "payload",
    [
        _swap_in(U64_END),
        _swap_in(U128_END - 1),
        pl.SwapIntentPayload("eth", b"\x01" * 32, U128_END - 1, U64_END - 1),
        pl.SwapOut("eth", U64_END - 1, b"\x01" * 32, 10, U128_END - 1),
        pl.LpWithdraw("eth", 5, U64_END - 1, U128_END - 1),
    ],
)
def test_u128_asset_amounts_round_trip(payload: object) -> None:
    assert pl.decode_payload(type(payload), pl.encode_payload(payload)) == payload


@pytest.mark.parametrize(
    "payload",
    [
        _swap_in(U128_END),  # the asset side past its u128
        _swap_in(10, min_out=U64_END),  # ETM out past its u64
        pl.SwapIntentPayload("eth", b"\x01" * 32, U128_END, 1),
        pl.SwapOut("eth", U64_END, b"\x01" * 32, 10, 1),  # ETM in past its u64
        pl.SwapOut("eth", 1, b"\x01" * 32, 10, U128_END),
        pl.LpWithdraw("eth", 5, U64_END, 0),  # min_etm is ETM: u64
        pl.LpWithdraw("eth", 5, 0, U128_END),
        pl.HtlcLockPayload("etm1x", U64_END, b"\x01" * 32, 10),  # ETM
        pl.LpDeposit("eth", U64_END, 1, b"\x00"),
    ],
)
def test_amounts_past_their_range_are_amount_errors(payload: object) -> None:
    with pytest.raises(AmountError, match=r"must be a u(64|128)"):
        pl.decode_payload(type(payload), pl.encode_payload(payload))


def test_field_widths_are_documented_per_payload() -> None:
    assert pl.int_bound(pl.SwapIn, "amount_in") == U128_END - 1
    assert pl.int_bound(pl.SwapIn, "min_out") == U64_END - 1
    assert pl.int_bound(pl.LpDeposit, "etm_max") == U64_END - 1


def test_cli_amounts_of_eth_go_past_18_4_eth_but_btc_and_etm_stay_u64() -> None:
    assert parse_amount("100 ETH", "eth") == 100 * ETH > U64_END
    assert format_amount(100 * ETH, "eth") == "100 ETH"
    with pytest.raises(AmountError, match="too large"):
        parse_amount(str(U128_END), "eth")
    with pytest.raises(AmountError, match="too large"):
        parse_amount("184467440737.09551616", "etm")  # 2**64 base units


def test_pool_reserves_past_their_width_are_bad_amount() -> None:
    params = pm.PoolParams("eth", "etm1op", b"\x01" * 20)
    assert pm.Pool(params, asset_reserve=U128_END - 1).asset_reserve == U128_END - 1
    for kw in ({"asset_reserve": U128_END}, {"etm_reserve": U64_END}):
        with pytest.raises(ExchangeError) as exc:
            pm.Pool(params, **kw)  # type: ignore[arg-type]
        assert exc.value.reason == Reason.BAD_AMOUNT


def _wei_pool() -> Ledger:
    """A pool holding 1,000 ETH worth of wei (past a u64) against 100,000 ETM."""
    led = Ledger()
    led.send("operator", tt.POOL_CREATE, pl.PoolCreate("btc", btc_key("operator"), 3_000, 100, 1))
    bind(led, "operator")
    deposit(led, "operator", b"dep-0", 1_000 * ETH, 10**13)
    bind(led, "alice")
    return led


def test_a_swap_in_of_more_than_a_u64_of_wei_goes_through() -> None:
    led = _wei_pool()
    amount = 50 * ETH  # > 2**64
    swap_in(led, foreign_lock(led, amount=amount))
    pool = led.pool()
    assert pool.asset_pending_in == amount > U64_END
    before = replace(pool, asset_pending_in=0, etm_reserved=0)
    assert pool.etm_reserved == pm.quote(before, pm.PoolDirection.ASSET_TO_ETM, amount).amount_out
    led.check_money()


def test_a_lock_past_the_pools_u128_is_bad_amount_and_reserves_nothing() -> None:
    led = _wei_pool()
    before = led.state.changes()
    lock = foreign_lock(led, amount=U128_END - 1, hashlock=H)
    rejected(Reason.BAD_AMOUNT, lambda: swap_in(led, lock))
    assert led.state.changes() == before
