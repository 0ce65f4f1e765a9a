"""Handshake's part of the genesis ``spv`` section, and its relays' default policies.

:class:`HnsRelayGenesis` is the relay a chain starts with: network, checkpoint run (default: the
network's genesis block) and the fields of its :class:`~etm_bridge.spv.relay_policy.RelayPolicy`.
Its keys (``hns_network``, ``hns_checkpoint``, ...) are in the genesis id, so :func:`to_json`
writes every one of them, null when unset. :func:`initialise` writes the checkpoint run into
``spv_hns_headers`` and the ``spv_config`` record under ``hns``. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etm_bridge.chain.state import State, TableStore
from etm_bridge.spv.relay_policy import DEFAULT_MAX_LAG_S, RelayPolicy, network_default
from etm_bridge.spv.relay_types import CONFIG

from ..profile import GENESIS_KEYS, HEADERS_TABLE, TICKER
from ..spv.checkpoints import default_checkpoint
from ..spv.header_relay import Checkpoint, HandshakeRelay
from ..spv.headers import params_for

HEADERS = HEADERS_TABLE

#: q = 10 % of the hash rate; expected loss at most 1 HNS per proof's block on mainnet. Regtest
#: keeps the floor of 1 with a budget of 10,000 HNS (development amounts).
DEFAULT_POLICIES: dict[str, RelayPolicy] = {
    "main": RelayPolicy(6, DEFAULT_MAX_LAG_S, "0.1", 1_000_000),
    "regtest": RelayPolicy(1, DEFAULT_MAX_LAG_S, "0.1", 10_000_000_000),
}


def default_policy(network: str) -> RelayPolicy:
    return network_default(DEFAULT_POLICIES, params_for(network).name, "Handshake network")


@dataclass(frozen=True)
class HnsRelayGenesis:
    """The Handshake relay a chain starts with (``network`` None: none)."""

    network: str | None = None
    checkpoint: Checkpoint | None = None  # default: the network's genesis block
    min_confirmations: int | None = None
    max_lag_s: int | None = None
    attacker_share: str | None = None
    loss_budget: int | None = None

    def policy(self, network: str) -> RelayPolicy:
        return default_policy(network).overlaid(
            self.min_confirmations, self.max_lag_s, self.attacker_share, self.loss_budget
        )


def to_json(cfg: HnsRelayGenesis | None) -> dict[str, Any]:
    """The ``hns_*`` keys of a chain with a Handshake relay; none without one, so that
    installing this chain leaves the genesis id of every chain without it unchanged."""
    if cfg is None or cfg.network is None:
        return {}
    cp = cfg.checkpoint
    out = {
        "hns_network": cfg.network,
        "hns_checkpoint": None
        if cp is None
        else {
            "height": cp.height,
            "headers": [h.hex() for h in cp.headers],
            "chain_work": hex(cp.chain_work),
        },
        "hns_min_confirmations": cfg.min_confirmations,
        "hns_max_lag_s": cfg.max_lag_s,
        "hns_attacker_share": cfg.attacker_share,
        "hns_loss_budget": cfg.loss_budget,
    }
    assert tuple(out) == GENESIS_KEYS
    return out


def from_json(data: Mapping[str, Any]) -> HnsRelayGenesis | None:
    cp = data.get("hns_checkpoint")
    checkpoint = None
    if cp is not None:
        checkpoint = Checkpoint(
            int(cp["height"]),
            tuple(bytes.fromhex(h) for h in cp["headers"]),
            int(cp["chain_work"], 16),
        )
    opt_int = lambda v: None if v is None else int(v)  # noqa: E731
    cfg = HnsRelayGenesis(
        network=data.get("hns_network"),
        checkpoint=checkpoint,
        min_confirmations=opt_int(data.get("hns_min_confirmations")),
        max_lag_s=opt_int(data.get("hns_max_lag_s")),
        attacker_share=None
        if data.get("hns_attacker_share") is None
        else str(data["hns_attacker_share"]),
        loss_budget=opt_int(data.get("hns_loss_budget")),
    )
    return None if cfg.network is None else cfg


def initialise(state: State, cfg: HnsRelayGenesis) -> None:
    """Write the relay's checkpoint run and policy into a genesis state."""
    assert cfg.network is not None
    params = params_for(cfg.network)
    checkpoint = cfg.checkpoint or default_checkpoint(params.name)
    HandshakeRelay.initialise(TableStore(state, HEADERS), params, checkpoint)
    policy = cfg.policy(params.name)
    state.put_json(CONFIG, TICKER.encode(), {"network": params.name, **policy.to_json()})
