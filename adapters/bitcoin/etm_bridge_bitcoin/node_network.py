"""The node must be on the network the adapter is configured for: checked before its first call.

A config that points the adapter at a node of another network (mainnet settings and a regtest
node, or regtest settings, with their 1-confirmation default, and a mainnet node) would
otherwise be used as given: addresses of one network shown, coins moved on the other.
:class:`NetworkCheckedRpc` wraps the adapter's JSON-RPC client and asks ``getblockchaininfo``
(answered by Bitcoin Core and bcoin) once, before the first call it forwards; a node on another
chain is a :class:`~etm_bridge.errors.ConfigError` naming both, raised on every call.
"""

from __future__ import annotations

from typing import Any

from etm_bridge.errors import ConfigError

#: adapter network -> the ``chain`` names nodes of it report (Core: main, test, testnet4,
#: signet, regtest; bcoin: main, testnet, regtest).
NODE_CHAINS = {
    "mainnet": frozenset({"main"}),
    "testnet": frozenset({"test", "testnet", "testnet4"}),
    "signet": frozenset({"signet"}),
    "regtest": frozenset({"regtest"}),
}


class NetworkCheckedRpc:
    """A JSON-RPC client (``call``, ``close``, ...) that first checks the node's chain."""

    def __init__(self, rpc: Any, network: str) -> None:
        self._rpc, self._network = rpc, network
        self._problem: str | None = None
        self._checked = False

    def call(self, method: str, *params: Any) -> Any:
        if not self._checked:
            self._check()
        if self._problem is not None:
            raise ConfigError(self._problem)
        return self._rpc.call(method, *params)

    def _check(self) -> None:
        chain = str(self._rpc.call("getblockchaininfo").get("chain"))
        if chain not in NODE_CHAINS[self._network]:
            self._problem = (
                f"the Bitcoin node at {getattr(self._rpc, 'url', '?')} is on network {chain!r}, "
                f"this adapter is configured for {self._network!r}: fix [chains.<name>] "
                "network or rpc_url (nothing was sent)"
            )
        self._checked = True

    def __getattr__(self, name: str) -> Any:  # close(), url, ...
        return getattr(self._rpc, name)
