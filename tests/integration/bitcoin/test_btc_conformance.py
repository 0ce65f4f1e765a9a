"""The shared adapter conformance suite on the real Bitcoin regtest node (bcoin or bitcoind)."""

from __future__ import annotations

import pytest
from etm_bridge_bitcoin import BitcoinAdapter

from etm_bridge.testing.conformance import AdapterConformance, ConformanceHarness


class TestBitcoinConformance(AdapterConformance):
    @pytest.fixture
    def harness(self, btc_party, bitcoin_node) -> ConformanceHarness:
        us, config = btc_party()
        them, _ = btc_party()
        return ConformanceHarness(
            adapter=us,
            counterparty=them,
            mine=lambda n: bitcoin_node.mine(n),
            reopen=lambda: BitcoinAdapter.from_config(config),
            amount=100_000,
            unknown_lock_id="00" * 32 + ":0:" + "00" * 32,
        )
