"""What a relay requires of a proof: its depth policy and how fresh its tip must be (genesis-set).

A :class:`RelayPolicy` is consensus configuration of one relay (written at genesis into
``spv_config``, never by a transaction):

- ``min_confirmations``: the network's floor for every proof (e.g. 6 on a proof-of-work
  mainnet, 1 on a development network);
- ``attacker_share`` and ``loss_budget``: the **value-scaled depth** of whitepaper section 3.1. A
  proof of ``amount`` (base units of the chain's asset) needs the smallest z whose exact
  attacker-success probability ``P(q, z)`` keeps the expected loss ``P * amount`` within
  ``loss_budget`` (:func:`.confirmation_risk.value_scaled_confirmations`). ``attacker_share = "0"``
  turns it off (chains whose blocks are no hash race, whose relay trusts its relayers instead);
- ``max_lag_s``: a lock proof is refused while the relay tip's header timestamp is more than
  this behind the ETM block time (``stale_relay``). Relaying is permissionless and on demand, so
  a prover could otherwise leave the relay at the lock's depth and make a refundable lock look
  young (issue 11, attack 2). Headers' timestamps are fixed by proof of work, so the prover cannot
  choose them.

:func:`required_depth` combines the policy with a pool's own ``min_confirmations``: the depth
every exchange proof needs is ``max(relay floor, pool value, value-scaled depth)``.
Each chain defines its networks' default policies (``etm_bridge.chains.<name>.etm.genesis``,
read with :func:`network_default`) and lays a genesis's own fields over them
(:meth:`RelayPolicy.overlaid`);
a config without a field (a chain initialised before the field existed) takes the network's
default. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etm_bridge.errors import ConfigError, ValidationError
from etm_bridge.spv.confirmation_risk import value_scaled_confirmations

#: Two hours: a gap of twelve 10-minute proof-of-work blocks happens about once in three years
#: (e^-12 per block), and a relay fed each tick by the pool operator is never that far behind.
DEFAULT_MAX_LAG_S = 2 * 3600


@dataclass(frozen=True)
class RelayPolicy:
    """One relay's proof policy (see the module docstring)."""

    min_confirmations: int
    max_lag_s: int = DEFAULT_MAX_LAG_S
    attacker_share: str = "0"  # decimal string, 0 <= q < 0.5; "0": no value scaling
    loss_budget: int = 0  # base units of the chain's asset

    def __post_init__(self) -> None:
        if not isinstance(self.min_confirmations, int) or self.min_confirmations < 1:
            raise ValidationError("a relay policy needs at least 1 confirmation")
        if not isinstance(self.max_lag_s, int) or self.max_lag_s < 1:
            raise ValidationError("max_lag_s must be a positive number of seconds")
        if not isinstance(self.loss_budget, int) or self.loss_budget < 0:
            raise ValidationError("loss_budget must be an int >= 0")
        value_scaled_confirmations(self.attacker_share, 0, 0)  # validates q

    @property
    def value_scaled(self) -> bool:
        return self.attacker_share not in ("0", "0.0") and self.loss_budget > 0

    def value_depth(self, amount: int) -> int:
        """The section 3.1 depth for a proof of ``amount`` (0 when value scaling is off)."""
        if not self.value_scaled:
            return 0
        return value_scaled_confirmations(self.attacker_share, self.loss_budget, amount)

    def required_depth(self, amount: int, pool_min_confirmations: int = 1) -> int:
        """``max(relay floor, pool value, value-scaled depth)`` for a proof of ``amount``."""
        return max(self.min_confirmations, pool_min_confirmations, self.value_depth(amount))

    def to_json(self) -> dict[str, Any]:
        return {
            "min_confirmations": self.min_confirmations,
            "max_lag_s": self.max_lag_s,
            "attacker_share": self.attacker_share,
            "loss_budget": self.loss_budget,
        }

    def overlaid(
        self,
        min_confirmations: int | None = None,
        max_lag_s: int | None = None,
        attacker_share: str | None = None,
        loss_budget: int | None = None,
    ) -> RelayPolicy:
        """This policy (a network's default) under a genesis's own fields: a field that is None
        keeps this policy's value, and so does a confirmation floor or lag of 0."""
        return RelayPolicy(
            min_confirmations or self.min_confirmations,
            max_lag_s or self.max_lag_s,
            self.attacker_share if attacker_share is None else attacker_share,
            self.loss_budget if loss_budget is None else loss_budget,
        )

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], base: RelayPolicy, network: str) -> RelayPolicy:
        """The policy in a relay's ``spv_config`` record; missing fields from ``base`` (the
        network's default, which its chain defines)."""
        budget = cfg.get("loss_budget")
        try:
            return cls(
                int(cfg.get("min_confirmations") or base.min_confirmations),
                int(cfg.get("max_lag_s") or base.max_lag_s),
                str(cfg.get("attacker_share") or base.attacker_share),
                base.loss_budget if budget is None else int(budget),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"malformed {network} relay policy: {exc}") from None


def network_default(policies: Mapping[str, RelayPolicy], network: str, what: str) -> RelayPolicy:
    """A chain's default policy of ``network`` (``what``: e.g. "<Chain> network"), or a
    ConfigError naming the networks that have one."""
    try:
        return policies[network]
    except KeyError:
        known = ", ".join(sorted(policies))
        raise ConfigError(
            f"no default relay policy for {what} {network!r}; known: {known}"
        ) from None
