"""hsd over HTTP: JSON-RPC for reads, REST ``POST /broadcast`` plus a mempool check for sends.

hsd's ``sendrawtransaction`` answers the txid for *every* decodable transaction: a bad
signature, a double spend, a non-final refund and a zero fee alike. ``POST /broadcast`` awaits
the mempool and answers HTTP 500 with a ``VerifyError`` for script and signature failures, but
``{"success": true}`` for the "score 0" rejections (non-final, fee below the relay minimum, a
spent or missing input, a double spend of a mempool transaction). So :meth:`HsdClient.broadcast`
posts the transaction and then requires it in the mempool, byte for byte (claims of one lock
share a txid, since the txid excludes witnesses). A transaction that is not there raises one
clear error: ``RPCMissingInputsError`` (-25) when an input is spent or unknown,
``RPCVerifyRejectedError`` (-26) for a script failure or a locktime not yet reached,
``RPCDeserializationError`` (-22) for bytes hsd cannot decode, ``RPCAlreadyInChainError`` (-27)
for a transaction already in a block (as bitcoind), else
``InvalidTransactionError`` naming the remaining causes. Codes follow bitcoind's numbering, as
the rest of etm-bridge does. An unreachable node raises ``NodeUnavailableError`` naming the URL.
"""

from __future__ import annotations

from typing import Any

import requests

from etm_bridge.errors import (
    InvalidTransactionError,
    NodeUnavailableError,
    RPCAlreadyInChainError,
    RPCDeserializationError,
    RPCError,
    RPCMissingInputsError,
    RPCVerifyRejectedError,
)
from etm_bridge.jsonrpc import JsonRpcClient, NetworkCheckedRpc

from .codec import Tx
from .txbuild import SEQUENCE_FINAL

BROADCAST_TIMEOUT_S = 60.0


class HsdClient:
    """One hsd node: ``rpc`` (JSON-RPC on the HTTP port) and the REST broadcast."""

    def __init__(self, url: str, user: str | None, password: str | None) -> None:
        self.url = url.rstrip("/")
        #: a NetworkCheckedRpc once the adapter knows its network (HandshakeAdapter)
        self.rpc: JsonRpcClient | NetworkCheckedRpc = JsonRpcClient(
            self.url, user=user, password=password
        )
        self._session = requests.Session()
        if password is not None:
            self._session.auth = (user or "x", password)

    def call(self, method: str, *params: Any) -> Any:
        return self.rpc.call(method, *params)

    def close(self) -> None:
        self.rpc.close()
        self._session.close()

    def height(self) -> int:
        return int(self.rpc.call("getblockcount"))

    def broadcast(self, tx: Tx) -> str:
        """Send ``tx`` and return its txid once it is in the mempool (see the module doc)."""
        self.post_raw(tx.encode(), tx.txid_hex)
        if self._in_mempool(tx):
            return tx.txid_hex
        raise self._dropped(tx)

    def post_raw(self, raw: bytes, label: str) -> None:
        """``POST /broadcast``; raises for an HTTP error (a VerifyError, an undecodable tx)."""
        try:
            reply = self._session.post(
                f"{self.url}/broadcast", json={"tx": raw.hex()}, timeout=BROADCAST_TIMEOUT_S
            )
        except requests.RequestException as exc:
            raise NodeUnavailableError(
                f"hsd at {self.url} is not reachable ({type(exc).__name__}); is it running?"
            ) from None
        if reply.status_code in (401, 403):
            raise NodeUnavailableError(f"hsd at {self.url} refused our API key (HTTP 401)")
        body = _json(reply)
        if reply.status_code != 200 or not body.get("success"):
            found = body.get("error")
            error: dict = found if isinstance(found, dict) else {}
            message = str(error.get("message") or reply.text[:300])
            kind = str(error.get("type") or f"HTTP {reply.status_code}")
            if kind == "VerifyError":
                raise RPCVerifyRejectedError(f"hsd rejected {label}: {message}", -26, "broadcast")
            raise RPCDeserializationError(
                f"hsd cannot decode or accept {label}: {kind}: {message}", -22, "broadcast"
            )

    def _in_mempool(self, tx: Tx) -> bool:
        try:
            self.rpc.call("getmempoolentry", tx.txid_hex)
            raw = self.rpc.call("getrawtransaction", tx.txid_hex, False)
        except RPCError:
            return False
        return bytes.fromhex(str(raw)) == tx.encode()

    def _dropped(self, tx: Tx) -> Exception:
        """The error for a transaction hsd answered ``success`` to but did not keep."""
        if tx.outputs and self.rpc.call("gettxout", tx.txid_hex, 0, False) is not None:
            return RPCAlreadyInChainError(
                f"{tx.txid_hex} is already in a block (sent before, or mined just now)", -27,
                "broadcast")  # fmt: skip
        for txin in tx.inputs:
            txid, vout = txin.outpoint
            if self.rpc.call("gettxout", txid, vout, True) is None:
                return RPCMissingInputsError(
                    f"hsd dropped {tx.txid_hex}: input {txid}:{vout} is spent or does not "
                    "exist (already claimed or refunded?)", -25, "broadcast")  # fmt: skip
        next_height = self.height() + 1
        non_final = any(i.sequence != SEQUENCE_FINAL for i in tx.inputs)
        if non_final and tx.locktime >= next_height:
            return RPCVerifyRejectedError(
                f"hsd dropped {tx.txid_hex}: non-final, its locktime {tx.locktime} allows it "
                f"only in a block above {tx.locktime} (the next block is {next_height}); "
                "wait for the timelock", -26, "broadcast")  # fmt: skip
        return InvalidTransactionError(
            f"hsd accepted the broadcast of {tx.txid_hex} but does not hold it: an input is "
            "already spent by another mempool transaction (e.g. another claim of the same "
            "lock), or the fee is below the relay minimum (1 doo/vB); see the node's log"
        )


def _json(reply: requests.Response) -> dict:
    try:
        body = reply.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
