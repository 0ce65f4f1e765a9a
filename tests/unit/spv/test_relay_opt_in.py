"""A relay with its own tx plug-in (``relay.tx_plugin``) exists only on ETM chains whose genesis
lists it: installing a chain changes no other chain's types, tables or genesis id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import build_registry
from etm_bridge.chain.state import State
from etm_bridge.chains.handshake.node_init import relay_genesis
from etm_bridge.chains.registry import chain_registry
from etm_bridge.errors import ConfigError
from etm_bridge.node.setup import NODE_TX_PLUGINS, init_node
from etm_bridge.spv.genesis_section import SpvSection

pytestmark = pytest.mark.unit

PLUGIN = chain_registry().by_ticker("hns").require_relay().tx_plugin


def _ids(plugins: tuple[str, ...]) -> set[int]:
    return {t.type_id for t in build_registry(ChainParams(tx_plugins=plugins)).types}


def test_the_relay_types_come_only_with_the_chains_own_plugin() -> None:
    assert PLUGIN == "etm_bridge.chains.handshake.etm.plugin"
    assert not {121, 122} & _ids(NODE_TX_PLUGINS)
    assert {121, 122} <= _ids((*NODE_TX_PLUGINS, PLUGIN))
    with pytest.raises(ConfigError, match="spv_plugin listed before it"):
        build_registry(ChainParams(tx_plugins=(PLUGIN,)))


def test_node_init_lists_the_plugin_of_a_relay_it_starts(tmp_path: Path) -> None:
    spv = SpvSection({"hns": relay_genesis("regtest")})
    assert spv.tx_plugins() == (PLUGIN,)
    assert SpvSection().tx_plugins() == ()
    config = init_node(tmp_path / "a", spv=spv, port=0)
    genesis: dict[str, Any] = json.loads(config.genesis_path.read_text())
    text = json.dumps(genesis)
    assert PLUGIN in text and "hns_network" in text
    config = init_node(tmp_path / "b", port=0)
    text = json.dumps(json.loads(config.genesis_path.read_text()))
    assert PLUGIN not in text and "hns_" not in text


def test_a_genesis_starting_the_relay_without_its_plugin_is_one_clear_error() -> None:
    tables = build_registry(ChainParams(tx_plugins=NODE_TX_PLUGINS)).table_names
    state = State(None, tables)  # type: ignore[arg-type]  # refused before any read or write
    with pytest.raises(ConfigError, match=f"list its tx plug-in {PLUGIN}"):
        SpvSection({"hns": relay_genesis("regtest")}).initialise(state)
