"""``etm-bridge lp positions|obligations|withdraw``: an investor's shares and withdrawals.

``positions`` / ``obligations`` read a local ETM node's state like ``etm-bridge pool`` (see
:mod:`etm_bridge_cli.pool`); ``withdraw`` signs with the wallet's ETM key and submits to the
``etm.url`` node. (``lp deposit`` needs an SPV proof of the Bitcoin payment, which the ETM chain
can verify only once it relays Bitcoin headers; see docs/exchange.md.)
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from etm_bridge.chain.address import decode_address
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange import views

from .config import common_options, passphrase_option
from .pool import data_dir_option, fmt, json_option, open_view
from .xchg_tx import fee_option, node_client, submit, unlock_wallet, wait_option


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


@group.command("withdraw")
@click.argument("asset")
@click.argument("shares", type=int)
@common_options
@passphrase_option
@fee_option
@wait_option
@json_option
def withdraw_command(asset: str, shares: int, fee: int | None, wait: bool, as_json: bool) -> None:
    """Burn SHARES of the wallet's ASSET pool position: ETM now, the asset as an obligation."""
    wallet = unlock_wallet()
    payload = pl.LpWithdraw(asset.lower(), shares)
    result = submit(
        node_client(), wallet.etm_signing_key(), tt.LP_WITHDRAW, payload, fee=fee, wait=wait
    )
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        click.echo(f"withdraw {shares} {asset} shares: tx {result['id']} {result['status']}")
