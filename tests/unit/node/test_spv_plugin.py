"""The ``node init`` plug-ins and genesis sections: ``plugins.spv`` initialises the relays in the
genesis state; configs without sections keep their hash; an unclaimed section is an error."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from etm_bridge.chain.genesis import GenesisConfig, dev_genesis
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import Registry, build_registry
from etm_bridge.chains.bitcoin.etm.genesis import BtcRelayGenesis
from etm_bridge.errors import ConfigError
from etm_bridge.exchange import records as rc
from etm_bridge.node.setup import NODE_TX_PLUGINS, init_node
from etm_bridge.node.spv_plugin import SECTION
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.spv.relay_status import relay_status
from etm_bridge.store import ChainStore

PARAMS = replace(ChainParams(), genesis_time=1_000, block_time_s=1, tx_plugins=NODE_TX_PLUGINS)
SPV = SpvSection({"btc": BtcRelayGenesis(network="regtest", min_confirmations=3)})


def test_a_config_without_sections_keeps_its_json_and_hash() -> None:
    genesis, _ = dev_genesis(PARAMS, 3, funded=1)
    assert "plugins" not in genesis.to_json()
    again = GenesisConfig.from_json(json.loads(json.dumps(genesis.to_json())))
    assert again == genesis and again.config_hash() == genesis.config_hash()


def test_a_section_round_trips_and_changes_the_genesis_id() -> None:
    genesis, _ = dev_genesis(PARAMS, 3, funded=1)
    with_spv = genesis.with_plugin_section(SECTION, SPV.to_json())
    assert with_spv.to_json()["plugins"] == {"spv": SPV.to_json()}
    assert GenesisConfig.from_json(with_spv.to_json()) == with_spv
    assert with_spv.config_hash() != genesis.config_hash()


def test_the_spv_section_starts_the_relays_in_the_genesis_state() -> None:
    genesis, _ = dev_genesis(PARAMS, 3, funded=1)
    chain = Chain(ChainStore.memory(), genesis.with_plugin_section(SECTION, SPV.to_json()))
    btc = relay_status(chain.store_view())["bitcoin"]
    assert (btc["network"], btc["tip"]["height"], btc["min_confirmations"]) == ("regtest", 0, 3)
    assert rc.POOLS in chain.registry.table_names  # the exchange is loaded too


def test_without_the_section_the_bitcoin_relay_waits_for_its_first_batch() -> None:
    genesis, _ = dev_genesis(PARAMS, 3, funded=1)
    assert relay_status(Chain(ChainStore.memory(), genesis).store_view()) == {}


def test_a_section_no_plugin_claims_is_refused() -> None:
    genesis, _ = dev_genesis(replace(PARAMS, tx_plugins=()), 3, funded=1)
    with pytest.raises(ConfigError, match=r"plugins\.spv is claimed by no plug-in"):
        Chain(ChainStore.memory(), genesis.with_plugin_section(SECTION, SPV.to_json()))
    with pytest.raises(ConfigError, match="malformed"):
        GenesisConfig.from_json({**genesis.to_json(), "plugins": ["spv"]})


def test_a_section_can_be_claimed_once() -> None:
    registry = build_registry(PARAMS)
    with pytest.raises(ConfigError, match="already claimed"):
        registry.add_genesis_section(SECTION, lambda state, data: None)
    assert set(Registry().genesis_sections) == set()


def test_init_node_writes_the_plugins_and_the_section(tmp_path: Path) -> None:
    config = init_node(tmp_path / "a", delegates=1, port=0, spv=SPV)
    genesis = json.loads(config.genesis_path.read_text())
    assert genesis["params"]["tx_plugins"] == list(NODE_TX_PLUGINS)
    assert genesis["plugins"]["spv"]["btc_min_confirmations"] == 3
    core = init_node(tmp_path / "b", delegates=1, port=0, tx_plugins=())
    assert json.loads(core.genesis_path.read_text())["params"]["tx_plugins"] == []
    with pytest.raises(ConfigError, match=r"needs the etm_bridge\.node\.spv_plugin plug-in"):
        init_node(tmp_path / "c", delegates=1, port=0, tx_plugins=(), spv=SPV)
