"""The Ethereum side of the local stack's ETH pool: contracts on anvil for the ETM genesis.

Before the stack's ETM node is initialised, :func:`deploy_eth_pool` deploys the EtherSwapHTLC
(whose ``Locked`` events prove swap-in locks) and a PoolVault (whose ``Deposited``/``Paid`` events
prove ETH pool deposits and payments) for a fresh pool-operator key funded with
``anvil_setBalance``, and writes ``eth_pool.json`` (mode 0600): the addresses, the HTLC's deploy
block and the operator's private key, which ``etm-bridge demo`` uses for its pool operator (a
PoolVault's operator is fixed at deployment and named in the ETM genesis). Development only.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from eth_account import Account
from etm_bridge_ethereum import deploy_contract
from etm_bridge_ethereum.vault import VAULT

from etm_bridge.jsonrpc import JsonRpcClient
from etm_bridge.private_files import read_private, write_private

ETH_POOL_FILE = "eth_pool.json"


def deploy_eth_pool(rpc_url: str, path: Path) -> dict[str, Any]:
    """Deploy (once; later calls read ``path``) and return the pool's addresses and key."""
    saved = read_private(path)  # the operator's key: never read through a planted symlink
    if saved is not None:
        return dict(json.loads(saved))
    account = Account.from_key(secrets.token_bytes(32))
    rpc = JsonRpcClient(rpc_url, version="2.0", timeout_s=10.0)
    try:
        rpc.call("anvil_setBalance", account.address, hex(10**21))
    finally:
        rpc.close()
    key = "0x" + bytes(account.key).hex()
    work = path.parent / "eth-deploy"
    htlc = deploy_contract(rpc_url, key, work)
    vault = deploy_contract(rpc_url, key, work, VAULT, (account.address,))
    pool = {
        "operator": account.address,
        "operator_key": key,
        "htlc_address": htlc.address,
        "htlc_block": htlc.block_number,
        "vault": vault.address,
    }
    write_private(path, json.dumps(pool, indent=2), overwrite=False)  # holds the operator key
    return pool
