"""Amounts: integers in each asset's smallest unit, decimal strings only at the edges.

``parse_amount("0.01", asset)`` for an asset of 8 decimals -> 1_000_000 base units;
``format_amount(1_000_000, asset)`` -> ``"0.01 <SYMBOL>"``; :func:`display_amount` is the same for
people, at most :data:`DISPLAY_DECIMALS` places (``~`` marks a rounded value). Parsing is exact
(``decimal.Decimal``), never through floats, and refuses more decimal places than the unit has
rather than rounding silently. ETM's unit is the core's (:data:`ETM_UNIT`); every other asset's
unit comes from the chain profile that owns it (``etm_bridge.chains``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from .errors import AmountError


@dataclass(frozen=True)
class Unit:
    """An asset's display symbol and the number of decimals of its smallest unit."""

    symbol: str
    decimals: int
    base_name: str
    #: Largest amount in base units: u64 unless the chain's amounts are wider (u128).
    max_units: int = 2**64 - 1

    @property
    def scale(self) -> int:
        return 10**self.decimals


#: Amounts shown to people carry at most this many decimals (some units have 18).
DISPLAY_DECIMALS = 8

#: The ETM chain's unit.
ETM_UNIT = Unit("ETM", 8, "base unit")
#: 1 ETM in base units.
ETM = ETM_UNIT.scale


def known_units() -> dict[str, Unit]:
    """Asset -> unit: ``etm`` and each installed chain's native asset."""
    from .chains.registry import chain_registry

    units = {"etm": ETM_UNIT}
    for profile in chain_registry().profiles:
        unit = profile.assets.unit_of(profile.assets.native)
        if unit is not None:
            units[profile.assets.native] = unit
    return units


def __getattr__(name: str) -> Any:
    if name == "UNITS":  # asset -> unit, as a constant of this module (they are the registry's)
        return known_units()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def unit_of(asset: str) -> Unit:
    """The unit of ``asset`` (``etm`` or an asset an installed chain owns); AmountError for an
    asset without one (unknown, or a token shown in base units)."""
    from .chains.registry import chain_registry

    wanted = asset.lower()
    unit = ETM_UNIT if wanted == "etm" else chain_registry().unit_of(wanted)
    if unit is None:
        known = ", ".join(sorted(known_units()))
        raise AmountError(f"unknown asset {asset!r}; known assets: {known}")
    return unit


def parse_amount(text: str, asset: str) -> int:
    """Parse a decimal string such as ``"0.01"`` or ``"0.01 <SYMBOL>"`` into base units."""
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


def display_amount(value: int, asset: str) -> str:
    """``value`` base units of ``asset`` for people: exact when it has at most
    :data:`DISPLAY_DECIMALS` decimals, else rounded to them (half to even) and marked ``~``.
    Never for JSON or arithmetic: those keep base units."""
    exact = format_amount(value, asset)
    unit = unit_of(asset)
    if unit.decimals <= DISPLAY_DECIMALS or value % 10 ** (unit.decimals - DISPLAY_DECIMALS) == 0:
        return exact
    shown = (Decimal(value) / unit.scale).quantize(
        Decimal(1).scaleb(-DISPLAY_DECIMALS), rounding=ROUND_HALF_EVEN
    )
    text = format(shown.normalize(), "f") if shown else "0"
    return f"~{text} {unit.symbol}"
