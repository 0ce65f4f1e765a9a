"""The local stack's endpoints as a config layer: ``<stack dir>/client.toml``.

``etm-bridge stack up`` writes it (mode 0600: it names the Bitcoin node's RPC password and the
ETM node's admin token) from ``stack.json``, and ``stack down`` removes it. On regtest,
:func:`etm_bridge.config.load_config` reads it below the user's config file, so every command
(wallet, bind, pool, lp, spv, node, swap, watch) reaches the stack's nodes with no config at
all::

    [etm]                 the ETM nodes' APIs (``urls``: every node of the network, ``url``
                          for a single node) and their admin token
    [chains.bitcoin]      the regtest node's RPC, birth height 0
    [chains.ethereum]     anvil, and the stack's EtherSwap HTLC once it is deployed
    [chains.handshake]    hsd's RPC (its API key), birth height 0, when hsd runs
    [policy]              retry every 2 s, prove the user's own lock at once (blocks on demand)

This is the one place that maps the stack's services to chain tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from etm_bridge.private_files import write_private

#: The swap policy on the stack: regtest blocks come on demand, so waiting helps nobody.
STACK_POLICY: dict[str, int] = {"retry_after_s": 2, "user_proof_delay_blocks": 0}


def client_tables(state: Mapping[str, Any]) -> dict[str, Any]:
    """The config tables of a ``stack.json`` state ({} for services it does not hold)."""
    btc, anvil, etm, hsd = (state.get(k) or {} for k in ("bitcoin", "anvil", "etm", "hsd"))
    tables: dict[str, Any] = {}
    urls = [str(u) for u in etm.get("urls") or ()]
    if len(urls) > 1:
        tables["etm"] = _present(urls=urls, admin_token=etm.get("admin_token"))
    elif etm.get("rpc_url"):
        tables["etm"] = _present(url=etm["rpc_url"], admin_token=etm.get("admin_token"))
    chains: dict[str, dict[str, Any]] = {}
    if btc.get("rpc_url") and btc.get("network") == "regtest":
        chains["bitcoin"] = _present(
            rpc_url=btc["rpc_url"], rpc_user=btc.get("rpc_user"),
            rpc_password=btc.get("rpc_password"), network="regtest", birth_height=0,
        )  # fmt: skip
    if anvil.get("rpc_url"):
        pool = etm.get("eth_pool") or {}
        chains["ethereum"] = _present(
            rpc_url=anvil["rpc_url"], htlc_address=pool.get("htlc_address")
        )
        if pool.get("htlc_address"):
            chains["ethereum"]["from_block"] = int(pool.get("htlc_block", 0))
    if hsd.get("rpc_url") and hsd.get("network") == "regtest":
        chains["handshake"] = _present(
            rpc_url=hsd["rpc_url"], rpc_user="etm", rpc_password=hsd.get("api_key"),
            network="regtest", birth_height=0,
        )  # fmt: skip
    if chains:
        tables["chains"] = chains
    if tables:
        tables["policy"] = dict(STACK_POLICY)
    return tables


def _present(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def to_toml(tables: Mapping[str, Any]) -> str:
    """``tables`` (strings, integers and lists of strings; tables one or two deep) as TOML."""
    lines = [
        "# Written by `etm-bridge stack up` (removed by `stack down`): the local stack's",
        "# endpoints, read as a config layer on regtest. `stack up` rewrites it: do not edit.",
    ]
    for name, table in tables.items():
        plain = {k: v for k, v in table.items() if not isinstance(v, dict)}
        if plain:
            lines += ["", f"[{name}]", *_values(plain)]
        for sub, inner in table.items():
            if isinstance(inner, dict):
                lines += ["", f"[{name}.{sub}]", *_values(inner)]
    return "\n".join(lines) + "\n"


def _values(table: Mapping[str, Any]) -> list[str]:
    return [f"{k} = {_value(v)}" for k, v in table.items()]


def _value(value: Any) -> str:
    # JSON string escapes are a subset of TOML basic-string escapes; a JSON array of strings
    # is a TOML array.
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return json.dumps([str(v) for v in value])
    return json.dumps(str(value))


def write_client_config(path: Path, state: Mapping[str, Any]) -> None:
    """Write the stack's config layer (0600, atomically); remove it when the state has none."""
    tables = client_tables(state)
    if tables:
        write_private(path, to_toml(tables))
    else:
        path.unlink(missing_ok=True)
