"""The ``spv`` section of a chain's genesis: which relays exist, from which checkpoints, for whom.

A checkpoint is consensus-critical configuration, so it is genesis state: no transaction may
set it. :class:`SpvSection` is the ``plugins.spv`` JSON object: every installed chain's keys
(prefixed ``<ticker>_``, written by the chain's ``relay.genesis`` part, with null values for a
chain without a relay, so the canonical JSON and the genesis id do not depend on which relays
are configured) plus ``allow_dev_pools``, the development flag without which the exchange
refuses pools on development relays. :meth:`SpvSection.initialise` writes it into the genesis
state: each configured relay's records and ``spv_config`` record, and the flag under ``dev``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..chain.state import State
from ..chains.registry import chain_registry
from ..errors import ConfigError
from .relay_types import CONFIG, DEV_KEY

#: The genesis section's name (``genesis.json`` -> ``plugins.spv``).
SECTION = "spv"


@dataclass(frozen=True)
class SpvSection:
    """The relays a chain starts with: ticker -> that chain's relay genesis config."""

    relays: Mapping[str, Any] = field(default_factory=dict)
    #: development flag: allow pools on development relays (forgeable headers)
    allow_dev_pools: bool = False

    def __post_init__(self) -> None:
        known = {p.ticker for p in chain_registry().relayed()}
        unknown = sorted(set(self.relays) - known)
        if unknown:
            raise ConfigError(f"spv genesis: no installed chain relays {unknown} ({sorted(known)})")

    def to_json(self) -> dict[str, Any]:
        """The ``spv`` section of a genesis config (every installed chain's keys)."""
        out: dict[str, Any] = {}
        for profile in chain_registry().relayed():
            assert profile.relay is not None
            out.update(profile.relay.genesis.to_json(self.relays.get(profile.ticker)))
        out["allow_dev_pools"] = self.allow_dev_pools
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SpvSection:
        """Read a section; each chain takes its own keys, unknown keys are ignored."""
        relays = {}
        try:
            for profile in chain_registry().relayed():
                assert profile.relay is not None
                cfg = profile.relay.genesis.from_json(data)
                if cfg is not None:
                    relays[profile.ticker] = cfg
            return cls(relays, _flag(data.get("allow_dev_pools", False)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"malformed spv genesis section: {exc}") from None

    def tx_plugins(self) -> tuple[str, ...]:
        """The tx plug-ins the configured relays need (``relay.tx_plugin``), in type-id order."""
        found = []
        for profile in chain_registry().relayed():
            assert profile.relay is not None
            if profile.ticker in self.relays and profile.relay.tx_plugin is not None:
                found.append(profile.relay.tx_plugin)
        return tuple(found)

    def initialise(self, state: State) -> None:
        """Write the checkpoints, policies and the development flag into a genesis state."""
        if self.allow_dev_pools:
            state.put_json(CONFIG, DEV_KEY, {"pools": True})
        for profile in chain_registry().relayed():
            cfg = self.relays.get(profile.ticker)
            if cfg is not None:
                assert profile.relay is not None
                _require_tables(state, profile.ticker, profile.relay)
                profile.relay.genesis.initialise(state, cfg)


def _require_tables(state: State, ticker: str, relay: Any) -> None:
    missing = sorted(t.name for t in relay.tables if not state.has_table(t.name))
    if missing:
        raise ConfigError(
            f"the genesis starts the {ticker} relay but its tables {missing} are not declared: "
            f"list its tx plug-in {relay.tx_plugin} in the genesis tx_plugins (node init adds it)"
        )


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"allow_dev_pools must be true or false, got {value!r}")
    return value


def initialise(state: State, section: Any) -> None:
    """The genesis initialiser of section ``plugins.spv`` (a JSON object)."""
    if not isinstance(section, dict):
        raise ConfigError("genesis section plugins.spv must be a JSON object")
    SpvSection.from_json(section).initialise(state)
