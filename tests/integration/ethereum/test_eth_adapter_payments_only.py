"""An adapter opened without an HTLC contract (an investor who only pays into a pool vault)
pays, and refuses every HTLC operation with one error naming the missing setting."""

from __future__ import annotations

from typing import Any

import pytest
from etm_bridge_ethereum import EthereumAdapter

from etm_bridge.adapter import HtlcTerms, Payment
from etm_bridge.errors import ConfigError


def test_payments_work_and_htlc_operations_name_the_missing_contract(
    anvil_node: Any, adapter_config: Any, parties: tuple[int, int]
) -> None:
    us, them = parties
    config = {k: v for k, v in adapter_config(us).items() if k != "htlc_address"}
    adapter = EthereumAdapter.from_config(config)
    try:
        payee = bytes.fromhex(anvil_node.accounts[them][2:])
        before = anvil_node.balance_wei(anvil_node.accounts[them])
        txid = adapter.pay([Payment(payee, 12345)])
        assert adapter.payment_status(txid).block_height is not None
        assert anvil_node.balance_wei(anvil_node.accounts[them]) == before + 12345
        terms = HtlcTerms(
            amount=1, hashlock=b"\x11" * 32, timelock_height=10**6,
            claim_key=payee, refund_key=adapter.our_key(),
        )  # fmt: skip
        with pytest.raises(
            ConfigError, match=r"lacks htlc_address.*chains\.ethereum\.htlc_address"
        ):
            adapter.lock(terms)
        with pytest.raises(ConfigError, match="lacks htlc_address"):
            adapter.htlc_activity(0, 1)
    finally:
        adapter.close()
