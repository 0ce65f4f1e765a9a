"""``etm-bridge pool list|show|quote|create``: the exchange's pools.

``list``/``show``/``quote`` read a local ETM node's state; ``create`` (operator) signs with the
wallet's ETM key and submits to the ``etm.url`` node.

The reads open the node's chain database in ``--data-dir`` (read-only use of ``chain.sqlite``;
the node may keep running). Amounts are shown as decimal strings with units (``--json``: integers in
base units, as the chain stores them); ``quote`` takes a decimal amount with or without unit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from etm_bridge.chain.state import State, StateView
from etm_bridge.errors import ConfigError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange import views
from etm_bridge.exchange.pool import Direction
from etm_bridge.node.config import CHAIN_DB
from etm_bridge.store import ChainStore
from etm_bridge.units import UNITS, format_amount, parse_amount

from .config import common_options, passphrase_option
from .xchg_tx import fee_option, node_client, submit, unlock_wallet, wait_option

DEFAULT_DATA_DIR = Path(".etm") / "node"

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    envvar="ETM_NODE_DIR",
    help="The ETM node's data directory (holds chain.sqlite).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@contextmanager
def open_view(data_dir: Path) -> Iterator[StateView]:
    """The chain state of the node in ``data_dir``, for reading."""
    path = Path(data_dir) / CHAIN_DB
    if not path.is_file():
        raise ConfigError(f"{path} not found: run `etm-bridge node init` or pass --data-dir")
    store = ChainStore.open(path)
    try:
        yield State(store, ())
    finally:
        store.close()


def fmt(value: int, asset: str) -> str:
    """``value`` base units of ``asset`` as a decimal string (base units for unknown tokens)."""
    if asset in UNITS:
        return format_amount(value, asset)
    return f"{value} {asset} base units"


def _pool_lines(p: dict[str, Any]) -> list[str]:
    a = p["asset"]
    return [
        f"pool {a}  operator {p['operator']}  fee {p['fee_ppm'] / 10_000:g} %"
        + ("  HALTED (defaulted obligation)" if p["halted"] else ""),
        f"  reserves   {fmt(p['asset_reserve'], a)}  {fmt(p['etm_reserve'], 'etm')}",
        f"  reserved   {fmt(p['asset_reserved'], a)}  {fmt(p['etm_reserved'], 'etm')}",
        f"  pending in {fmt(p['asset_pending_in'], a)}  {fmt(p['etm_pending_in'], 'etm')}",
        f"  shares     {p['total_shares']}",
        f"  fees       {fmt(p['fees_asset'], a)}  {fmt(p['fees_etm'], 'etm')}",
    ]


@click.group("pool")
def group() -> None:
    """Liquidity pools of the ETM value-exchange contract."""


@group.command("list")
@data_dir_option
@json_option
def list_command(data_dir: Path, as_json: bool) -> None:
    """List every pool with its reserves."""
    with open_view(data_dir) as view:
        pools = views.list_pools(view)
    if as_json:
        click.echo(json.dumps(pools, indent=2, sort_keys=True))
    elif not pools:
        click.echo("no pools")
    for p in [] if as_json else pools:
        click.echo("\n".join(_pool_lines(p)))


@group.command("show")
@click.argument("asset")
@data_dir_option
@json_option
def show_command(asset: str, data_dir: Path, as_json: bool) -> None:
    """Show one pool (ASSET: btc, eth, erc20:<address>)."""
    with open_view(data_dir) as view:
        p = views.show_pool(view, asset.lower())
    click.echo(json.dumps(p, indent=2, sort_keys=True) if as_json else "\n".join(_pool_lines(p)))


@group.command("quote")
@click.argument("asset")
@click.argument("amount")
@click.option(
    "--pay",
    type=click.Choice(["asset", "etm"]),
    default="asset",
    show_default=True,
    help="Which side AMOUNT is paid in: the pool's asset (swap in) or ETM (swap out).",
)
@data_dir_option
@json_option
def quote_command(asset: str, amount: str, pay: str, data_dir: Path, as_json: bool) -> None:
    """Price a swap through the ASSET pool now; AMOUNT is decimal: 0.01 or "0.01 BTC"."""
    asset = asset.lower()
    paid = asset if pay == "asset" else "etm"
    amount_in = parse_amount(amount, paid) if paid in UNITS else int(amount)
    direction = Direction.ASSET_TO_ETM if pay == "asset" else Direction.ETM_TO_ASSET
    with open_view(data_dir) as view:
        q = views.swap_quote(view, asset, direction, amount_in)
    if as_json:
        click.echo(json.dumps(q, indent=2, sort_keys=True))
        return
    got = "etm" if pay == "asset" else asset
    click.echo(
        f"pay {fmt(q['amount_in'], paid)} (fee {fmt(q['fee'], paid)}) -> "
        f"receive {fmt(q['amount_out'], got)}; pass it as the swap's minimum output to pin it"
    )


@group.command("create")
@click.argument("asset")
@click.option("--fee-ppm", default=3_000, show_default=True, help="Swap fee, parts per million.")
@click.option("--obligation-blocks", default=8_640, show_default=True)
@click.option("--min-confirmations", default=6, show_default=True)
@common_options
@passphrase_option
@fee_option
@wait_option
@json_option
def create_command(
    asset: str,
    fee_ppm: int,
    obligation_blocks: int,
    min_confirmations: int,
    fee: int | None,
    wait: bool,
    as_json: bool,
) -> None:
    """Create the ASSET pool with the wallet as operator (its BTC key or ETH address claims)."""
    wallet = unlock_wallet()
    public = wallet.public()
    asset = asset.lower()
    claim_key = public.btc.public_key if asset == "btc" else bytes.fromhex(public.eth.address[2:])
    payload = pl.PoolCreate(asset, claim_key, fee_ppm, obligation_blocks, min_confirmations)
    result = submit(
        node_client(), wallet.etm_signing_key(), tt.POOL_CREATE, payload, fee=fee, wait=wait
    )
    if as_json:
        click.echo(json.dumps({"asset": asset, "claim_key": claim_key.hex(), **result}, indent=2))
    else:
        click.echo(
            f"pool {asset} (claim key {claim_key.hex()}): tx {result['id']} {result['status']}"
        )
