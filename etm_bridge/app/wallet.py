"""The wallet's balances on every chain (use case), read with public keys only.

One row per chain: ETM (``[etm] url``) and every foreign chain (its configured leg, else the
table its name would have). Each is read through its adapter's watch-only balance capability
(``balance_of``), so no passphrase is needed. A node that is down or not configured is reported
on its row ("unreachable: URL", "not configured: set ..."), and the other rows still show.
"""

from __future__ import annotations

from typing import Any

from ..adapter import Capability, ChainAdapter
from ..adapters_registry import load_adapter_class
from ..chains.profile import ChainProfile
from ..chains.registry import chain_registry
from ..config import ETM, Config, env_name
from ..errors import EtmBridgeError, NodeUnavailableError
from ..units import format_amount
from ..wallet import WalletPublic
from .context import AppContext


def _leg_of(config: Config, chain: ChainProfile) -> str:
    for name in config.chain_names:
        if chain_registry().for_leg(name, config.adapter_of(name)) is chain:
            return name
    return chain.name


def _node_key(config: Config, leg: str, adapter: type[ChainAdapter]) -> str:
    declared = adapter.CONFIG_KEYS or {}
    option = "rpc_url" if "rpc_url" in declared else "url"
    return f"chains.{leg}.{option}"


def chain_tables(config: Config) -> dict[str, tuple[str, dict[str, Any]]]:
    """ticker -> (leg, checked options) of each configured foreign chain: a bad value is the
    command's error (ConfigError naming key and source), not one row's."""
    tables = {}
    for chain in chain_registry().pooled():
        leg = _leg_of(config, chain)
        if leg in config.chain_names:
            tables[chain.ticker] = (leg, config.chain_options(leg)[1])
    return tables


def _row(address: str, node: str | None, node_key: str, read: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"address": address, "node": node, "balance": None}
    if node is None:
        row["display"] = row["error"] = (
            f"not configured: set {node_key} ({env_name(node_key)}) or `etm-bridge stack up`"
        )
        return row
    try:
        row["balance"], asset = read()
        row["display"], row["error"] = format_amount(row["balance"], asset), None
    except NodeUnavailableError:
        row["display"] = row["error"] = f"unreachable: {node}"
    except EtmBridgeError as exc:
        row["display"] = row["error"] = f"error: {exc}"
    return row


def balances(
    ctx: AppContext, tables: dict[str, tuple[str, dict[str, Any]]] | None = None
) -> dict[str, dict[str, Any]]:
    """label -> {address, node, balance (int base units) or None, display, error or None}."""
    config = ctx.require_config()
    public: WalletPublic = ctx.public_keys()
    tables = chain_tables(config) if tables is None else tables
    etm_class = load_adapter_class(ETM)
    url = config.etm_url
    rows = {
        "etm": _row(
            public.etm.address,
            url,
            "etm.url",
            lambda: (etm_class.balance_of({"url": url}, _etm_key(public)), "etm"),
        )
    }
    for chain in chain_registry().pooled():
        if chain.wallet_label not in public.chains:
            continue  # a wallet made before the chain was installed has no key of it
        leg, options = tables.get(chain.ticker, (_leg_of(config, chain), {}))
        adapter = load_adapter_class(config.adapter_of(leg))
        node_key = _node_key(config, leg, adapter)
        node = config.get(node_key)
        watch = {**options, "data_dir": str(config.home.wallet_cache)}
        watch.setdefault("network", config.network)
        if not adapter.supports(Capability.WATCH_ONLY_BALANCE):
            node = None
        key = chain.public_key(public)
        rows[chain.ticker] = _row(
            chain.display_address(public, config.network), node, node_key,
            lambda a=adapter, w=watch, k=key, t=chain.ticker: (a.balance_of(w, k), t),
        )  # fmt: skip
    return rows


def _etm_key(public: WalletPublic) -> bytes:
    from ..chain.address import decode_address

    return decode_address(public.etm.address)
