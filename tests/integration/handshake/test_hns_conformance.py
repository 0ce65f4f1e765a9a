"""The shared adapter conformance suite on a real hsd (Handshake) regtest node."""

from __future__ import annotations

import pytest
from etm_bridge_handshake import HandshakeAdapter
from etm_bridge_handshake.proofs import verify_handshake_merkle_proof

from etm_bridge.adapter import Payment
from etm_bridge.testing.conformance import AdapterConformance, ConformanceHarness


class TestHandshakeConformance(AdapterConformance):
    @pytest.fixture
    def harness(self, hns_party, hsd_node, tmp_path) -> ConformanceHarness:
        us, config = hns_party()
        them, _ = hns_party()
        watch = {k: v for k, v in config.items() if k != "secret_hex"}
        return ConformanceHarness(
            adapter=us,
            counterparty=them,
            mine=lambda n: hsd_node.mine(n),
            reopen=lambda: HandshakeAdapter.from_config(config),
            amount=1_000_000,  # 1 HNS
            unknown_lock_id="00" * 32 + ":0:" + "00" * 32,
            verify_proof=verify_handshake_merkle_proof,
            # a pay-to-key output: address version 0 || BLAKE2b-160(key)
            payment=lambda to: Payment(to.key.address.key, 600_000),
            watch_config={**watch, "data_dir": str(tmp_path / "watch")},
        )
