"""Pool and LP answers under ``--json`` (issue 15): every amount is ``{"base_units": "<string>",
"display"}`` in its own unit (the row's asset, or ETM), share counts are decimal strings, and
nothing else changes. A bare integer amount would be rounded by a double-based JSON reader once
it passes 2**53, as 18-decimal amounts do."""

from __future__ import annotations

from etm_bridge_cli.output import liquidity_json

WEI = 10**18


def test_pool_rows_positions_and_nested_obligations_carry_amounts_as_strings() -> None:
    pool = {
        "asset": "eth",
        "asset_reserve": 20 * WEI + 1,
        "etm_reserve": 2_000 * 10**8,
        "total_shares": 2**60,
        "fee_ppm": 3_000,
        "halted": False,
        "operator": "etm1x",
    }
    out = liquidity_json([pool])[0]
    assert out["asset_reserve"] == {"base_units": str(20 * WEI + 1), "display": "~20 ETH"}
    assert out["etm_reserve"] == {"base_units": "200000000000", "display": "2000 ETM"}
    assert out["total_shares"] == str(2**60)
    assert (out["fee_ppm"], out["halted"], out["operator"]) == (3_000, False, "etm1x")
    withdrawal = {
        "asset": "btc",
        "shares": 7,
        "etm_received": None,
        "fee": 10_000,
        "obligations": [{"asset": "btc", "amount": 5_000, "deadline_height": 9}],
    }
    done = liquidity_json(withdrawal)
    assert done["shares"] == "7" and done["etm_received"] is None
    assert done["fee"]["base_units"] == "10000"
    [ob] = done["obligations"]
    assert ob["amount"] == {"base_units": "5000", "display": "0.00005 BTC"}
    assert ob["deadline_height"] == 9  # a height, not an amount


def test_a_token_without_known_decimals_shows_its_base_units() -> None:
    row = {"asset": "erc20:0x" + "ab" * 20, "value_asset": 123, "value_etm": 5}
    out = liquidity_json(row)
    assert out["value_asset"] == {"base_units": "123", "display": f"123 {row['asset']} base units"}
    assert out["value_etm"]["base_units"] == "5"


def test_no_bare_integer_amount_is_left_anywhere() -> None:
    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in {"asset_reserve", "etm_reserve", "value_asset", "amount", "shares"}:
                    assert not isinstance(v, int), (k, v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(
        liquidity_json(
            [
                {
                    "asset": "btc",
                    "asset_reserve": 1,
                    "etm_reserve": 2,
                    "shares": 3,
                    "positions": [{"asset": "btc", "value_asset": 4, "amount": 5}],
                }
            ]
        )
    )
