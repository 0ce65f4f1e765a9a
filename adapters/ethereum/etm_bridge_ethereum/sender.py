"""Build, sign, broadcast and confirm EIP-1559 transactions from one local key.

- Fees: ``maxFeePerGas = 2 * baseFee + priority`` with the node's ``eth_maxPriorityFeePerGas``
  (survives a doubling of the base fee). If the node cannot answer either (pre-London chain,
  provider without the method), the documented fallback of :class:`FeePolicy` is used and the
  estimate says ``source="fallback"``.
- Gas: ``eth_estimateGas`` plus :attr:`FeePolicy.gas_margin_percent`; a revert during
  estimation is the node's EVM rejecting the call and raises ContractRevertError with the
  decoded custom error, before anything is signed.
- Nonces: reserved from the account's :class:`~.nonces.NonceManager` around sign + broadcast.
- Receipts: polled until ``receipt_timeout_s``; a mined failure (status 0) is replayed with
  ``eth_call`` on the parent block to name the custom error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount

from etm_bridge.chains.ethereum.spv.rlp import to_int
from etm_bridge.errors import (
    ChainError,
    ContractRevertError,
    InsufficientFundsError,
    InvalidTransactionError,
    RPCError,
)

from .node import EthNode
from .nonces import NonceManager

GWEI = 10**9


@dataclass(frozen=True)
class FeePolicy:
    """Fallback fees (used only when the node cannot estimate) and the gas margin."""

    fallback_max_fee_wei: int = 50 * GWEI
    fallback_priority_fee_wei: int = 1 * GWEI
    gas_margin_percent: int = 20


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    source: str  # "node" or "fallback"


class TxSender:
    """Sends transactions from ``account`` through ``node``."""

    def __init__(
        self,
        node: EthNode,
        account: LocalAccount,
        nonces: NonceManager,
        chain_id: int,
        receipt_timeout_s: float = 120.0,
        policy: FeePolicy | None = None,
    ) -> None:
        self.node = node
        self.account = account
        self.nonces = nonces
        self.chain_id = chain_id
        self.receipt_timeout_s = receipt_timeout_s
        self.policy = policy or FeePolicy()

    @property
    def address(self) -> str:
        return str(self.account.address)

    def fees(self) -> Fees:
        try:
            priority = self.node.max_priority_fee()
            return Fees(2 * self.node.base_fee() + priority, priority, "node")
        except (RPCError, ChainError):
            p = self.policy
            return Fees(p.fallback_max_fee_wei, p.fallback_priority_fee_wei, "fallback")

    def estimate_gas(self, to: str | None, data: bytes, value: int, action: str) -> int:
        request = self._request(to, data, value)
        try:
            estimate = self.node.estimate_gas(request, action)
        except ContractRevertError:
            raise
        except RPCError as exc:
            raise _send_error(action, exc) from exc
        return estimate * (100 + self.policy.gas_margin_percent) // 100

    def send(
        self, to: str | None, data: bytes, value: int, action: str, gas: int | None = None
    ) -> str:
        """Sign and broadcast; return the tx hash (``0x`` hex). Does not wait."""
        gas_limit = gas if gas is not None else self.estimate_gas(to, data, value, action)
        fees = self.fees()
        with self.nonces.reserve() as slot:
            tx: dict[str, Any] = {
                "type": 2,
                "chainId": self.chain_id,
                "nonce": slot.nonce,
                "value": value,
                "data": data,
                "gas": gas_limit,
                "maxFeePerGas": fees.max_fee_per_gas,
                "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            }
            if to is not None:
                tx["to"] = to
            signed = self.account.sign_transaction(tx)
            try:
                tx_hash = self.node.send_raw(bytes(signed.raw_transaction))
            except RPCError as exc:
                raise _send_error(action, exc) from exc
            slot.commit(tx_hash)
        return tx_hash

    def wait(self, tx_hash: str, action: str) -> dict[str, Any]:
        """The receipt of ``tx_hash`` once mined; ContractRevertError if it failed."""
        deadline = time.monotonic() + self.receipt_timeout_s
        delay = 0.02
        while (receipt := self.node.receipt(tx_hash)) is None:
            if time.monotonic() > deadline:
                raise ChainError(
                    f"{action}: no receipt for {tx_hash} within {self.receipt_timeout_s:g} s "
                    "(still pending? check the node's mining and our fee)"
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        if to_int(receipt["status"], "receipt status") != 1:
            self._raise_mined_revert(tx_hash, receipt, action)
        return receipt

    def transact(
        self, to: str | None, data: bytes, value: int, action: str, gas: int | None = None
    ) -> dict[str, Any]:
        """send + wait."""
        return self.wait(self.send(to, data, value, action, gas), action)

    def _request(self, to: str | None, data: bytes, value: int) -> dict[str, Any]:
        request = {"from": self.address, "data": "0x" + data.hex(), "value": hex(value)}
        if to is not None:
            request["to"] = to
        return request

    def _raise_mined_revert(self, tx_hash: str, receipt: dict[str, Any], action: str) -> None:
        block = to_int(receipt["blockNumber"], "receipt blockNumber")
        tx = self.node.transaction(tx_hash) or {}
        replay = {"from": self.address, "data": tx.get("input", "0x"), "value": tx.get("value")}
        if tx.get("to"):
            replay["to"] = tx["to"]
        self.node.call(replay, f"{action} (mined in block {block})", tag=max(block - 1, 0))
        raise ContractRevertError(f"{action} failed in block {block} (status 0, e.g. out of gas)")


def _send_error(action: str, exc: RPCError) -> ChainError:
    text = str(exc).lower()
    if "insufficient funds" in text:
        return InsufficientFundsError(f"{action}: the node says {exc}")
    return InvalidTransactionError(f"{action}: the node rejected the transaction: {exc}")
