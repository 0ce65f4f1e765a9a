"""Fee estimates: the node's EIP-1559 numbers when it has them, the documented fallback when it
does not (a real pre-London anvil, started with ``--hardfork berlin``, has no base fee)."""

from __future__ import annotations

from eth_account import Account
from etm_bridge_ethereum.node import EthNode
from etm_bridge_ethereum.nonces import NonceManager
from etm_bridge_ethereum.sender import GWEI, FeePolicy, TxSender
from etm_bridge_regtest import procs
from etm_bridge_regtest.anvil import AnvilService
from etm_bridge_regtest.service import start, stop


class _BerlinAnvil(AnvilService):
    def command(self) -> list[str]:
        return [*super().command(), "--hardfork=berlin"]


def _sender(rpc_url: str, key: str, data_dir, policy: FeePolicy | None = None) -> TxSender:
    node = EthNode(rpc_url, {})
    account = Account.from_key(key)
    nonces = NonceManager(data_dir, 31337, account.address, lambda: 0, lambda _h: False)
    return TxSender(node, account, nonces, node.chain_id(), policy=policy)


def test_fees_come_from_the_node_on_a_london_chain(adapters, parties):
    us = adapters(parties[0])
    fees = us.sender.fees()
    assert fees.source == "node"
    priority = us.node.max_priority_fee()
    assert fees.max_fee_per_gas == 2 * us.node.base_fee() + priority
    assert us.fee_estimate().rate == fees.max_fee_per_gas
    assert us.fee_estimate().rate_unit == "wei/gas"


def test_fees_fall_back_on_a_chain_without_base_fee(anvil_node, tmp_path):
    service = _BerlinAnvil(tmp_path / "berlin", port=procs.free_port())
    started = start(service)
    try:
        policy = FeePolicy(fallback_max_fee_wei=7 * GWEI, fallback_priority_fee_wei=2 * GWEI)
        sender = _sender(service.rpc_url, anvil_node.private_keys[0], tmp_path, policy)
        assert sender.node.block("latest").get("baseFeePerGas") is None  # really pre-London
        fees = sender.fees()
        assert (fees.max_fee_per_gas, fees.max_priority_fee_per_gas) == (7 * GWEI, 2 * GWEI)
        assert fees.source == "fallback"
    finally:
        stop(started.pid)
