"""The node must be on the network the adapter is configured for (checked before its first
call: :class:`~etm_bridge.jsonrpc.NetworkCheckedRpc`); the ``chain`` names each network's
nodes report."""

from __future__ import annotations

from typing import Any

from etm_bridge.jsonrpc import NetworkCheckedRpc

#: adapter network -> the ``chain`` of ``getblockchaininfo`` of its nodes (Core: main, test,
#: testnet4, signet, regtest; bcoin: main, testnet, regtest).
NODE_CHAINS = {
    "mainnet": frozenset({"main"}),
    "testnet": frozenset({"test", "testnet", "testnet4"}),
    "signet": frozenset({"signet"}),
    "regtest": frozenset({"regtest"}),
}


def checked_rpc(rpc: Any, network: str) -> NetworkCheckedRpc:
    return NetworkCheckedRpc(rpc, chain="Bitcoin", network=network, accepted=NODE_CHAINS[network])
