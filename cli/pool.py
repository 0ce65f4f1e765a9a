"""``etm-bridge pool list|show|quote|create``: the exchange's pools.

``list``/``show``/``quote`` read the ETM node's API (``--url``, else the ``etm.url`` setting:
``ETM_BRIDGE_ETM_URL``, the config file or the local stack); ``create`` (operator) signs with the
wallet's ETM key and submits to that node. Amounts are shown as decimal strings with units
(``--json``: integers in base units, as the chain stores them); ``quote`` takes a decimal amount
with or without unit, shows the price impact (a warning above 1 %) and refuses an amount larger
than the pool's reserve.
"""

from __future__ import annotations

from typing import Any

import click

from etm_bridge.app import liquidity, quotes
from etm_bridge.app.durations import duration_text
from etm_bridge.app.liquidity import display as fmt
from etm_bridge.app.liquidity import parse_asset_amount

from .context import app_context
from .options import (
    common_options,
    echo_json,
    fee_option,
    json_option,
    passphrase_option,
    url_option,
    wait_option,
)
from .output import amount_json, liquidity_json

__all__ = ["fmt", "json_option", "url_option"]


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
        f"  least withdrawal {fmt(p.get('min_withdrawal', 0), a)}",
        *_custody_lines(p.get("custody")),
        *_mandate_lines(p.get("mandates")),
    ]


def _mandate_lines(rows: list[dict[str, Any]] | None) -> list[str]:
    """A committee pool's open and queued mandates (None: the node serves no custody routes)."""
    if rows is None:
        return []
    if not rows:
        return ["  mandates   none open"]
    return [f"  mandate    {m['id']} {m['kind']} {m['status']}"
            + ("" if m["amount"] is None else f" {fmt(m['amount'], m['asset'])}")
            for m in rows]  # fmt: skip


def _custody_lines(c: dict[str, Any] | None) -> list[str]:
    """A committee pool's custody block (an operator pool has none)."""
    if c is None:
        return []
    inflows = f"inflows {c.get('inflows')}" + (f" ({c['reason']})" if c.get("reason") else "")
    committee, vault = c.get("committee"), c.get("vault")
    if committee is None:
        return [f"  committee  none yet; {inflows}"]
    out = [f"  committee  epoch {committee['epoch']}, {committee['m']}-of-{committee['n']}; "
           f"{inflows}"]  # fmt: skip
    solvency = c.get("solvency")
    if solvency:
        out.append(f"  solvency   {solvency['status']} (round {solvency['round']}, shortfall "
                   f"{solvency['shortfall']} base units)")  # fmt: skip
    if vault is None:
        return [*out, "  vault      none this node can name (no custody spec of the chain)"]
    return [*out, f"  vault      {vault['address']} ({vault['ticker']}, epoch {vault['epoch']}; "
                  "`lp deposit` pays it after deriving it from the committee)"]  # fmt: skip


@click.group("pool")
def group() -> None:
    """Liquidity pools of the ETM value-exchange contract."""


@group.command("list")
@url_option
@common_options
@json_option
def list_command(url: str | None, as_json: bool) -> None:
    """List every pool with its reserves."""
    pools = liquidity.pools(app_context(), url)
    if as_json:
        echo_json(liquidity_json(pools))
    elif not pools:
        click.echo("no pools")
    for p in [] if as_json else pools:
        click.echo("\n".join(_pool_lines(p)))


@group.command("show")
@click.argument("asset")
@url_option
@common_options
@json_option
def show_command(asset: str, url: str | None, as_json: bool) -> None:
    """Show one pool (ASSET: a chain's ticker, or a token as <standard>:<address>)."""
    p = liquidity.pool(app_context(), asset, url)
    if as_json:
        echo_json(liquidity_json(p))
    else:
        click.echo("\n".join(_pool_lines(p)))


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
@url_option
@common_options
@json_option
def quote_command(asset: str, amount: str, pay: str, url: str | None, as_json: bool) -> None:
    """Price a swap through the ASSET pool now; AMOUNT is decimal: 0.01 or "0.01 <UNIT>"."""
    asset = asset.lower()
    paid, q = quotes.quote(app_context(), asset, amount, "etm" if pay == "etm" else "asset", url)
    got = "etm" if pay == "asset" else asset
    if as_json:
        units = {"amount_in": paid, "fee": paid, "amount_out": got, "intent_bond": "etm"}
        echo_json({k: amount_json(int(v), units[k]) if k in units and v is not None else v
                   for k, v in q.items()})  # fmt: skip
        return
    click.echo(
        f"pay {fmt(q['amount_in'], paid)} (fee {fmt(q['fee'], paid)}) -> "
        f"receive {fmt(q['amount_out'], got)}, price impact {q['price_impact']}; pass it as the "
        "swap's minimum output to pin it"
    )
    if q.get("intent_bond"):
        click.echo(
            quotes.bond_text(q["intent_bond"], q["intent_lifetime_s"], fmt(q["intent_bond"], "etm"))
        )
    if q["price_impact_ppm"] > quotes.DEFAULT_MAX_IMPACT_PPM:
        click.echo(
            f"warning: price impact {q['price_impact']} is above "
            f"{quotes.percent(quotes.DEFAULT_MAX_IMPACT_PPM)}: the pool is small for this "
            "amount; `swap start` refuses it without --max-slippage"
        )
    depth = q.get("depth")
    if depth:
        what = (
            "your lock needs" if pay == "asset" else "after ETM finality, the operator's lock needs"
        )
        click.echo(
            f"{what} {depth['confirmations']} {depth['chain']} confirmation(s), "
            f"~{duration_text(depth['expected_wait_s'])} at {depth['block_time_s']} s a block"
            + (
                f" (value-scaled depth {depth['value_scaled_confirmations']})"
                if depth.get("value_scaled_confirmations")
                else ""
            )
        )


@group.command("create")
@click.argument("asset")
@click.option("--fee-ppm", default=3_000, show_default=True, help="Swap fee, parts per million.")
@click.option("--obligation-blocks", default=8_640, show_default=True)
@click.option("--min-confirmations", default=6, show_default=True)
@click.option(
    "--min-withdrawal",
    default=None,
    help="Least ASSET one LP withdrawal may pay (e.g. 0.001); default and lower bound: the "
    "chain's floor (the least payment it relays plus a payment's fee).",
)
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
    min_withdrawal: str | None,
    fee: int | None,
    wait: bool,
    as_json: bool,
) -> None:
    """Create the ASSET pool with the wallet as operator (its key on the asset's chain claims)."""
    asset = asset.lower()
    least = 0 if min_withdrawal is None else parse_asset_amount(min_withdrawal, asset)
    claim_key, tx = liquidity.create_pool(
        app_context(), asset, fee_ppm=fee_ppm, obligation_blocks=obligation_blocks,
        min_confirmations=min_confirmations, min_withdrawal=least, fee=fee, wait=wait,
    )  # fmt: skip
    result = tx.to_json()
    if as_json:
        echo_json({"asset": asset, "claim_key": claim_key.hex(), **result})
    else:
        click.echo(
            f"pool {asset} (claim key {claim_key.hex()}): tx {result['id']} {result['status']}"
        )
