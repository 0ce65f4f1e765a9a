"""``etm-bridge lp positions|obligations``: an investor's pool shares and pending withdrawals.

Reads a local ETM node's state like ``etm-bridge pool`` (see :mod:`etm_bridge_cli.pool`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from etm_bridge.chain.address import decode_address
from etm_bridge.exchange import views

from .pool import data_dir_option, fmt, json_option, open_view


@click.group("lp")
def group() -> None:
    """Liquidity providers (investors) of the exchange pools."""


@group.command("positions")
@click.argument("address")
@data_dir_option
@json_option
def positions_command(address: str, data_dir: Path, as_json: bool) -> None:
    """Shares, share of the pool and value now of ADDRESS (etm1...) in every pool."""
    address20 = decode_address(address)
    with open_view(data_dir) as view:
        rows = views.positions(view, address20)
    if as_json:
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    if not rows:
        click.echo(f"{address} holds no pool shares")
    for r in rows:
        a = r["asset"]
        click.echo(
            f"{a}: {r['shares']} shares ({r['share_ppm'] / 10_000:g} % of the pool), worth "
            f"{fmt(r['value_asset'], a)} + {fmt(r['value_etm'], 'etm')} now, of which fees "
            f"earned {fmt(r['fees_earned_asset'], a)} + {fmt(r['fees_earned_etm'], 'etm')}"
        )


@group.command("obligations")
@click.argument("address", required=False)
@data_dir_option
@json_option
def obligations_command(address: str | None, data_dir: Path, as_json: bool) -> None:
    """External-asset withdrawals the operator owes (all, or ADDRESS's), with deadlines."""
    investor = decode_address(address) if address else None
    with open_view(data_dir) as view:
        rows = views.obligations(view, investor)
    if as_json:
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    if not rows:
        click.echo("no obligations")
    for o in rows:
        click.echo(
            f"#{o['obligation_id']} {fmt(o['amount'], o['asset'])} to {o['destination']} "
            f"for {o['investor']}: {o['status']}, due by ETM height {o['deadline_height']}"
        )
