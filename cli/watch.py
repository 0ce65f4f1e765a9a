"""``etm-bridge watch``: run the swap watcher over every configured chain until stopped.

A watcher you can leave running. It says one line per swap state change, per broadcast, per
refusal (again only when the reason changes) and per node outage (``<adapter> node at <url>
unreachable, retrying in 8 s``, then ``... back``), in the user's words
(:mod:`etm_bridge.app.watch_say`); a node that is down is retried with backoff, never the end
of the watcher, even at start. Every line also goes to ``<home>/logs/watch.log`` (rotated).
``--until-done`` exits 0 once no swap is open. ``--notify-cmd CMD`` runs CMD (no shell; the
facts in ``ETM_BRIDGE_*`` environment variables, :mod:`etm_bridge.app.watch_alerts`) when a
user action is needed or a deadline we must meet is less than ``--notify-before`` minutes away.
``--status-every N`` adds a progress line per open swap every N ticks. ``--json`` prints one
JSON object per tick. Ctrl-C stops cleanly and releases the database lock. The work is
:mod:`etm_bridge.app.watch`'s; this module renders it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence

import click

from etm_bridge.app import watch as watching
from etm_bridge.app.context import AppContext
from etm_bridge.app.durations import duration_text
from etm_bridge.app.swaps import asset_of_leg
from etm_bridge.app.watch import LegView, TickReport, Unfollowed, Watcher
from etm_bridge.app.watch_alerts import DeadlineWatch, Notifier, endpoint_of, watch_log
from etm_bridge.app.watch_say import Narrator, Said

from .options import json_option
from .output import display_amount
from .swap import engine, engine_options


def _report_json(
    n: int, report: TickReport, unfollowed: Sequence[Unfollowed] = (), said: Sequence[Said] = ()
) -> str:
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
            "went_down": dict(report.went_down),
            "came_back": list(report.came_back),
            "errors": dict(report.errors),
            "lines": [s.text for s in said],
        },
        sort_keys=True,
    )


def _left(leg: LegView) -> str:
    """``N blocks (~45 min)``: a lock's blocks before its refund, and their expected wall time."""
    return f"{leg.blocks_left} blocks (~{duration_text(leg.blocks_left * leg.block_time_s)})"


def _progress(watcher: Watcher) -> list[str]:
    return [
        f"  {r.swap_id} {r.state}: user lock confirmations {r.user.confirmations}/"
        f"{r.user_confirmations}, {_left(r.user)} before its refund; counter lock "
        f"confirmations {r.counter.confirmations}/{r.counter_confirmations}, "
        f"{_left(r.counter)} before its refund" + (f" ({r.note})" if r.note else "")
        for r in watching.progress(watcher)
    ]


def _operator_lines(report: watching.OperatorReport, say: Callable[[str], None]) -> None:
    """The operator's look at its pools, said on stderr: a swap it cannot follow loudly (and in
    the tick's JSON), never skipped in silence; a failure is retried next tick."""
    for failure in report.failures:
        say(f"operator: {failure}, retrying")
    for swap_id in report.created:
        say(f"operator: following pool swap {swap_id}")
    for u in report.unfollowed:
        say(f"operator: CANNOT FOLLOW pool swap {u.swap_id} ({u.asset}): {u.reason}")
    for chain, sent in report.relayed:
        if sent:
            say(f"operator: relayed {sent} {chain} headers to ETM")


def _logger(ctx: AppContext) -> logging.Logger:
    return watch_log(ctx.config.home.log_dir if ctx.config is not None else None)


@click.command("watch")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between ticks.")
@click.option("--ticks", type=int, default=None, help="Stop after this many ticks.")
@click.option("--until-done", is_flag=True, help="Exit 0 once no swap is open.")
@click.option(
    "--status-every",
    default=0,
    show_default=True,
    help="Also a progress line per open swap every N ticks (0: never).",
)
@click.option("--operator", is_flag=True, help="Also follow every swap of the pools we operate.")
@click.option(
    "--notify-cmd",
    metavar="CMD",
    default=None,
    help="Run CMD (split like a shell, run without one) when you must act or a deadline is "
    "near; it gets ETM_BRIDGE_SWAP_ID, _EVENT, _MESSAGE, _DEADLINE_CHAIN, _DEADLINE_HEIGHT, "
    "_DEADLINE_IN_S.",
)
@click.option(
    "--notify-before",
    default=30.0,
    show_default=True,
    help="Minutes before a deadline we must meet to run --notify-cmd.",
)
@engine_options
@json_option
def group(
    interval: float,
    ticks: int | None,
    until_done: bool,
    status_every: int,
    operator: bool,
    notify_cmd: str | None,
    notify_before: float,
    as_json: bool,
) -> None:
    """Drive every open swap: confirmations, proofs, claims, refunds (Ctrl-C to stop).

    With --operator, each tick first adds every swap the ETM exchange opened in a pool whose
    claim key is ours (the pool operator claims swap-in locks, locks swap-out legs). Lines are
    also written to <home>/logs/watch.log."""
    ctx = engine()
    logger = _logger(ctx)

    def say(text: str) -> None:
        click.echo(text, err=True)
        logger.info(text)

    watcher = watching.open_watcher_patiently(ctx, say, operator=operator)
    notifier = Notifier(notify_cmd)
    run(ctx, watcher, operator, ticks, interval, status_every, as_json, until_done=until_done,
        notifier=notifier, notify_before_s=notify_before * 60, logger=logger)  # fmt: skip


def run(
    ctx: AppContext, watcher: Watcher, operator: bool, ticks: int | None, interval: float,
    status_every: int, as_json: bool, after_tick: Callable[[], object] = bool, *,
    until_done: bool = False, notifier: Notifier | None = None, notify_before_s: float = 1800.0,
    logger: logging.Logger | None = None,
) -> None:  # fmt: skip
    """Tick ``watcher`` until ``ticks`` (or Ctrl-C; or, ``until_done``, until no swap is open),
    printing; ``after_tick`` runs after each tick (``etm-bridge stack operator`` mines a
    regtest block there)."""
    log = logger or _logger(ctx)
    notifier = notifier or Notifier(None)

    def show(chain: str, value: int) -> str:
        asset = asset_of_leg(ctx, chain)
        return display_amount(value, asset) if asset is not None else f"{value} base units"

    narrator = Narrator(show, lambda chain: endpoint_of(ctx, chain))
    deadlines = DeadlineWatch(watcher, notifier, notify_before_s)

    def say(text: str, err: bool = False) -> None:
        if not as_json or err:
            click.echo(text, err=err)
        log.info(text)

    def on_tick(n: int, report: TickReport, op: watching.OperatorReport | None) -> None:
        if op is not None:
            _operator_lines(op, lambda text: say(text, err=True))
        said = narrator.tick(report, watcher.records)
        for s in said:
            say(s.text)
            if s.event is not None and s.swap_id is not None:
                notifier.notify(s.swap_id, s.event, s.text, key=s.key)
        deadlines.check(say)
        if as_json:
            click.echo(_report_json(n, report, () if op is None else op.unfollowed, said))
        elif status_every and n % status_every == 0:
            for progress in _progress(watcher):
                click.echo(progress)

    log.info("watch started")
    try:
        watching.run(ctx, watcher, operator=operator, ticks=ticks, interval_s=interval,
                     on_tick=on_tick, after_tick=after_tick, until_done=until_done)  # fmt: skip
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
        log.info("stopped (Ctrl-C)")
    else:
        if until_done and watching.open_swaps(watcher) == 0:
            say("no swap is open: done", err=True)
    finally:
        notifier.wait()
