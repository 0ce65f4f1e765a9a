"""JSON-RPC 1.0/2.0 client over HTTP (``requests``) for chain nodes.

One class, :class:`JsonRpcClient`, used by the adapters whose nodes speak JSON-RPC 1.0 with
HTTP basic auth or JSON-RPC 2.0. It owns the error mapping and nothing else:

- a node that cannot be reached (refused, timed out, HTTP 401/403, not JSON) raises
  :class:`~etm_bridge.errors.NodeUnavailableError` naming the URL;
- an error object in the reply raises the :class:`~etm_bridge.errors.RPCError` subclass registered
  for its code in :data:`RPC_ERROR_CLASSES` (the 1.0 nodes' numbering), or plain ``RPCError``.

A 1.0 node answers errors with HTTP 500 (or 404 for an unknown method) *and* a JSON body, so
the body is read whatever the status.
"""

from __future__ import annotations

import itertools
from typing import Any

import requests

from etm_bridge.errors import (
    ConfigError,
    NodeUnavailableError,
    RPCAlreadyInChainError,
    RPCDeserializationError,
    RPCError,
    RPCInvalidAddressOrKeyError,
    RPCInvalidParameterError,
    RPCMissingInputsError,
    RPCVerifyRejectedError,
    RPCWarmupError,
    ValidationError,
)
from etm_bridge.jsonsafe import loads_bounded

#: Node error code -> exception class (the reference node's ``rpc/protocol.h`` numbering).
RPC_ERROR_CLASSES: dict[int, type[RPCError]] = {
    -5: RPCInvalidAddressOrKeyError,
    -8: RPCInvalidParameterError,
    -22: RPCDeserializationError,
    -25: RPCMissingInputsError,
    -26: RPCVerifyRejectedError,
    -27: RPCAlreadyInChainError,
    -28: RPCWarmupError,
}

_VERSIONS = ("1.0", "2.0")


def error_from_reply(error: Any, method: str) -> RPCError:
    """Build the exception for a JSON-RPC ``error`` member (a dict, or a bare string)."""
    if not isinstance(error, dict):
        return RPCError(str(error), None, method)
    code = error.get("code")
    code = code if isinstance(code, int) else None
    message = str(error.get("message") or "unknown error")
    cls = RPC_ERROR_CLASSES.get(code, RPCError) if code is not None else RPCError
    exc = cls(message, code, method)
    exc.data = error.get("data")
    return exc


class JsonRpcClient:
    """A JSON-RPC client bound to one URL.

    ``call("getblockcount")`` returns the ``result`` member; errors raise as described in the
    module docstring. ``version`` is ``"1.0"`` (basic auth, errors with HTTP 500) or ``"2.0"``.
    """

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        timeout_s: float = 30.0,
        version: str = "1.0",
    ) -> None:
        if version not in _VERSIONS:
            raise ConfigError(f"JSON-RPC version must be one of {_VERSIONS}, got {version!r}")
        if not timeout_s > 0:
            raise ConfigError(f"JSON-RPC timeout_s must be positive, got {timeout_s!r}")
        self.url = url
        self.timeout_s = timeout_s
        self.version = version
        self._ids = itertools.count(1)
        self._session = requests.Session()
        if user is not None or password is not None:
            self._session.auth = (user or "", password or "")

    def __repr__(self) -> str:
        return f"JsonRpcClient({self.url!r}, version={self.version!r})"

    def call(self, method: str, *params: Any) -> Any:
        """Call ``method`` with positional ``params`` and return its result."""
        payload = {"jsonrpc": self.version, "id": next(self._ids), "method": method}
        payload["params"] = list(params)
        reply = self._post(method, payload)
        if reply.get("error") is not None:
            raise error_from_reply(reply["error"], method)
        if "result" not in reply:
            raise NodeUnavailableError(f"{self.url}: reply to {method} has no result: {reply!r}")
        return reply["result"]

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self._session.close()

    def _post(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._session.post(self.url, json=payload, timeout=self.timeout_s)
        except requests.Timeout as exc:
            raise NodeUnavailableError(
                f"node at {self.url} did not answer {method} within {self.timeout_s:g} s"
            ) from exc
        except requests.RequestException as exc:
            raise NodeUnavailableError(
                f"cannot reach node at {self.url} ({type(exc).__name__}); is it running?"
            ) from exc
        if response.status_code in (401, 403):
            raise NodeUnavailableError(
                f"node at {self.url} refused the credentials (HTTP {response.status_code})"
            )
        try:
            reply = loads_bounded(response.content)
        except ValidationError as exc:  # too deep to decode safely
            raise NodeUnavailableError(
                f"node at {self.url} answered {method} with unusable JSON: {exc}"
            ) from None
        except ValueError as exc:
            snippet = response.text[:200].strip()
            raise NodeUnavailableError(
                f"node at {self.url} answered {method} with HTTP {response.status_code}, "
                f"not JSON: {snippet!r}"
            ) from exc
        if not isinstance(reply, dict):
            raise NodeUnavailableError(f"{self.url}: reply to {method} is not an object")
        return reply


class NetworkCheckedRpc:
    """A JSON-RPC client (``call``, ``close``, ``url``, ...) whose node must be on the network
    the adapter is configured for: before the first call it forwards, it asks
    ``getblockchaininfo`` once (the nodes of the UTXO chains answer it); a ``chain`` outside
    ``accepted`` is a :class:`~etm_bridge.errors.ConfigError` naming both, raised on that call and
    every later one, so nothing is read from or sent to the wrong chain (a config with mainnet
    settings and a regtest node, or regtest settings, with their 1-confirmation default, and a
    mainnet node)."""

    def __init__(self, rpc: Any, *, chain: str, network: str, accepted: frozenset[str]) -> None:
        self._rpc, self._chain, self._network, self._accepted = rpc, chain, network, accepted
        self._problem: str | None = None
        self._checked = False

    def call(self, method: str, *params: Any) -> Any:
        if not self._checked:
            self._check()
        if self._problem is not None:
            raise ConfigError(self._problem)
        return self._rpc.call(method, *params)

    def _check(self) -> None:
        info = self._rpc.call("getblockchaininfo")
        found = str(info.get("chain")) if isinstance(info, dict) else repr(info)
        if found not in self._accepted:
            self._problem = (
                f"the {self._chain} node at {getattr(self._rpc, 'url', '?')} is on network "
                f"{found!r}, this adapter is configured for {self._network!r}: fix the chain's "
                "network or rpc_url in the config (nothing was sent)"
            )
        self._checked = True

    def __getattr__(self, name: str) -> Any:  # close(), url, ...
        return getattr(self._rpc, name)
