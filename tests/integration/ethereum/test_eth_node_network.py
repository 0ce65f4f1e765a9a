"""An Ethereum adapter whose ``network`` names another chain than its node's refuses to open
(review: a ``mainnet`` config on an anvil node showed its 1-confirmation dev default as if for
real ether, and a ``sepolia`` config on a mainnet node would have spent real ether)."""

from __future__ import annotations

from typing import Any

import pytest
from etm_bridge_ethereum import EthereumAdapter

from etm_bridge.errors import ConfigError

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("network", ["mainnet", "sepolia", "holesky", "Mainnet", "main", "Sepolia"])
def test_a_known_network_on_another_chain_id_is_refused_before_any_call(
    anvil_node: Any, adapter_config: Any, parties: tuple[int, int], network: str
) -> None:
    us, _ = parties
    config = {**adapter_config(us), "network": network}
    with pytest.raises(ConfigError, match=rf"network is '{network}'.*chain id 31337 \(anvil\)"):
        EthereumAdapter.from_config(config)
    with pytest.raises(ConfigError, match="point rpc_url at"):  # the watch-only read too
        EthereumAdapter.balance_of(config, b"\x11" * 20)


@pytest.mark.parametrize("network", ["anvil", "dev", "my-private-chain", None])
def test_the_node_s_own_network_or_an_unknown_name_opens(
    anvil_node: Any, adapter_config: Any, parties: tuple[int, int], network: str | None
) -> None:
    us, _ = parties
    config = {**adapter_config(us), "network": network}
    adapter = EthereumAdapter.from_config(config)
    try:
        assert adapter.info().network == (network or "anvil")
        assert EthereumAdapter.balance_of(config, adapter.our_key()) > 0
    finally:
        adapter.close()
