"""``etm-bridge watch``: run the swap watcher over every configured chain until stopped.

One line per tick that did something (new blocks, transitions, broadcasts, nodes down), and a
progress line per open swap every ``--status-every`` ticks (state, confirmations, blocks left
and their expected minutes before the refund path opens). ``--json`` prints one JSON object per
tick. Ctrl-C stops cleanly and releases the database lock; a node that is down is retried with
backoff, never fatal. The work is :mod:`etm_bridge.app.watch`'s; this module renders it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import click

from etm_bridge.app import watch as watching
from etm_bridge.app.context import AppContext
from etm_bridge.app.watch import LegView, TickReport, Unfollowed, Watcher

from .options import json_option
from .swap import engine, engine_options


def _report_json(n: int, report: TickReport, unfollowed: Sequence[Unfollowed] = ()) -> str:
    return json.dumps(
        {
            "tick": n,
            "unfollowed": [[u.swap_id, u.asset, u.reason] for u in unfollowed],
            "new_blocks": dict(report.new_blocks),
            "examined": report.examined,
            "transitions": [
                [t.swap_id, t.from_state.value, t.event.value, t.to_state.value]
                for t in report.transitions
            ],
            "actions": [[sid, kind.value, outcome] for sid, kind, outcome in report.actions],
            "down": dict(report.down),
            "errors": dict(report.errors),
        },
        sort_keys=True,
    )


def _report_text(n: int, report: TickReport) -> str | None:
    parts = [f"{c} at {h}" for c, h in sorted(report.new_blocks.items())]
    parts += [
        f"{t.swap_id}: {t.from_state.value} -> {t.to_state.value}" for t in report.transitions
    ]
    parts += [f"{sid}: {kind.value} {outcome}" for sid, kind, outcome in report.actions]
    parts += [f"{c} DOWN ({err}), retrying" for c, err in sorted(report.down.items())]
    parts += [f"{sid}: ERROR {err}, retrying" for sid, err in sorted(report.errors.items())]
    return f"tick {n}: " + "; ".join(parts) if parts else None


def _left(leg: LegView) -> str:
    """``N blocks (~M min)``: a lock's blocks before its refund, and their expected wall time."""
    return f"{leg.blocks_left} blocks (~{leg.blocks_left * leg.block_time_s // 60} min)"


def _progress(watcher: Watcher) -> list[str]:
    return [
        f"  {r.swap_id} {r.state}: user lock confirmations {r.user.confirmations}/"
        f"{r.user_confirmations}, {_left(r.user)} before its refund; counter lock "
        f"confirmations {r.counter.confirmations}/{r.counter_confirmations}, "
        f"{_left(r.counter)} before its refund" + (f" ({r.note})" if r.note else "")
        for r in watching.progress(watcher)
    ]


def _operator_lines(report: watching.OperatorReport) -> None:
    """The operator's look at its pools, said on stderr: a swap it cannot follow loudly (and in
    the tick's JSON), never skipped in silence; a failure is retried next tick."""
    for failure in report.failures:
        click.echo(f"operator: {failure}, retrying", err=True)
    for swap_id in report.created:
        click.echo(f"operator: following pool swap {swap_id}", err=True)
    for u in report.unfollowed:
        click.echo(f"operator: CANNOT FOLLOW pool swap {u.swap_id} ({u.asset}): {u.reason}",
                   err=True)  # fmt: skip
    for chain, sent in report.relayed:
        if sent:
            click.echo(f"operator: relayed {sent} {chain} headers to ETM", err=True)


@click.command("watch")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between ticks.")
@click.option("--ticks", type=int, default=None, help="Stop after this many ticks.")
@click.option("--status-every", default=10, show_default=True, help="Progress every N ticks.")
@click.option("--operator", is_flag=True, help="Also follow every swap of the pools we operate.")
@engine_options
@json_option
def group(
    interval: float,
    ticks: int | None,
    status_every: int,
    operator: bool,
    as_json: bool,
) -> None:
    """Drive every open swap: confirmations, proofs, claims, refunds (Ctrl-C to stop).

    With --operator, each tick first adds every swap the ETM exchange opened in a pool whose
    claim key is ours (the pool operator claims swap-in locks, locks swap-out legs)."""
    ctx = engine()
    run(ctx, watching.open_watcher(ctx, operator=operator), operator, ticks, interval,
        status_every, as_json)  # fmt: skip


def run(
    ctx: AppContext, watcher: Watcher, operator: bool, ticks: int | None, interval: float,
    status_every: int, as_json: bool, after_tick: Callable[[], object] = bool,
) -> None:  # fmt: skip
    """Tick ``watcher`` until ``ticks`` (or Ctrl-C), printing; ``after_tick`` runs after each
    tick (``etm-bridge stack operator`` mines a regtest block there)."""

    def on_tick(n: int, report: TickReport, op: watching.OperatorReport | None) -> None:
        if op is not None:
            _operator_lines(op)
        unfollowed = () if op is None else op.unfollowed
        line = _report_json(n, report, unfollowed) if as_json else _report_text(n, report)
        if line:
            click.echo(line)
        if not as_json and status_every and n % status_every == 0:
            for progress in _progress(watcher):
                click.echo(progress)

    try:
        watching.run(ctx, watcher, operator=operator, ticks=ticks, interval_s=interval,
                     on_tick=on_tick, after_tick=after_tick)  # fmt: skip
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
