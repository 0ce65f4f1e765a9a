"""``node init``: a development chain's genesis, delegate keys and node config in a data dir.

UNSAFE for real funds: the genesis delegates and funded users have the deterministic development
keys ``dev_key("delegate-<i>")`` / ``dev_key("user-<i>")`` (``chain.genesis.dev_genesis``), so
anyone can recompute them. The admin token is random.

The chain loads :data:`NODE_TX_PLUGINS`: the SPV relays (:mod:`.spv_plugin`: every installed
chain's relay types, a development relay starting with the first header batch, and the
``plugins.spv`` genesis section) and the value-exchange contracts
(``etm_bridge.exchange.txtypes``, whose proofs each chain's verifier checks against its relay).
``spv`` (an :class:`~etm_bridge.spv.genesis_section.SpvSection`) goes into that genesis section:
the relays that start from a checkpoint (each chain's ``node init`` options build its part:
:func:`relays_from_options`) and the development flag ``allow_dev_pools``, without which the
exchange refuses pools on a development relay (headers anyone can forge); the local stack and
the tests set it explicitly. ``tx_plugins=()`` gives a core-only chain.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..chain.genesis import dev_genesis
from ..chain.params import ChainParams, etm_time
from ..chains.registry import chain_registry
from ..errors import ConfigError
from ..private_files import write_private
from ..spv.genesis_section import SpvSection
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
    spv: SpvSection | None = None,
    allow_dev_pools: bool = False,
) -> NodeConfig:
    """Write ``genesis.json``, ``forging_keys.json`` (all genesis delegates) and ``node.json``.

    Refuses an existing data dir unless ``force`` (which also deletes its chain database).
    ``genesis_time`` (ETM-epoch seconds) defaults to now, so slot 0 starts at init.
    ``tx_plugins``: the chain's transaction-type plug-ins (default :data:`NODE_TX_PLUGINS`);
    ``spv``: the relays to configure at genesis (needs ``etm_bridge.node.spv_plugin``);
    ``allow_dev_pools``: the development flag (see the module docstring; it goes into ``spv``).
    """
    if allow_dev_pools:
        spv = replace(spv or SpvSection(), allow_dev_pools=True)
    data_dir = Path(data_dir)
    if (data_dir / NODE_CONFIG).exists() and not force:
        raise ConfigError(f"{data_dir} already holds a node; pass --force to overwrite it")
    if not 1 <= delegates <= 101:
        raise ConfigError(f"delegates must be in 1..101, got {delegates}")
    if funded_accounts < 0:
        raise ConfigError(f"funded accounts must be 0 or more, got {funded_accounts}")
    if spv is not None:  # relays with a plug-in of their own: the genesis lists it
        tx_plugins = (*tx_plugins, *(p for p in spv.tx_plugins() if p not in tx_plugins))
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


def relays_from_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """ticker -> relay genesis config, from ``node init`` option values (by option ``dest``):
    each installed chain's ``node_init`` part builds its own (None: no relay asked for)."""
    relays = {}
    for profile in chain_registry().relayed():
        if profile.node_init is not None:
            cfg = profile.node_init.build(values)
            if cfg is not None:
                relays[profile.ticker] = cfg
    return relays


def init_summary(values: Mapping[str, Any], relays: Mapping[str, Any]) -> dict[str, Any]:
    """Each chain's rows of the ``node init`` output for these options and relays."""
    rows: dict[str, Any] = {}
    for profile in chain_registry().relayed():
        if profile.node_init is not None:
            rows.update(profile.node_init.summary(values, relays.get(profile.ticker)))
    return rows
