"""The shared adapter conformance suite on the real Bitcoin regtest node (bcoin or bitcoind)."""

from __future__ import annotations

import pytest
from btc_custody_kit import custody_kit
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_bitcoin.script import p2wpkh_script_pubkey

from etm_bridge.adapter import Payment
from etm_bridge.testing.conformance import AdapterConformance, ConformanceHarness


class TestBitcoinConformance(AdapterConformance):
    @pytest.fixture
    def harness(self, btc_party, bitcoin_node, tmp_path) -> ConformanceHarness:
        us, config = btc_party()
        them, _ = btc_party()
        watch = {k: v for k, v in config.items() if k != "secret_hex"}
        return ConformanceHarness(
            adapter=us,
            counterparty=them,
            mine=lambda n: bitcoin_node.mine(n),
            reopen=lambda: BitcoinAdapter.from_config(config),
            amount=100_000,
            unknown_lock_id="00" * 32 + ":0:" + "00" * 32,
            payment=lambda to: Payment(p2wpkh_script_pubkey(to.our_key()), 60_000),
            watch_config={**watch, "birth_height": 0, "data_dir": str(tmp_path / "watch")},
            custody=custody_kit(),
        )
