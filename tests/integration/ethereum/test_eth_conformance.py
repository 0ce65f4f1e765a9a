"""The shared adapter conformance suite on a real anvil: for ether and for an ERC-20 token."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from etm_bridge_ethereum import Deployment, EthereumAdapter

from etm_bridge.adapter import Payment
from etm_bridge.testing.conformance import AdapterConformance, ConformanceHarness


def _harness(
    parties: tuple[int, int],
    eth_mine: Callable[[int], None],
    adapters: Callable[[int], EthereumAdapter],
    adapter_config: Callable[[int], dict],
    amount: int,
    asset_id: bytes | None,
) -> ConformanceHarness:
    us, them = parties
    return ConformanceHarness(
        adapter=adapters(us),
        counterparty=adapters(them),
        mine=eth_mine,
        reopen=lambda: EthereumAdapter.from_config(adapter_config(us)),
        amount=amount,
        unknown_lock_id="00" * 32,
        asset_id=asset_id,
        payment=lambda to: Payment(to.our_key(), 10**15),
        watch_config={"rpc_url": adapter_config(us)["rpc_url"]},
    )


class TestEtherConformance(AdapterConformance):
    @pytest.fixture
    def harness(self, parties, eth_mine, adapters, adapter_config) -> ConformanceHarness:
        return _harness(parties, eth_mine, adapters, adapter_config, 10**16, None)


class TestTokenConformance(AdapterConformance):
    @pytest.fixture
    def harness(
        self, parties, eth_mine, adapters, adapter_config, token: Deployment
    ) -> ConformanceHarness:
        asset_id = bytes.fromhex(token.address[2:])
        return _harness(parties, eth_mine, adapters, adapter_config, 10**18, asset_id)
