"""``etm-bridge chains list``: the installed foreign chains (their profiles) and where each is from.

A chain is a profile (a folder ``etm_bridge/chains/<name>/`` or a distribution in the entry-point
group ``etm_bridge.chains``) plus its adapter plugin (``etm-bridge adapters list``). A profile
that fails to load or clashes with another is the command's error, naming both (the node would
refuse to start with it too: the installed chains are consensus).
"""

from __future__ import annotations

import click

from etm_bridge.chains.registry import list_profiles

from .options import echo_json, json_option


@click.group("chains")
def group() -> None:
    """Foreign chains installed (profiles: units, keys, relays, exchange)."""


@group.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """List installed chains: name, ticker, unit, relay type-id block, adapter, origin."""
    rows = list_profiles()
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no foreign chain installed")
    for r in rows:
        relay = "no relay" if r["relay"] is None else f"relay types {r['relay']}+"
        pools = "pools" if r["exchange"] else "no pools"
        aliases = f" ({', '.join(r['aliases'])})" if r["aliases"] else ""
        click.echo(f"{r['name']:<10} {r['ticker']:<5} {r['unit']:<5} {relay}, {pools}, "
                   f"adapter {r['adapter']}{aliases}  {r['origin']}")  # fmt: skip
