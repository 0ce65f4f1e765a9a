"""Plug-in ``etm_bridge.node.spv_plugin``: the SPV relays of ``node init`` chains.

The SPV transaction types exactly as ``etm_bridge.spv.btc_regtest`` declares them (a chain whose
genesis configures no Bitcoin relay starts one at the regtest genesis block with the first
header batch), plus the genesis section ``plugins.spv``: a
:class:`~etm_bridge.spv.genesis.SpvGenesis` JSON object whose relays
:func:`~etm_bridge.spv.genesis.initialise_relays` writes into the genesis state. That is how a
chain gets its Ethereum relay (trusted checkpoint header, trusted relayer keys, HTLC contract),
which no transaction may choose; ``etm-bridge node init --eth-rpc`` fills it from a node.
Pure: it imports only chain and SPV rules.
"""

from __future__ import annotations

from typing import Any

from ..chain.registry import Registry
from ..chain.state import State
from ..errors import ConfigError
from ..spv import btc_regtest
from ..spv.genesis import SpvGenesis, initialise_relays

#: The genesis section this plug-in claims (``genesis.json`` -> ``plugins.spv``).
SECTION = "spv"


def _initialise(state: State, section: Any) -> None:
    if not isinstance(section, dict):
        raise ConfigError("genesis section plugins.spv must be a JSON object")
    initialise_relays(state, SpvGenesis.from_json(section))


def register(registry: Registry) -> None:
    btc_regtest.register(registry)
    registry.add_genesis_section(SECTION, _initialise)
