"""``etm-bridge lp deposit|withdraw|positions|obligations``: investors of the exchange pools.

Reads go through the ETM node's API (``--url``, else the ``etm.url`` setting). ``deposit``
(:func:`etm_bridge.app.liquidity.lp_deposit`) pays the pool on the asset's chain with the wallet's
key (what the chain's deposit looks like is the chain's: an owner-tagged payment to the pool's claim
key, a call of the operator's vault), waits for the pool's confirmations, feeds or waits for the
chain's relay on ETM and submits ``xchg_lp_deposit`` with the payment's proof, together with at most
``--etm`` ETM from the wallet's ETM account. Before any coin moves, ``deposit`` asks the node how
much ETM the asset amount needs now (``/api/exchange/pools/{asset}/deposit-quote``) and refuses an
``--etm`` below it (the chain would refuse it with ``deposit_etm_short`` only after the asset was
paid); without ``--etm`` it sends that quote plus :data:`DEFAULT_ETM_SLIPPAGE_PPM` (1 %), the unused
part staying in the wallet. ``withdraw`` burns shares (``all``, ``50%`` or a number of the wallet's
position: :mod:`etm_bridge.app.lp_withdraw`) and prints what came back: the ETM part is paid at
once, the asset part becomes an obligation the pool operator must pay by an ETM height (shown,
and by ``lp obligations``), or, from a committee pool, a mandate the committee pays (its id
shown); a deposit into a committee pool pays the vault the client derives from the committee
the node reports (:mod:`etm_bridge.app.committee_pools`); ``--min-etm`` /
``--min-asset`` make the chain refuse a burn paying less (``slippage``). ``positions`` defaults to
the wallet's ETM address. Amounts are decimal strings with or without the asset's unit (``0.01`` or
``"0.01 <UNIT>"``).
"""

from __future__ import annotations

import click

from etm_bridge.app import liquidity, lp_withdraw
from etm_bridge.app.liquidity import DEFAULT_BATCH, DEFAULT_ETM_SLIPPAGE_PPM, deposit_etm_max
from etm_bridge.app.liquidity import display as fmt
from etm_bridge.units import parse_amount

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
from .output import liquidity_json

__all__ = ["DEFAULT_ETM_SLIPPAGE_PPM", "deposit_etm_max"]


@click.group("lp")
def group() -> None:
    """Liquidity providers (investors) of the exchange pools."""


@group.command("positions")
@click.argument("address", required=False)
@url_option
@common_options
@json_option
def positions_command(address: str | None, url: str | None, as_json: bool) -> None:
    """Shares, share of the pool and value now of ADDRESS (etm1...; default: the wallet's)."""
    ctx = app_context()
    if address is None:
        address = ctx.public_keys().etm.address
    rows = liquidity.positions(ctx, address, url)
    if as_json:
        echo_json(liquidity_json(rows))
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
@url_option
@common_options
@json_option
def obligations_command(address: str | None, url: str | None, as_json: bool) -> None:
    """External-asset withdrawals the operator owes (all, or ADDRESS's), with deadlines."""
    rows = liquidity.obligations(app_context(), address, url)
    if as_json:
        echo_json(liquidity_json(rows))
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
@click.argument("shares")
@click.option("--min-etm", default=None, help="Refuse a burn paying less ETM, e.g. '10 ETM'.")
@click.option("--min-asset", default=None, help="Refuse a burn paying less of ASSET.")
@common_options
@passphrase_option
@fee_option
@wait_option
@json_option
def withdraw_command(
    asset: str,
    shares: str,
    min_etm: str | None,
    min_asset: str | None,
    fee: int | None,
    wait: bool,
    as_json: bool,
) -> None:
    """Burn SHARES of the wallet's ASSET pool position (`all`, a percentage such as `50%`, or a
    number of shares): ETM now, the asset as an obligation the operator pays by a deadline (a
    committee pool: a mandate the committee pays, its id shown)."""
    asset = asset.lower()
    least_etm = 0 if min_etm is None else parse_amount(min_etm, "etm")
    least_asset = 0 if min_asset is None else liquidity.parse_asset_amount(min_asset, asset)
    done = lp_withdraw.withdraw(app_context(), asset, shares, min_etm=least_etm,
                                min_asset=least_asset, fee=fee, wait=wait)  # fmt: skip
    if as_json:
        echo_json(liquidity_json(done.to_json()))
        return
    tx = done.tx
    click.echo(f"withdrew {done.shares} {asset} shares: tx {tx.id} {tx.status}"
               + (f" at ETM height {tx.height}" if tx.height is not None else ""))  # fmt: skip
    if done.etm_received is not None:
        click.echo(f"  received {fmt(done.etm_received, 'etm')} (fee {fmt(tx.fee, 'etm')} paid)")
    for o in done.obligations:
        left = int(o["deadline_height"]) - done.etm_height
        click.echo(
            f"  obligation #{o['obligation_id']}: {fmt(o['amount'], o['asset'])} owed to "
            f"{o['destination']} by the pool operator, due by ETM height "
            f"{o['deadline_height']} ({left} blocks from now; `etm-bridge lp obligations`)"
        )
    if done.mandate is not None:
        m = done.mandate
        status = m["status"] or "status not served by this node"
        click.echo(
            f"  the {asset} part is paid by the pool's committee to your bound {m['chain']} key: "
            f"mandate {m['mandate_id']} ({status}; queued while the vault cannot cover it, the "
            "committee signs an open one, anyone proves its payout)"
        )
    elif not done.obligations and tx.status == "confirmed":
        click.echo(f"  no {asset} obligation was created")


@group.command("deposit")
@click.argument("asset", type=click.Choice(liquidity.deposit_assets(), case_sensitive=False))
@click.argument("amount")
@click.option(
    "--etm",
    "etm_amount",
    default=None,
    help="Most ETM to add, e.g. 100 or '100 ETM' (default: the node's quote + 1 %).",
)
@click.option("--min-shares", default=1, show_default=True, help="Fail below this many shares.")
@click.option(
    "--txid",
    default=None,
    help="Prove this earlier payment instead of paying again (chains "
    "whose payments can be found again).",
)
@click.option(
    "--vault",
    default=None,
    help="The pool operator's vault (chains that need one; default: the one the ETM chain "
    "names); for a committee pool it must be the vault derived from the committee.",
)
@click.option(
    "--relay", is_flag=True, help="Feed a trusted-relayer relay with the wallet's ETM key."
)
@click.option(
    "--batch", type=int, default=None,
    help=f"Headers per relay transaction (default: {DEFAULT_BATCH}, or the chain's limit).",
)  # fmt: skip
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait per chain.")
@click.option(
    "--fee-rate", type=int, default=None,
    help="The payment's fee rate, in the chain's fee unit (default: the node's estimate); "
    "refused above the chain's ceiling or below what its node relays.",
)  # fmt: skip
@common_options
@passphrase_option
@fee_option
@json_option
def deposit_command(
    asset: str,
    amount: str,
    etm_amount: str | None,
    min_shares: int,
    txid: str | None,
    vault: str | None,
    relay: bool,
    batch: int | None,
    timeout: float,
    fee_rate: int | None,
    fee: int | None,
    as_json: bool,
) -> None:
    """Deposit AMOUNT of ASSET (paid on the asset's chain as that chain's deposit is made: a
    tagged payment to the pool, a call of the operator's vault; proven by SPV) plus at most
    --etm ETM into the pool.

    If a run stops after paying (the payment's txid was printed), a chain whose payments can be
    found again lets you run it again with --txid, to prove and submit that payment instead of
    paying twice."""
    asset = asset.lower()
    amount_units = parse_amount(amount, asset)
    etm_max = None if etm_amount is None else parse_amount(etm_amount, "etm")
    done = liquidity.lp_deposit(
        app_context(), asset, amount_units, etm_max=etm_max, min_shares=min_shares,
        resume_txid=txid, destination=vault, relay=relay, batch=batch, timeout_s=timeout,
        fee=fee, fee_rate=fee_rate, progress=_progress,
    )  # fmt: skip
    out = done.to_json()
    if as_json:
        echo_json(liquidity_json(out))
        return
    tx = done.tx
    click.echo(f"deposit: tx {tx.id} {tx.status} at ETM height {tx.height}")
    for r in done.positions:
        if r["asset"] == asset:
            click.echo(f"  now {r['shares']} shares worth {fmt(r['value_asset'], asset)} + "
                       f"{fmt(r['value_etm'], 'etm')}")  # fmt: skip


def _progress(message: str) -> None:
    """Progress on stderr (stdout stays clean JSON with --json)."""
    click.echo(message, err=True)
