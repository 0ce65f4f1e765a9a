"""Typed access to an Ethereum node over JSON-RPC (anvil, geth, any provider).

A thin layer over :class:`etm_bridge.jsonrpc.JsonRpcClient`: quantities come back as ``int``,
blocks/receipts/logs as the node's raw JSON (``0x`` hex strings, which
:mod:`etm_bridge.chains.ethereum.spv.rlp` encodes exactly), and an EVM revert in ``eth_call`` /
``eth_estimateGas`` becomes :class:`~etm_bridge.errors.ContractRevertError` naming the custom
error decoded against the ABIs the node was given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from etm_bridge.chains.ethereum.spv.rlp import to_bytes, to_int
from etm_bridge.errors import ChainError, RPCError
from etm_bridge.jsonrpc import JsonRpcClient

from .revert import revert_error

#: Largest block range asked for in one eth_getLogs (providers cap ranges; anvil does not).
LOG_CHUNK_BLOCKS = 10_000


def _revert_data(exc: RPCError) -> bytes | None:
    """The revert data of an RPC error, or None if the error is not a revert."""
    data = getattr(exc, "data", None)
    if isinstance(data, Mapping):  # some nodes nest it: {"data": "0x..."}
        data = data.get("data")
    text = str(exc).lower()
    if exc.code != 3 and "revert" not in text:
        return None
    if isinstance(data, str) and data.startswith("0x"):
        return to_bytes(data, "revert data")
    return b""


class EthNode:
    """One Ethereum node. ``error_table`` maps error selectors to names (see revert.py)."""

    def __init__(self, url: str, error_table: Mapping[bytes, tuple], timeout_s: float = 30.0):
        self.url = url
        self.rpc = JsonRpcClient(url, version="2.0", timeout_s=timeout_s)
        self.error_table = error_table

    def close(self) -> None:
        self.rpc.close()

    def chain_id(self) -> int:
        return to_int(self.rpc.call("eth_chainId"), "chain id")

    def block_number(self) -> int:
        return to_int(self.rpc.call("eth_blockNumber"), "block number")

    def block(self, number: int | str) -> dict[str, Any] | None:
        tag = hex(number) if isinstance(number, int) else number
        return self.rpc.call("eth_getBlockByNumber", tag, False)

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        return self.rpc.call("eth_getTransactionReceipt", tx_hash)

    def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        return self.rpc.call("eth_getTransactionByHash", tx_hash)

    def block_receipts(self, block: Mapping[str, Any]) -> list[dict[str, Any]]:
        """All receipts of ``block`` in index order (eth_getBlockReceipts, else one by one)."""
        try:
            receipts = self.rpc.call("eth_getBlockReceipts", block["number"])
        except RPCError:
            receipts = None
        if receipts is None:
            receipts = [
                self.receipt(tx if isinstance(tx, str) else tx["hash"])
                for tx in block["transactions"]
            ]
        if any(r is None for r in receipts) or len(receipts) != len(block["transactions"]):
            raise ChainError(f"node at {self.url} is missing receipts of block {block['number']}")
        return sorted(receipts, key=lambda r: to_int(r["transactionIndex"], "transactionIndex"))

    def logs(
        self, address: str, topics: Sequence[str | list[str] | None], from_block: int, to_block: int
    ) -> list[dict[str, Any]]:
        """Logs of ``address`` matching ``topics`` in ``from_block..to_block`` (chunked)."""
        found: list[dict[str, Any]] = []
        start = from_block
        while start <= to_block:
            end = min(to_block, start + LOG_CHUNK_BLOCKS - 1)
            query = {"address": address, "topics": list(topics)}
            query |= {"fromBlock": hex(start), "toBlock": hex(end)}
            found.extend(
                log for log in self.rpc.call("eth_getLogs", query) if not log.get("removed")
            )
            start = end + 1
        return found

    def balance(self, address: str) -> int:
        return to_int(self.rpc.call("eth_getBalance", address, "latest"), "balance")

    def nonce(self, address: str, tag: str = "pending") -> int:
        return to_int(self.rpc.call("eth_getTransactionCount", address, tag), "nonce")

    def code(self, address: str) -> bytes:
        return to_bytes(self.rpc.call("eth_getCode", address, "latest"), "code")

    def call(self, tx: Mapping[str, Any], action: str, tag: str | int = "latest") -> bytes:
        """eth_call; a revert raises ContractRevertError for ``action``."""
        block = hex(tag) if isinstance(tag, int) else tag
        return to_bytes(self._reverting("eth_call", action, dict(tx), block), "call result")

    def estimate_gas(self, tx: Mapping[str, Any], action: str) -> int:
        """eth_estimateGas; a revert raises ContractRevertError for ``action``."""
        return to_int(self._reverting("eth_estimateGas", action, dict(tx)), "gas estimate")

    def send_raw(self, raw_tx: bytes) -> str:
        return str(self.rpc.call("eth_sendRawTransaction", "0x" + raw_tx.hex()))

    def base_fee(self) -> int:
        latest = self.block("latest")
        if latest is None or latest.get("baseFeePerGas") is None:
            raise ChainError(f"node at {self.url} reports no baseFeePerGas (pre-London chain?)")
        return to_int(latest["baseFeePerGas"], "baseFeePerGas")

    def max_priority_fee(self) -> int:
        return to_int(self.rpc.call("eth_maxPriorityFeePerGas"), "maxPriorityFeePerGas")

    def _reverting(self, method: str, action: str, *params: Any) -> Any:
        try:
            return self.rpc.call(method, *params)
        except RPCError as exc:
            data = _revert_data(exc)
            if data is None:
                raise
            raise revert_error(action, data, self.error_table) from exc
