"""Ethereum side of ``etm-bridge lp deposit eth``: a PoolVault deposit, relayed, then proven.

Not a verb module. ETH pool deposits are proven by the ``Deposited`` event of the operator's
PoolVault (the vault forwards the ether to the operator in the same transaction; the genesis
``plugins.spv.eth_pool_vaults`` names the vault of each operator). The ETM chain's Ethereum
relay accepts headers from trusted relayers only, so :func:`deposit_and_prove` either relays
them itself (``relay=True``: the wallet's ETM key must be one of them) or waits for a relayer,
showing the confirmations the relay holds, then builds the proof (receipt + transaction
inclusion) with the adapter's :class:`~etm_bridge_ethereum.vault.VaultClient`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from etm_bridge_ethereum.vault import VaultClient

from etm_bridge.chain.keys import SigningKey
from etm_bridge.errors import ChainError
from etm_bridge.node import relaying
from etm_bridge.node.client import NodeClient


def wait_relayed(
    client: NodeClient,
    vault: VaultClient,
    number: int,
    confirmations: int,
    *,
    relay_key: SigningKey | None,
    timeout_s: float,
    progress: Callable[[str], None],
) -> None:
    """Until the ETM relay holds block ``number`` with ``confirmations`` (relaying if a key)."""
    block = vault.node.block(number)
    if block is None:
        raise ChainError(f"the Ethereum node has no block {number} any more (reorg?)")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if relay_key is not None:
            source = relaying.EthereumRpcHeaders(vault.node.rpc)
            relaying.relay_missing_headers(client, relay_key, source, chain="eth")
        have = relaying.eth_block_confirmations(client, number, str(block["hash"]))
        progress(f"ETM relay confirmations of Ethereum block {number}: {have}/{confirmations}")
        if have >= confirmations:
            return
        time.sleep(1.0)
    raise ChainError(
        f"the ETM chain's Ethereum relay did not reach {confirmations} confirmations of block "
        f"{number} in time: is a trusted relayer running (or pass --relay)?"
    )


def deposit_and_prove(
    rpc_url: str,
    private_key: str,
    data_dir: Path,
    vault_address: str,
    owner20: bytes,
    amount_wei: int,
    *,
    client: NodeClient,
    confirmations: int,
    relay_key: SigningKey | None,
    timeout_s: float,
    progress: Callable[[str], None],
) -> tuple[str, bytes]:
    """Deposit through the vault, wait for the relay; (tx hash, ``EthLogProof`` bytes)."""
    vault = VaultClient(rpc_url, private_key, data_dir, vault_address)
    try:
        sent = vault.deposit(owner20, amount_wei)
        progress(f"deposited {amount_wei} wei through vault {vault_address}: tx {sent.tx_hash}")
        wait_relayed(client, vault, sent.block_number, confirmations, relay_key=relay_key,
                     timeout_s=timeout_s, progress=progress)  # fmt: skip
        return sent.tx_hash, vault.proof(sent)
    finally:
        vault.close()
