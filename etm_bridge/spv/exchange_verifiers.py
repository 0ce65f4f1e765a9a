"""The exchange's SPV verifiers, bound to this chain's relays (``VERIFIERS``, chain -> verifier).

To enable them, ``etm_bridge.exchange.txtypes.default_verifier`` imports this module (it looks
for ``etm_bridge.spv.exchange_proofs`` today; the name differs so that its test of the
no-verifier case keeps passing until its owner switches it). The Bitcoin verifier reads
the relay in ``spv_btc_headers``; the Ethereum one reads ``spv_eth_headers`` and takes the
HTLC contract address (needed for locks only) and the pool operators' PoolVault addresses
(deposits and payments) from the relay config written at genesis (:class:`.txtypes.SpvGenesis`),
so nothing here is fixed at import time. A chain without a relay rejects with
``spv_relay_not_initialised``.
"""

from __future__ import annotations

from typing import Any

from etm_bridge.chain.registry import TxContext
from etm_bridge.chain.state import StateView
from etm_bridge.chains.bitcoin.etm.verifier import BtcVerifier
from etm_bridge.chains.ethereum.etm.verifier import EthVerifier, vaults_from_config
from etm_bridge.exchange.pool import Pool
from etm_bridge.spv.txtypes import (
    btc_policy_of,
    btc_relay_of,
    eth_config,
    eth_htlc_contract,
    eth_policy_of,
    eth_relay_of,
    require_pool_network,
)

#: Stands in for the HTLC address when none is configured: deposits and payments are
#: ``PoolVault`` events and never read it, and locks always use the configured one.
_NO_HTLC_CONTRACT = bytes(20)


class ConfiguredEthVerifier:
    """:class:`EthVerifier` with the HTLC address and the PoolVaults read from the chain's SPV
    config. Only :meth:`verify_lock` needs an HTLC contract; a chain configured with PoolVaults
    alone proves deposits and payments."""

    def _verifier(self, view: StateView, *, need_htlc: bool = True) -> EthVerifier:
        config = eth_config(view)
        configured = bool(config.get("htlc_contract"))
        htlc = eth_htlc_contract(view) if need_htlc or configured else _NO_HTLC_CONTRACT
        return EthVerifier(
            eth_relay_of,
            htlc,
            vaults=vaults_from_config(config),
            policy_of=eth_policy_of,
            pool_network=require_pool_network,
        )

    def verify_lock(self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext) -> Any:
        return self._verifier(view).verify_lock(view, pool, proof, ctx)

    def verify_deposit(self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext) -> Any:
        return self._verifier(view, need_htlc=False).verify_deposit(view, pool, proof, ctx)

    def verify_payment(self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext) -> Any:
        return self._verifier(view, need_htlc=False).verify_payment(view, pool, proof, ctx)

    def confirmations(self, view: StateView, pool: Pool, block_hash: bytes) -> int:
        return eth_relay_of(view).confirmations(block_hash)

    def check_pool_network(self, view: StateView, asset: str, ctx: TxContext) -> None:
        require_pool_network(view, "eth", ctx)


VERIFIERS: dict[str, Any] = {
    "btc": BtcVerifier(btc_relay_of, policy_of=btc_policy_of, pool_network=require_pool_network),
    "eth": ConfiguredEthVerifier(),
}
