"""A Handshake adapter configured for one network and pointed at an hsd of another refuses to
work (attack r12: mainnet settings against a regtest node, or regtest settings, with their
1-confirmation default, against a mainnet node, were used as given)."""

from __future__ import annotations

from pathlib import Path

import pytest
from etm_bridge_handshake import HandshakeAdapter
from etm_bridge_regtest.hsd import HsdNode
from hns_support import adapter_config

from etm_bridge.errors import ConfigError

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("network", ["main", "testnet"])
def test_an_adapter_on_the_wrong_network_refuses_before_any_call(
    hsd_node: HsdNode, tmp_path: Path, network: str
) -> None:
    config = {**adapter_config(hsd_node, tmp_path, "11" * 32, 0), "network": network}
    adapter = HandshakeAdapter.from_config(config)
    try:
        with pytest.raises(ConfigError, match=f"network 'regtest'.*configured for '{network}'"):
            adapter.tip()
        with pytest.raises(ConfigError, match="network"):  # and it stays refused
            adapter.balance()
    finally:
        adapter.close()
    right = HandshakeAdapter.from_config({**config, "network": "regtest"})
    try:
        assert right.tip().height == hsd_node.height()
    finally:
        right.close()
