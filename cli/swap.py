"""``etm-bridge swap quote|start|cancel|accept|list|status|explain|claim|refund|recover``:
swaps from the command line.

A swap is agreed between two engines: the user runs ``swap start FROM TO AMOUNT`` (it makes the
secret and prints the terms), the counterparty (the pool operator) runs ``swap accept`` on those
terms. Both then run ``etm-bridge watch``, which drives the swap to its end; ``claim`` and
``refund`` act by hand through the same policy and guards (and refuse while a watcher holds the
database). ``swap quote`` prices a pool swap (the pool's output, its price impact) or, with
``--receive``, a direct one (the network fees, the cost of a refund, the confirmations and the
expected time), reading the chains only (no passphrase: adapters get the public quote-only wallet);
``swap start`` shows the same and refuses, before it records or locks anything, a wallet that
cannot pay the amount plus fees or a price impact above ``--max-slippage`` (percent, default 1);
``swap cancel`` ends a swap before anything is locked. Chains, keys, policy and the database
(``<home>/swaps.db``) come from the config (:mod:`etm_bridge.config`: ``[chains.<name>]``,
``[etm]``, ``[policy]``); the keystore passphrase from ``--passphrase-env NAME``,
``$ETM_BRIDGE_PASSPHRASE`` or a prompt. ``recover`` rebuilds lost swaps from the wallet's seed
(:mod:`etm_bridge.app.recover`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import click

from etm_bridge.app import quotes, swap_cancel, swap_reads
from etm_bridge.app import swaps as swapping
from etm_bridge.app.context import AppContext
from etm_bridge.app.durations import duration_text
from etm_bridge.app.recover import DEFAULT_GAP, recover_swaps
from etm_bridge.app.swaps import (
    accept_swap,
    display_amount,
    parse_leg_amount,
    start_direct_swap,
    start_pool_swap,
    terms_json,
    terms_of_json,
)
from etm_bridge.errors import ValidationError
from etm_bridge.wallet.derive import quote_only_wallet

from .context import app_context
from .options import common_options, emit, hex_bytes, json_option, passphrase_option


def engine_options(func: Any) -> Any:
    """The config options (``--home`` ...) and ``--passphrase-env`` of a swap engine verb."""
    return common_options(passphrase_option(func))


def engine() -> AppContext:
    """This verb's use-case context (pointing out swaps left in the old default home)."""
    return app_context(engine=True)


def chain_name(configured: Iterable[str], value: str) -> str:
    """The configured chain a user means (:func:`etm_bridge.app.swaps.chain_name`)."""
    return swapping.chain_name(configured, value)


# --- verbs --------------------------------------------------------------------------------------


@click.group("swap")
def group() -> None:
    """Swap between chains with HTLCs: start, accept, follow, claim, refund."""


def max_slippage_option(func: Any) -> Any:
    return click.option(
        "--max-slippage",
        type=float,
        default=quotes.DEFAULT_MAX_IMPACT_PPM / 10_000,
        show_default=True,
        help="Pool swaps: refuse a price impact above this many percent.",
    )(func)


def _impact_ppm(percent: float) -> int:
    if not 0 <= percent <= 100:
        raise ValidationError(f"--max-slippage is a percentage 0..100, got {percent:g}")
    return round(percent * 10_000)


def quote_lines(ctx: AppContext, sq: quotes.SwapQuote) -> list[str]:
    """A pre-flight quote for people: what goes in and out, fees, refund, time."""
    f, t = sq.from_chain, sq.to_chain
    out = [f"pay {display_amount(ctx, f, sq.amount_in)} on {f} -> receive "
           f"{display_amount(ctx, t, sq.amount_out)} on {t}"]  # fmt: skip
    if sq.price_impact_ppm is not None:
        out.append(f"  pool fee {display_amount(ctx, f, sq.pool_fee)}, price impact "
                   f"{quotes.percent(sq.price_impact_ppm)}")  # fmt: skip
    for leg in sq.legs:
        fee = display_amount(ctx, leg.chain, leg.network_fee)
        line = f"  {leg.chain}: network fee about {fee} ({leg.fee_rate} {leg.fee_rate_unit}"
        line += f", {leg.fee_rate_source}), {leg.confirmations} confirmation(s)"
        if leg.refund_fee:
            line += f"; a refund would cost about {display_amount(ctx, leg.chain, leg.refund_fee)}"
        out.append(line)
    if sq.intent_bond:
        bond = display_amount(ctx, t, sq.intent_bond)
        out.append("  " + quotes.bond_text(sq.intent_bond, sq.intent_lifetime_s, bond))
    out.append(f"  expected time: about {duration_text(sq.expected_s)}")
    return out


@group.command("quote")
@click.argument("from_chain")
@click.argument("to_chain")
@click.argument("amount")
@click.option(
    "--receive",
    default=None,
    help="A direct swap's quote: what the counterparty would lock on TO_CHAIN.",
)
@click.option("--confirmations", default=1, show_default=True, help="Direct: needed on ours.")
@click.option(
    "--counter-confirmations", default=1, show_default=True, help="Direct: needed on theirs."
)
@engine_options
@json_option
def quote_command(
    from_chain: str,
    to_chain: str,
    amount: str,
    receive: str | None,
    confirmations: int,
    counter_confirmations: int,
    as_json: bool,
) -> None:
    """Price a swap of AMOUNT on FROM_CHAIN before anything moves: output, price impact, fees,
    refund cost, confirmations, expected time. Through the ETM pool, or with --receive a direct
    swap (no pool). Reads the chains only: no passphrase is asked."""  # fmt: skip
    ctx = engine()
    # nothing is signed: adapters get the quote-only wallet (a public seed), not ours
    ctx.keys = quote_only_wallet()
    from_chain, to_chain = ctx.resolve(from_chain), ctx.resolve(to_chain)
    amount_in = parse_leg_amount(ctx, from_chain, amount)
    if receive is not None:
        sq = quotes.direct_preflight(ctx, from_chain, to_chain, amount_in,
                                     parse_leg_amount(ctx, to_chain, receive), confirmations,
                                     counter_confirmations)  # fmt: skip
    elif ctx.etm_name_or_none() not in (from_chain, to_chain):
        raise ValidationError(
            f"neither {from_chain} nor {to_chain} is ETM, so no pool prices this swap: quote a "
            "direct swap with --receive AMOUNT (what the counterparty would lock)"
        )
    else:
        sq = quotes.pool_preflight(ctx, from_chain, to_chain, amount_in)
    lines = quote_lines(ctx, sq)
    if sq.price_impact_ppm is not None and sq.price_impact_ppm > quotes.DEFAULT_MAX_IMPACT_PPM:
        lines.append(f"warning: price impact above {quotes.percent(quotes.DEFAULT_MAX_IMPACT_PPM)}:"
                     " `swap start` refuses it without --max-slippage")  # fmt: skip
    emit(swapping.quote_json(ctx, sq), as_json, "\n".join(lines))


@group.command("cancel")
@click.argument("swap_id")
@engine_options
@json_option
def cancel_command(swap_id: str, as_json: bool) -> None:
    """Cancel a swap before anything is locked (refused once a lock exists: it is refunded)."""
    rec = swap_cancel.cancel_swap(engine(), swap_id)
    emit({"swap_id": rec.swap_id, "state": rec.state.value}, as_json,
         f"swap {rec.swap_id} cancelled: nothing was locked")  # fmt: skip


@group.command("start")
@click.argument("from_chain")
@click.argument("to_chain")
@click.argument("amount")
@max_slippage_option
@click.option("--receive", default=None, help="Minimum to receive on TO_CHAIN (pool: quote).")
@click.option("--their-claim-key", default=None, help="Direct swap: their FROM_CHAIN key (hex).")
@click.option("--their-refund-key", default=None, help="Direct swap: their TO_CHAIN key (hex).")
@click.option("--slippage-bps", default=50, show_default=True, help="Pool: below the quote.")
@click.option("--hours", default=12.0, show_default=True, help="Life of our lock (long leg).")
@click.option("--counter-hours", default=6.0, show_default=True, help="Life of their lock.")
@click.option("--confirmations", default=1, show_default=True, help="Needed on our lock.")
@click.option("--counter-confirmations", default=1, show_default=True, help="Needed on theirs.")
@click.option("--reveal-margin-blocks", default=6, show_default=True, help="Of TO_CHAIN.")
@click.option("--lock-within-s", default=3600, show_default=True, help="Lock deadline.")
@click.option("--fee-rate", type=int, default=None, help="Our lock/refund fee rate (the chain's "
              "fee unit) instead of the estimate; at most the chain's ceiling.")  # fmt: skip
@engine_options
@json_option
def start_command(
    from_chain: str,
    to_chain: str,
    amount: str,
    receive: str | None,
    their_claim_key: str | None,
    their_refund_key: str | None,
    slippage_bps: int,
    hours: float,
    counter_hours: float,
    confirmations: int,
    counter_confirmations: int,
    reveal_margin_blocks: int,
    lock_within_s: int,
    max_slippage: float,
    fee_rate: int | None,
    as_json: bool,
) -> None:
    """Start a swap of AMOUNT on FROM_CHAIN for TO_CHAIN (we make the secret).

    Without counterparty keys, one chain being ETM: through the ETM pool at its current quote
    (`swap start <ticker> etm 0.01`); `watch` then drives it. With --their-claim-key,
    --their-refund-key and --receive: a direct swap; the counterparty locks TO_CHAIN to us
    itself (`swap accept` + `watch` on its side).

    Before anything is recorded or locked it checks that the wallet pays the amount plus the
    network fees and shows the quote; a pool swap whose price impact is above --max-slippage
    (percent) is refused.
    """
    ctx = engine()
    from_chain, to_chain = ctx.resolve(from_chain), ctx.resolve(to_chain)
    max_impact = _impact_ppm(max_slippage)
    if fee_rate is not None:  # refused now above the ceiling or below the node's relay minimum
        with ctx.adapter(from_chain).paying(fee_rate):
            pass
    if their_claim_key is None and their_refund_key is None:
        _start_pool(ctx, from_chain, to_chain, amount, receive, slippage_bps, max_impact, as_json,
                    fee_rate)  # fmt: skip
        return
    if their_claim_key is None or their_refund_key is None or receive is None:
        raise ValidationError(
            "a direct swap needs --receive, --their-claim-key and --their-refund-key "
            "(leave all three out to use the ETM pool)"
        )
    amount_in, amount_out = (parse_leg_amount(ctx, from_chain, amount),
                             parse_leg_amount(ctx, to_chain, receive))  # fmt: skip
    claim_key = hex_bytes(their_claim_key, "--their-claim-key")
    refund_key = hex_bytes(their_refund_key, "--their-refund-key")
    sq = quotes.direct_preflight(ctx, from_chain, to_chain, amount_in, amount_out,
                                 confirmations, counter_confirmations)  # fmt: skip
    quotes.check_preflight(ctx, sq, max_impact)
    started = start_direct_swap(
        ctx,
        from_chain,
        to_chain,
        amount_in,
        amount_out,
        their_claim_key=claim_key,
        their_refund_key=refund_key,
        hours=hours,
        counter_hours=counter_hours,
        confirmations=confirmations,
        counter_confirmations=counter_confirmations,
        reveal_margin_blocks=reveal_margin_blocks,
        lock_within_s=lock_within_s,
        fee_rate=fee_rate,
    )
    terms = started.record.terms
    shared = {"terms": terms_json(terms, ctx)}
    lock = display_amount(ctx, from_chain, terms.user_leg.amount)
    text = "\n".join(quote_lines(ctx, sq)) + (
        f"\nswap {terms.swap_id} created: lock {lock} on {from_chain} until height "
        f"{terms.user_leg.timelock_height} for "
        f"{display_amount(ctx, to_chain, terms.counter_leg.amount)} on {to_chain}\n"
        "give the counterparty these terms (`etm-bridge swap accept FILE`), then run "
        "`etm-bridge watch`:\n" + json.dumps(shared, sort_keys=True)
    )
    emit({"swap_id": terms.swap_id, **shared, "preflight": swapping.quote_json(ctx, sq)}, as_json,
         text)  # fmt: skip


def _start_pool(
    ctx: AppContext, from_chain: str, to_chain: str, amount: str, receive: str | None,
    slippage_bps: int, max_impact_ppm: int, as_json: bool, fee_rate: int | None = None,
) -> None:  # fmt: skip
    amount_in = parse_leg_amount(ctx, from_chain, amount)
    min_out = None if receive is None else parse_leg_amount(ctx, to_chain, receive)
    sq = quotes.pool_preflight(ctx, from_chain, to_chain, amount_in)
    quotes.check_preflight(ctx, sq, max_impact_ppm)  # before the intent is recorded on ETM
    started = start_pool_swap(
        ctx,
        from_chain,
        to_chain,
        amount_in,
        min_out=min_out,
        slippage_bps=slippage_bps,
        fee_rate=fee_rate,
    )
    t, quote = started.record.terms, started.quote or {}
    text = (
        "\n".join(quote_lines(ctx, sq))
        + "\n"
        + (
            f"swap {t.swap_id} through the ETM pool: lock "
            f"{display_amount(ctx, from_chain, t.user_leg.amount)} on {from_chain} until height "
            f"{t.user_leg.timelock_height} for at least "
            f"{display_amount(ctx, to_chain, t.counter_leg.amount)} on {to_chain} (quote "
            f"{display_amount(ctx, to_chain, int(quote['amount_out']))}, fee "
            f"{display_amount(ctx, from_chain, int(quote['fee']))}); run `etm-bridge watch`"
        )
    )
    data = {"swap_id": t.swap_id, "pool": True, "terms": terms_json(t, ctx),
            "quote": swapping.pool_quote_json(ctx, from_chain, to_chain, quote),
            "preflight": swapping.quote_json(ctx, sq)}  # fmt: skip
    emit(data, as_json, text)


@group.command("accept")
@click.argument("terms_file", type=click.File("r"))
@engine_options
@json_option
def accept_command(terms_file: Any, as_json: bool) -> None:
    """Accept a swap as the counterparty (operator) from the terms `swap start` printed."""
    try:
        data = json.load(terms_file)
    except ValueError:
        raise ValidationError(
            "the terms file is not JSON (use `swap start --json` output)"
        ) from None
    terms = terms_of_json(data)
    accept_swap(engine(), terms)
    emit({"swap_id": terms.swap_id, "role": "operator"}, as_json, f"accepted {terms.swap_id}")


@group.command("list")
@engine_options
@json_option
def list_command(as_json: bool) -> None:
    """Every swap in the database, oldest first."""
    rows = swap_reads.list_swaps(engine())
    lines = [
        f"{r['swap_id']}  {r['role']:<8} {r['state']:<15} {r['gives']} -> {r['gets']}" for r in rows
    ]
    emit(rows, as_json, "\n".join(lines) or "no swaps yet (`etm-bridge swap start`)")


@group.command("status")
@click.argument("swap_id")
@engine_options
@json_option
def status_command(swap_id: str, as_json: bool) -> None:
    """One swap: state, terms, every broadcast and the transition log."""
    ctx = engine()
    rec, data = swap_reads.swap_status(ctx, swap_id)
    lines = [f"{k}: {v}" for k, v in swap_reads.summary(ctx, rec).items()]
    lines += [
        f"  {t['from']} --{t['event']}--> {t['to']} {t['detail']}" for t in data["transitions"]
    ]
    lines += [
        f"  broadcast {i.kind.value}: "
        f"{i.result.outcome.value + ' ' + (i.result.txid or '') if i.result else 'pending'}"
        for i in rec.intents
    ]
    emit(data, as_json, "\n".join(lines))


@group.command("explain")
@click.argument("swap_id")
@click.option("--offline", is_flag=True, help="Do not ask the nodes; explain from the terms.")
@engine_options
@json_option
def explain_command(swap_id: str, offline: bool, as_json: bool) -> None:
    """Worst-case timeline of both legs and the actions possible now."""
    ctx = engine()
    data = swap_reads.explain(ctx, swap_id, offline=offline)
    lines = [f"swap {data['swap_id']} ({data['role']}, {data['direction']}): {data['state']}"]
    for leg in data["legs"]:
        left = leg.get("blocks_left")
        when = (
            f", {left} blocks (~{duration_text(leg['seconds_left'])}) left"
            if left is not None
            else ""
        )
        lines.append(
            f"  {leg['leg']}: {leg['amount']['display']} on "
            f"{leg['chain']}, "
            f"timelock {leg['timelock_height']}{when}, "
            f"confirmations {leg.get('confirmations', '?')}/{leg['confirmations_required']}"
        )
    lines += [f"  worst case: {w}" for w in data["worst_case"]]
    lines.append(f"  actions now: {', '.join(data['actions_now']) or 'none'}")
    lines += [f"  waiting: {n}" for n in data["waiting_for"]]
    emit(data, as_json, "\n".join(lines))


def _show_actions(rows: list[dict], as_json: bool) -> None:
    emit(rows, as_json, "\n".join(f"{r['action']}: {r['outcome']}" for r in rows))


def fee_rate_option(what: str) -> Any:
    text = f"Our {what} fee rate (the chain's fee unit) instead of the estimate; at most the "
    return click.option("--fee-rate", type=int, default=None, help=text + "chain's ceiling.")


@group.command("claim")
@click.argument("swap_id")
@fee_rate_option("claim's")
@engine_options
@json_option
def claim_command(swap_id: str, fee_rate: int | None, as_json: bool) -> None:
    """Claim now (the user reveals the secret only if the guard allows)."""
    _show_actions(swap_reads.claim(engine(), swap_id, fee_rate), as_json)


@group.command("refund")
@click.argument("swap_id")
@fee_rate_option("refund's")
@engine_options
@json_option
def refund_command(swap_id: str, fee_rate: int | None, as_json: bool) -> None:
    """Refund our lock now (only once its timelock allows); --fee-rate is kept for any later
    refund of this swap."""
    _show_actions(swap_reads.refund(engine(), swap_id, fee_rate), as_json)


@group.command("recover")
@click.option(
    "--gap",
    default=DEFAULT_GAP,
    show_default=True,
    help="Stop after this many swap indexes in a row show nothing on any chain.",
)
@engine_options
@json_option
def recover_command(gap: int, as_json: bool) -> None:
    """Rebuild your open swaps (pool and direct) from the wallet's seed and the chains (a lost
    swap database); then run `etm-bridge watch` to finish them."""
    found = recover_swaps(engine(), gap=gap)
    lines = [f"{f.swap_id}  index {f.index:<4} {f.outcome:<12} {f.direction:<15} {f.detail}"
             for f in found.found]  # fmt: skip
    rebuilt = sum(f.outcome == "rebuilt" for f in found.found)
    lines.append(
        f"looked at swap indexes 0..{found.scanned - 1}: {rebuilt} swap(s) rebuilt; new swaps "
        f"start at index {found.next_index}"
        + ("; run `etm-bridge watch` to finish them" if rebuilt else "")
    )
    emit(found.to_json(), as_json, "\n".join(lines))
