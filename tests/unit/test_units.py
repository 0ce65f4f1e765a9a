"""units: exact decimal strings at the edges, integers inside."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.errors import AmountError
from etm_bridge.units import display_amount, format_amount, known_units, parse_amount


def test_parse_btc_decimal_to_satoshi() -> None:
    assert parse_amount("0.01", "btc") == 1_000_000
    assert parse_amount("0.01 BTC", "btc") == 1_000_000
    assert parse_amount("1", "eth") == 10**18


@pytest.mark.parametrize("text", ["0.000000001", "-1", "abc", "1e400", "nan", "1 ETH", "1 2 3"])
def test_bad_amounts_are_rejected_with_the_value_named(text: str) -> None:
    with pytest.raises(AmountError, match="amount"):
        parse_amount(text, "btc")


def test_unknown_asset_lists_known_ones() -> None:
    with pytest.raises(AmountError, match="known assets"):
        parse_amount("1", "doge")


@given(st.integers(min_value=0, max_value=2**64 - 1), st.sampled_from(["btc", "eth", "etm"]))
def test_format_then_parse_round_trips(value: int, asset: str) -> None:
    assert parse_amount(format_amount(value, asset), asset) == value


def test_display_amount_rounds_18_decimal_units_to_8_places_and_says_so() -> None:
    """Issue 15: amounts of 18-decimal units were printed with every digit; people see at most
    8 places (``~`` when rounded), while parsing and JSON keep every base unit."""
    asset = next(a for a, u in known_units().items() if u.decimals == 18)
    symbol = known_units()[asset].symbol
    assert display_amount(5 * 10**17, asset) == f"0.5 {symbol}"
    assert display_amount(123_456_789_012_345_678, asset) == f"~0.12345679 {symbol}"
    assert display_amount(1, asset) == f"~0 {symbol}"
    assert display_amount(10**8 + 1, "etm") == "1.00000001 ETM"  # 8 decimals: always exact
