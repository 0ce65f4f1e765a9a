"""``node init``: a development chain's genesis, delegate keys and node config in a data dir.

UNSAFE for real funds: the genesis delegates and funded users have the deterministic development
keys ``dev_key("delegate-<i>")`` / ``dev_key("user-<i>")`` (``chain.genesis.dev_genesis``), so
anyone can recompute them. The admin token is random.

The chain loads :data:`NODE_TX_PLUGINS`: the SPV relays (:mod:`.spv_plugin`: the SPV types,
the Bitcoin relay starting at the regtest genesis block on the first header batch, and the
``plugins.spv`` genesis section) and the value-exchange contracts
(``etm_bridge.exchange.txtypes``, whose proofs are checked by
``etm_bridge.spv.exchange_verifiers``). ``spv`` (an :class:`SpvGenesis`) goes into that genesis
section, e.g. the Ethereum relay's checkpoint, relayers and HTLC contract. ``tx_plugins=()``
gives a core-only chain.

``btc_network`` starts the Bitcoin relay at genesis from that network's built-in checkpoint
(:mod:`etm_bridge.chains.bitcoin.spv.checkpoints`: mainnet block 826560, testnet4's genesis,
regtest's genesis; signet is refused: its block signatures are not in the headers). Without it the
relay is regtest, started at the regtest genesis block by the first header batch.
``allow_dev_pools`` is the development flag without which the exchange refuses pools on a regtest or
anvil relay (headers anyone can forge); the local stack and the tests set it explicitly.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from etm_bridge.chains.bitcoin.spv.checkpoints import default_checkpoint
from etm_bridge.chains.bitcoin.spv.params import params_for
from etm_bridge.chains.ethereum.spv.headers import ETH_NETWORKS
from etm_bridge.chains.ethereum.spv.rlp import encode_checked_header

from ..chain.genesis import dev_genesis
from ..chain.params import ChainParams, etm_time
from ..errors import ConfigError
from ..jsonrpc import JsonRpcClient
from ..private_files import write_private
from ..spv.genesis import SpvGenesis
from . import spv_plugin
from .config import (
    CHAIN_DB,
    DEFAULT_HOST,
    DEFAULT_PORT,
    NODE_CONFIG,
    NodeConfig,
    new_admin_token,
)
from .service import save_forging_keys

#: Transaction-type plug-ins of ``node init`` chains: SPV relays, then the exchange.
NODE_TX_PLUGINS: tuple[str, ...] = ("etm_bridge.node.spv_plugin", "etm_bridge.exchange.txtypes")


def init_node(
    data_dir: Path,
    *,
    delegates: int = 5,
    block_time_s: int = 10,
    funded_accounts: int = 10,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    genesis_time: int | None = None,
    force: bool = False,
    tx_plugins: tuple[str, ...] = NODE_TX_PLUGINS,
    spv: SpvGenesis | None = None,
    btc_network: str | None = None,
    allow_dev_pools: bool = False,
) -> NodeConfig:
    """Write ``genesis.json``, ``forging_keys.json`` (all genesis delegates) and ``node.json``.

    Refuses an existing data dir unless ``force`` (which also deletes its chain database).
    ``genesis_time`` (ETM-epoch seconds) defaults to now, so slot 0 starts at init.
    ``tx_plugins``: the chain's transaction-type plug-ins (default :data:`NODE_TX_PLUGINS`);
    ``spv``: the relays to configure at genesis (needs ``etm_bridge.node.spv_plugin``);
    ``btc_network`` / ``allow_dev_pools``: see the module docstring (both go into ``spv``).
    """
    spv = bitcoin_spv_genesis(spv, btc_network, allow_dev_pools)
    data_dir = Path(data_dir)
    if (data_dir / NODE_CONFIG).exists() and not force:
        raise ConfigError(f"{data_dir} already holds a node; pass --force to overwrite it")
    if not 1 <= delegates <= 101:
        raise ConfigError(f"delegates must be in 1..101, got {delegates}")
    if funded_accounts < 0:
        raise ConfigError(f"funded accounts must be 0 or more, got {funded_accounts}")
    params = replace(
        ChainParams(),
        genesis_time=etm_time(time.time()) if genesis_time is None else genesis_time,
        block_time_s=block_time_s,
        delegates_per_round=delegates,
        tx_plugins=tuple(tx_plugins),
    )
    genesis, keys = dev_genesis(params, delegates, funded=funded_accounts)
    if spv is not None:
        if spv_plugin.__name__ not in params.tx_plugins:
            raise ConfigError(f"an spv genesis section needs the {spv_plugin.__name__} plug-in")
        genesis = genesis.with_plugin_section(spv_plugin.SECTION, spv.to_json())
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in (CHAIN_DB, CHAIN_DB + "-wal", CHAIN_DB + "-shm"):
        (data_dir / name).unlink(missing_ok=True)
    config = NodeConfig(data_dir=data_dir, admin_token=new_admin_token(), host=host, port=port)
    write_private(config.genesis_path, json.dumps(genesis.to_json(), indent=2) + "\n")
    save_forging_keys(config.forging_keys_path, keys)
    config.save()
    return config


def bitcoin_spv_genesis(
    spv: SpvGenesis | None, btc_network: str | None, allow_dev_pools: bool
) -> SpvGenesis | None:
    """``spv`` with the Bitcoin relay of ``btc_network`` (its built-in checkpoint) and the
    development flag added; unchanged (possibly None) when neither is asked for."""
    if btc_network is None and not allow_dev_pools:
        return spv
    spv = spv or SpvGenesis()
    if btc_network is not None:
        params = params_for(btc_network)  # signet: ConfigError with the reason
        spv = replace(spv, btc_network=params.name, btc_checkpoint=default_checkpoint(params.name))
    return replace(spv, allow_dev_pools=True) if allow_dev_pools else spv


def eth_spv_genesis(
    rpc_url: str,
    *,
    relayers: tuple[bytes, ...],
    htlc_contract: bytes = b"",
    chain: str = "anvil",
    confirmations: int = 1,
    block: int | str = "latest",
    pool_vaults: tuple[tuple[bytes, bytes], ...] = (),
) -> SpvGenesis:
    """An Ethereum relay whose trusted checkpoint is ``block`` of the node at ``rpc_url``.

    ``relayers``: ETM public keys allowed to submit headers (the relay's trust model, see
    docs/spv.md); ``htlc_contract``: the 20-byte EtherSwapHTLC whose ``Locked`` events the
    exchange accepts (empty: receipt proofs only, no Ethereum pool proofs); ``pool_vaults``:
    (operator address, PoolVault address) pairs whose Deposited/Paid events prove ETH pool
    deposits and obligation payments (20 bytes each).
    """
    if chain not in ETH_NETWORKS:
        raise ConfigError(f"unknown Ethereum relay chain {chain!r}; known: {sorted(ETH_NETWORKS)}")
    if not relayers or any(len(k) != 32 for k in relayers):
        raise ConfigError("the Ethereum relay needs at least one 32-byte ETM relayer public key")
    if htlc_contract and len(htlc_contract) != 20:
        raise ConfigError("the Ethereum HTLC contract address must be 20 bytes")
    if any(len(op) != 20 or len(vault) != 20 for op, vault in pool_vaults):
        raise ConfigError("pool vaults must be pairs of 20-byte operator and vault addresses")
    rpc = JsonRpcClient(rpc_url, version="2.0", timeout_s=10.0)
    try:
        tag = hex(block) if isinstance(block, int) else block
        found = rpc.call("eth_getBlockByNumber", tag, False)
    finally:
        rpc.close()
    if not found:
        raise ConfigError(f"the Ethereum node at {rpc_url} has no block {block}")
    return SpvGenesis(
        eth_chain=chain,
        eth_checkpoint_rlp=encode_checked_header(found),
        eth_relayers=tuple(relayers),
        eth_min_confirmations=confirmations,
        eth_htlc_contract=htlc_contract,
        eth_pool_vaults=tuple(pool_vaults),
    )
