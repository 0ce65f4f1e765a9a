"""Amounts: integers in each chain's smallest unit, decimal strings only at the edges.

``parse_amount("0.01", "btc")`` -> 1_000_000 (satoshi); ``format_amount(1_000_000, "btc")`` ->
``"0.01 BTC"``. Parsing is exact (``decimal.Decimal``), never through floats, and refuses more
decimal places than the unit has rather than rounding silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .errors import AmountError


@dataclass(frozen=True)
class Unit:
    """An asset's display symbol and the number of decimals of its smallest unit."""

    symbol: str
    decimals: int
    base_name: str
    #: Largest amount in base units: u64, but u128 for ETH (2**64 wei is about 18.4 ETH).
    max_units: int = 2**64 - 1

    @property
    def scale(self) -> int:
        return 10**self.decimals


UNITS: dict[str, Unit] = {
    "btc": Unit("BTC", 8, "sat"),
    "eth": Unit("ETH", 18, "wei", 2**128 - 1),
    "etm": Unit("ETM", 8, "base unit"),
}

#: 1 ETM in base units.
ETM = UNITS["etm"].scale
#: 1 BTC in satoshi.
BTC = UNITS["btc"].scale
#: 1 ETH in wei.
ETH = UNITS["eth"].scale

#: Largest amount of the u64 units (BTC, ETM); see :attr:`Unit.max_units`.
MAX_AMOUNT = 2**64 - 1


def unit_of(asset: str) -> Unit:
    try:
        return UNITS[asset.lower()]
    except KeyError:
        known = ", ".join(sorted(UNITS))
        raise AmountError(f"unknown asset {asset!r}; known assets: {known}") from None


def parse_amount(text: str, asset: str) -> int:
    """Parse a decimal string such as ``"0.01"`` or ``"0.01 BTC"`` into base units."""
    unit = unit_of(asset)
    raw = text.strip()
    parts = raw.split()
    if len(parts) == 2:
        if parts[1].lower() != unit.symbol.lower():
            raise AmountError(f"amount {text!r} is in {parts[1]}, expected {unit.symbol}")
        raw = parts[0]
    elif len(parts) != 1:
        raise AmountError(f"amount {text!r} is not a decimal number")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise AmountError(f"amount {text!r} is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise AmountError(f"amount {text!r} must be a finite, non-negative number")
    scaled = value * unit.scale
    if scaled != scaled.to_integral_value():
        raise AmountError(
            f"amount {text!r} has more than {unit.decimals} decimal places for {unit.symbol}"
        )
    result = int(scaled)
    if result > unit.max_units:
        raise AmountError(
            f"amount {text!r} is too large (at most {unit.max_units} {unit.base_name})"
        )
    return result


def format_amount(value: int, asset: str, *, symbol: bool = True) -> str:
    """Format base units as an exact decimal string, trailing zeros trimmed."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise AmountError(f"amount must be an integer number of base units, got {value!r}")
    unit = unit_of(asset)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), unit.scale)
    text = f"{sign}{whole}"
    if frac:
        text += "." + str(frac).rjust(unit.decimals, "0").rstrip("0")
    return f"{text} {unit.symbol}" if symbol else text
