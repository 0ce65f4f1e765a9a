"""A Bitcoin adapter configured for one network and pointed at a node of another refuses to
work (attack r12: a config with mainnet settings and a regtest node, or regtest settings and
a mainnet node, was used as given: mainnet addresses shown, regtest's 1-confirmation default
applied to real coins, payments sent to whatever chain the node was on)."""

from __future__ import annotations

from pathlib import Path

import pytest
from btc_support import adapter_config
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_regtest.bitcoin import BitcoinNode

from etm_bridge.adapter import Payment
from etm_bridge.errors import ConfigError

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("network", ["mainnet", "testnet", "signet"])
def test_an_adapter_on_the_wrong_network_refuses_before_any_call(
    bitcoin_node: BitcoinNode, tmp_path: Path, network: str
) -> None:
    config = {**adapter_config(bitcoin_node, tmp_path, "11" * 32, 0), "network": network}
    adapter = BitcoinAdapter.from_config(config)
    try:
        with pytest.raises(ConfigError, match=f"regtest.*{network}|{network}.*regtest"):
            adapter.tip()
        with pytest.raises(ConfigError, match="network"):  # and it stays refused: no payment
            adapter.pay([Payment(bytes.fromhex("0014" + "22" * 20), 10_000)])
        with pytest.raises(ConfigError, match="network"):
            BitcoinAdapter.balance_of(config, adapter.our_key())
    finally:
        adapter.close()
    right = BitcoinAdapter.from_config({**config, "network": "regtest"})
    try:
        assert right.tip().height == bitcoin_node.height()
    finally:
        right.close()
