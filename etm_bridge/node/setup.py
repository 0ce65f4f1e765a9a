"""``node init``: a development chain's genesis, delegate keys and node config in a data dir.

UNSAFE for real funds: the genesis delegates and funded users have the deterministic development
keys ``dev_key("delegate-<i>")`` / ``dev_key("user-<i>")`` (``chain.genesis.dev_genesis``), so
anyone can recompute them. The admin token is random.

The chain loads :data:`NODE_TX_PLUGINS`: the SPV relays (``etm_bridge.spv.btc_regtest``: the
SPV types, with the Bitcoin relay starting at the regtest genesis block on the first header
batch) and the value-exchange contracts (``etm_bridge.exchange.txtypes``, whose proofs are
checked by ``etm_bridge.spv.exchange_verifiers``). ``tx_plugins=()`` gives a core-only chain.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from ..chain.genesis import dev_genesis
from ..chain.params import ChainParams, etm_time
from ..errors import ConfigError
from .config import (
    CHAIN_DB,
    DEFAULT_HOST,
    DEFAULT_PORT,
    NODE_CONFIG,
    NodeConfig,
    new_admin_token,
    write_private,
)
from .service import save_forging_keys

#: Transaction-type plug-ins of ``node init`` chains: SPV relays, then the exchange.
NODE_TX_PLUGINS: tuple[str, ...] = ("etm_bridge.spv.btc_regtest", "etm_bridge.exchange.txtypes")


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
) -> NodeConfig:
    """Write ``genesis.json``, ``forging_keys.json`` (all genesis delegates) and ``node.json``.

    Refuses an existing data dir unless ``force`` (which also deletes its chain database).
    ``genesis_time`` (ETM-epoch seconds) defaults to now, so slot 0 starts at init.
    ``tx_plugins``: the chain's transaction-type plug-ins (default :data:`NODE_TX_PLUGINS`).
    """
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
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in (CHAIN_DB, CHAIN_DB + "-wal", CHAIN_DB + "-shm"):
        (data_dir / name).unlink(missing_ok=True)
    config = NodeConfig(data_dir=data_dir, admin_token=new_admin_token(), host=host, port=port)
    write_private(config.genesis_path, json.dumps(genesis.to_json(), indent=2) + "\n")
    save_forging_keys(config.forging_keys_path, keys)
    config.save()
    return config
