"""Submitting an assembled custody spend to the signer's own foreign node over JSON-RPC.

The chain's signer part names the calls (``SUBMIT_METHOD``, ``LOOKUP_METHOD``) and the id of a
raw transaction (``txid_hex``); the options come from ``custody_signer.json``
(``{"chains": {"<ticker>": {"rpc_url", "rpc_user", "rpc_password"}}}``). A node that says
"already in chain" (-27), or refuses a transaction it already holds, means another member
submitted it first: success.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from ..errors import ConfigError, RPCAlreadyInChainError, RPCError
from ..jsonrpc import JsonRpcClient


class Submitter:
    def __init__(self, ticker: str, kit: ModuleType, options: Mapping[str, Any]):
        url = options.get("rpc_url")
        if not isinstance(url, str) or not url:
            raise ConfigError(f"custody_signer.json: chains.{ticker}.rpc_url is missing")
        self.kit = kit
        self.rpc = JsonRpcClient(
            url, user=options.get("rpc_user"), password=options.get("rpc_password"), timeout_s=30
        )

    def submit(self, raw: bytes) -> str:
        """Broadcast ``raw``; its txid whether this call or an earlier one sent it."""
        txid = str(self.kit.txid_hex(raw))
        try:
            return str(self.rpc.call(self.kit.SUBMIT_METHOD, raw.hex()))
        except RPCAlreadyInChainError:
            return txid
        except RPCError:
            if self.known(txid):
                return txid
            raise

    def known(self, txid: str) -> bool:
        try:
            self.rpc.call(self.kit.LOOKUP_METHOD, txid, 0)
        except RPCError:
            return False
        return True
