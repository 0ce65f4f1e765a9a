"""The Bitcoin adapter's fee rate: the node's estimate kept inside sane bounds, else a fallback.

``estimatesmartfee`` is only the node's word, and a node can be wrong (a bug, a thin estimator,
a node run by someone else). Its rate is used only inside ``[min_fee_sat_vb, max_fee_sat_vb]``
(defaults :data:`MIN_FEE_SAT_VB` and :data:`MAX_FEE_SAT_VB`): an absurd answer makes us pay at
most the ceiling, a near-zero one at least the floor (claims and refunds race a timelock, so a
rate too low to be mined in time could lose the swap). Without an estimate (bcoin never has
one, nor a young regtest chain, nor a node that refuses the call) the configured fallback is
used, which must itself lie inside the bounds. The ceiling default, 1,000 sat/vB, is above every
sustained mainnet fee level yet a tenth of the rate Bitcoin Core itself refuses to broadcast by
default (``maxfeerate`` 0.10 BTC/kvB); set all three keys for your network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etm_bridge.errors import ConfigError

#: Fee rate used when the node has no estimate.
FALLBACK_FEE_SAT_VB = 2
#: The lowest rate ever paid (whole sat/vB; the transaction builders take integers).
MIN_FEE_SAT_VB = 1
#: The highest rate ever paid, whatever the node estimates.
MAX_FEE_SAT_VB = 1_000
#: FeePolicy field -> adapter config key.
CONFIG_KEYS = {
    "fallback_sat_vb": "fallback_fee_sat_vb",
    "min_sat_vb": "min_fee_sat_vb",
    "max_sat_vb": "max_fee_sat_vb",
    "fixed_sat_vb": "fee_rate_sat_vb",
}


@dataclass(frozen=True)
class FeeChoice:
    """The rate to pay and why: ``source`` "node" or "fallback"; ``node_rate`` is the node's
    own estimate (None without one), which differs from ``rate`` when a bound applied."""

    rate: int
    source: str  # "node", "fallback" or "user" (fee_rate_sat_vb)
    node_rate: int | None

    @property
    def bounded(self) -> bool:
        return self.node_rate is not None and self.node_rate != self.rate


@dataclass(frozen=True)
class FeePolicy:
    """Fallback and bounds, in whole sat/vB (config keys ``fallback_fee_sat_vb``,
    ``min_fee_sat_vb``, ``max_fee_sat_vb``)."""

    fallback_sat_vb: int = FALLBACK_FEE_SAT_VB
    min_sat_vb: int = MIN_FEE_SAT_VB
    max_sat_vb: int = MAX_FEE_SAT_VB
    fixed_sat_vb: int | None = None  # the user's own rate (--fee-rate): no estimate asked

    def __post_init__(self) -> None:
        for key, value in self._keys().items():
            if value is None and key == "fee_rate_sat_vb":
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{key} must be an int (sat/vB), got {value!r}")
            if value < 1:
                raise ConfigError(f"{key} must be >= 1 sat/vB, got {value}")
        if not self.min_sat_vb <= self.fallback_sat_vb <= self.max_sat_vb:
            raise ConfigError(
                f"fees must satisfy min_fee_sat_vb <= fallback_fee_sat_vb <= max_fee_sat_vb, got "
                f"{self.min_sat_vb} <= {self.fallback_sat_vb} <= {self.max_sat_vb}"
            )
        if self.fixed_sat_vb is not None and self.fixed_sat_vb > self.max_sat_vb:
            raise ConfigError(
                f"fee rate {self.fixed_sat_vb} sat/vB is above the ceiling max_fee_sat_vb "
                f"({self.max_sat_vb}); pay less, or raise max_fee_sat_vb in the chain's config"
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FeePolicy:
        """From the adapter config's keys (absent or null: the default)."""
        values: dict[str, int | None] = {}
        for field, key in CONFIG_KEYS.items():
            value = config.get(key)
            if value is None:
                continue
            try:
                values[field] = int(value)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"bitcoin adapter config: {key} must be an integer (sat/vB), got {value!r}"
                ) from None
        return cls(**values)  # type: ignore[arg-type]

    def _keys(self) -> dict[str, object]:
        return {key: getattr(self, field) for field, key in CONFIG_KEYS.items()}

    def choose(self, node_rate: int | None) -> FeeChoice:
        """The rate for the node's estimate ``node_rate`` (None: the node has none)."""
        if node_rate is None:
            return FeeChoice(self.fallback_sat_vb, "fallback", None)
        return FeeChoice(min(max(node_rate, self.min_sat_vb), self.max_sat_vb), "node", node_rate)
