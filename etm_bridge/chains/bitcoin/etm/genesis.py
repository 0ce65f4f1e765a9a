"""Bitcoin's part of the genesis ``spv`` section, and its relays' default policies.

:class:`BtcRelayGenesis` is the Bitcoin relay a chain starts with: its network, checkpoint
(default: the network's genesis block) and the fields of its
:class:`~etm_bridge.spv.relay_policy.RelayPolicy` (unset: the network's default in
:data:`DEFAULT_POLICIES`). Its JSON keys (``btc_network``, ``btc_checkpoint``, ...) are part of
the genesis id, so :func:`to_json` writes every one of them, null when unset, exactly as before
the section was split per chain. :func:`initialise` writes the relay's records into
``spv_btc_headers`` and its ``spv_config`` record under ``btc``. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etm_bridge.chain.state import State, TableStore
from etm_bridge.chains.bitcoin.profile import HEADERS_TABLE, TICKER
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.params import params_for
from etm_bridge.spv.relay_policy import DEFAULT_MAX_LAG_S, RelayPolicy, network_default
from etm_bridge.spv.relay_types import CONFIG

HEADERS = HEADERS_TABLE

#: Per network. q = 10 % of the hash rate, expected loss at most 0.001 BTC per proof (1 BTC ->
#: 6 confirmations, 10 BTC -> 8, 100 BTC -> 10). Regtest keeps the figures but a budget of
#: 10 BTC, so development amounts need the floor of 1 (the demo mines on demand).
DEFAULT_POLICIES: dict[str, RelayPolicy] = {
    "mainnet": RelayPolicy(6, DEFAULT_MAX_LAG_S, "0.1", 100_000),
    "testnet3": RelayPolicy(6, DEFAULT_MAX_LAG_S, "0.1", 100_000),
    "testnet4": RelayPolicy(6, DEFAULT_MAX_LAG_S, "0.1", 100_000),
    "regtest": RelayPolicy(1, DEFAULT_MAX_LAG_S, "0.1", 1_000_000_000),
}
DEFAULT_POLICIES["main"] = DEFAULT_POLICIES["mainnet"]
DEFAULT_POLICIES["testnet"] = DEFAULT_POLICIES["testnet3"]


def default_policy(network: str) -> RelayPolicy:
    return network_default(DEFAULT_POLICIES, network, "Bitcoin network")


@dataclass(frozen=True)
class BtcRelayGenesis:
    """The Bitcoin relay a chain starts with (``network`` None: none)."""

    network: str | None = None
    checkpoint: Checkpoint | None = None  # default: the network's genesis block
    min_confirmations: int | None = None  # default: the network's policy
    #: relay policies beyond the confirmation floor (None: the network's default)
    max_lag_s: int | None = None
    attacker_share: str | None = None
    loss_budget: int | None = None

    def policy(self, network: str) -> RelayPolicy:
        """The relay's policy: the fields set here over ``network``'s defaults."""
        return default_policy(network).overlaid(
            self.min_confirmations, self.max_lag_s, self.attacker_share, self.loss_budget
        )


def to_json(cfg: BtcRelayGenesis | None) -> dict[str, Any]:
    """Bitcoin's keys of the ``spv`` section (every key; null values for no relay)."""
    cfg = cfg or BtcRelayGenesis()
    cp = cfg.checkpoint
    return {
        "btc_network": cfg.network,
        "btc_checkpoint": None
        if cp is None
        else {
            "height": cp.height,
            "header": cp.header.hex(),
            "chain_work": hex(cp.chain_work),
            "ancestor_times": list(cp.ancestor_times),
        },
        "btc_min_confirmations": cfg.min_confirmations,
        "btc_max_lag_s": cfg.max_lag_s,
        "btc_attacker_share": cfg.attacker_share,
        "btc_loss_budget": cfg.loss_budget,
    }


def from_json(data: Mapping[str, Any]) -> BtcRelayGenesis | None:
    """Bitcoin's relay from a section (None: no ``btc_network``); raises on malformed keys."""
    cp = data.get("btc_checkpoint")
    checkpoint = None
    if cp is not None:
        times = tuple(int(t) for t in cp.get("ancestor_times", ()))
        checkpoint = Checkpoint(
            int(cp["height"]), bytes.fromhex(cp["header"]), int(cp["chain_work"], 16), times
        )
    cfg = BtcRelayGenesis(
        network=data.get("btc_network"),
        checkpoint=checkpoint,
        min_confirmations=data.get("btc_min_confirmations"),
        max_lag_s=_opt_int(data.get("btc_max_lag_s")),
        attacker_share=_opt_str(data.get("btc_attacker_share")),
        loss_budget=_opt_int(data.get("btc_loss_budget")),
    )
    return None if cfg.network is None else cfg


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def initialise(state: State, cfg: BtcRelayGenesis) -> None:
    """Write the relay's checkpoint and policy into a genesis state."""
    assert cfg.network is not None
    params = params_for(cfg.network)
    checkpoint = cfg.checkpoint or Checkpoint.genesis(params)
    BitcoinRelay.initialise(TableStore(state, HEADERS), params, checkpoint)
    policy = cfg.policy(params.name)
    state.put_json(CONFIG, TICKER.encode(), {"network": params.name, **policy.to_json()})
