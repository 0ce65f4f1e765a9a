"""The Handshake adapter's fee rate: the node's estimate kept inside bounds, else a fallback.

Rates are whole dollarydoos per virtual byte ("doo/vB"; 1 HNS = 1,000,000 doo). hsd relays
from 1 doo/vB (``policy.MIN_RELAY`` = 1000 doo/kvB) and its wallet pays 20 doo/vB by default.
``estimatesmartfee`` answers HNS per kB (``{"fee": -1}`` without an estimate, as on regtest).
A node's estimate is only its word: it is used only inside ``[min_fee_doo_vb,
max_fee_doo_vb]`` (defaults 1 and 1,000: an absurd answer costs at most 1,000 doo/vB, a
200-vB claim 0.2 HNS; a near-zero one still relays), and without an estimate the fallback
(default 20, hsd's own wallet rate) is paid. Same rules as the Bitcoin adapter's ``fees.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from etm_bridge.errors import ConfigError

FALLBACK_FEE_DOO_VB = 20
MIN_FEE_DOO_VB = 1
MAX_FEE_DOO_VB = 1_000
DOO_PER_HNS = 1_000_000
CONFIG_KEYS = {
    "fallback": "fallback_fee_doo_vb",
    "minimum": "min_fee_doo_vb",
    "maximum": "max_fee_doo_vb",
}


def doo_vb_from_estimate(reply: object) -> int | None:
    """Whole doo/vB (rounded up) from hsd's ``estimatesmartfee`` reply (HNS/kB), or None."""
    if not isinstance(reply, dict):
        return None
    value = reply.get("fee")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        hns_per_kb = Decimal(str(value))
    except ArithmeticError:
        return None
    if not hns_per_kb.is_finite() or hns_per_kb <= 0:
        return None
    return max(1, int((hns_per_kb * DOO_PER_HNS / 1000).to_integral_value(ROUND_CEILING)))


@dataclass(frozen=True)
class FeeChoice:
    rate: int
    source: str
    node_rate: int | None

    @property
    def bounded(self) -> bool:
        return self.node_rate is not None and self.node_rate != self.rate


@dataclass(frozen=True)
class FeePolicy:
    fallback: int = FALLBACK_FEE_DOO_VB
    minimum: int = MIN_FEE_DOO_VB
    maximum: int = MAX_FEE_DOO_VB

    def __post_init__(self) -> None:
        for field, key in CONFIG_KEYS.items():
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{key} must be an int >= 1 (doo/vB), got {value!r}")
        if not self.minimum <= self.fallback <= self.maximum:
            raise ConfigError(
                "fees must satisfy min_fee_doo_vb <= fallback_fee_doo_vb <= max_fee_doo_vb, "
                f"got {self.minimum} <= {self.fallback} <= {self.maximum}"
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FeePolicy:
        values: dict[str, int] = {}
        for field, key in CONFIG_KEYS.items():
            value = config.get(key)
            if value is None:
                continue
            if isinstance(value, bool):
                raise ConfigError(f"handshake adapter config: {key} must be an integer")
            try:
                values[field] = int(value)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"handshake adapter config: {key} must be an integer (doo/vB), got {value!r}"
                ) from None
        return cls(**values)

    def choose(self, node_rate: int | None) -> FeeChoice:
        if node_rate is None:
            return FeeChoice(self.fallback, "fallback", None)
        return FeeChoice(min(max(node_rate, self.minimum), self.maximum), "node", node_rate)
