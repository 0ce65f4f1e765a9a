"""The adapter's config is validated once, with errors naming the bad key."""

from __future__ import annotations

import pytest
from etm_bridge_ethereum.config import EthereumConfig

from etm_bridge.errors import ConfigError

GOOD = {
    "rpc_url": "http://127.0.0.1:1",
    "private_key": "0x" + "01" * 32,
    "htlc_address": "0x5fbdb2315678afecb367f032d93f642f64180aa3",
    "data_dir": "/tmp/x",
}


def test_good_config_is_normalised():
    config = EthereumConfig.from_mapping(GOOD)
    assert config.htlc_address == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert config.network_name(31337) == "anvil" and config.network_name(5) == "chain-5"
    assert config.default_confirmations(31337) == 1 and config.default_confirmations(1) == 12


def test_missing_keys_are_named():
    with pytest.raises(ConfigError, match=r"lacks private_key$"):
        EthereumConfig.from_mapping({"rpc_url": "x", "data_dir": "/tmp"})


def test_htlc_address_is_optional_for_payments_only():
    """An investor paying into a pool vault (LP deposit) needs no HTLC contract; the adapter's
    HTLC operations refuse instead (integration/ethereum/test_eth_adapter_payments_only.py)."""
    config = EthereumConfig.from_mapping({k: v for k, v in GOOD.items() if k != "htlc_address"})
    assert config.htlc_address == ""


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("htlc_address", "0x1234", "htlc_address is not an address"),
        ("private_key", "0x1234", "private_key must be 32 bytes"),
        ("from_block", -1, "from_block must be a non-negative integer"),
        ("confirmations", "3", "confirmations must be a non-negative integer"),
    ],
)
def test_bad_values_are_named(key, value, message):
    with pytest.raises(ConfigError, match=message):
        EthereumConfig.from_mapping(dict(GOOD, **{key: value}))


@pytest.mark.parametrize("network", ["Mainnet", "MAINNET", "main", "Main"])
def test_a_main_network_in_any_spelling_is_checked_against_the_node(network):
    """Attack on the network check: the wallet's check (config/model.py) takes ``main`` and any
    case as mainnet, but this one only knew ``mainnet`` exactly, so ``network = "Mainnet"``
    passed both and opened on an anvil node (its 1-confirmation default shown as mainnet)."""
    from etm_bridge_ethereum.config import check_chain_id

    with pytest.raises(ConfigError, match=r"chain id 31337 \(anvil\)"):
        check_chain_id(network, "http://node", 31337)
    check_chain_id(network, "http://node", 1)


@pytest.mark.parametrize("network", ["Sepolia", "testnet", "goerli", "my-private-chain"])
def test_a_test_or_private_network_name_on_the_main_chain_id_is_refused(network):
    """``network = "Sepolia"`` (or any unknown name, taken as a private chain) beside a node on
    chain id 1 opened, so a test wallet's config spent real ether: a named network that is not
    mainnet never runs on chain id 1."""
    from etm_bridge_ethereum.config import check_chain_id

    with pytest.raises(ConfigError, match=r"chain id 1 \(mainnet\)"):
        check_chain_id(network, "http://node", 1)
    check_chain_id(network, "http://node", 11155111)  # a test chain id: as before
