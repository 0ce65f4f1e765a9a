"""``etm-bridge watch``: run the swap watcher over every configured chain until stopped.

One line per tick that did something (new blocks, transitions, broadcasts, nodes down), and a
progress line per open swap every ``--status-every`` ticks (state, confirmations, blocks left
and their expected minutes before the refund path opens). ``--json`` prints one JSON object per
tick. Ctrl-C stops cleanly and releases the database lock; a node that is down is retried with
backoff, never fatal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

import click

from etm_bridge.adapter import ChainAdapter
from etm_bridge.app.swaps import chain_of, etm_side, operator_pools
from etm_bridge.errors import EtmBridgeError
from etm_bridge.etm_client.exchange import NodeExchange
from etm_bridge.swaps.core.pool_terms import Unfollowed
from etm_bridge.swaps.core.states import TERMINAL
from etm_bridge.swaps.core.views import LegView
from etm_bridge.swaps.runtime.operator import PoolFollower
from etm_bridge.swaps.runtime.watcher import TickReport, Watcher

from .context import get_config
from .options import json_option
from .swap import engine_options, make_watcher, open_adapters


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
    lines = []
    for rec in watcher.records.values():
        if rec.state in TERMINAL:
            continue
        _, obs, plan = watcher.inspect(rec)
        u, c = obs.view.user, obs.view.counter
        lines.append(
            f"  {rec.swap_id} {rec.state.value}: user lock confirmations "
            f"{u.confirmations}/{rec.terms.user_leg.confirmations}, {_left(u)} before its "
            f"refund; counter lock confirmations {c.confirmations}/"
            f"{rec.terms.counter_leg.confirmations}, {_left(c)} before its refund"
            + (f" ({plan.notes[0]})" if plan.notes else "")
        )
    return lines


def _follow_pools(
    follower: PoolFollower, watcher: Watcher, adapters: dict[str, ChainAdapter]
) -> tuple[Unfollowed, ...]:
    """The operator's look at its pools' swap logs; a swap it cannot follow is said loudly
    (stderr, the log, and the tick's JSON), never skipped in silence. A node that does not
    answer is reported and retried next tick (the follower's cursors stay where they were):
    it must never end the watcher, which is what claims every swap in's foreign lock."""
    name, etm = etm_side(adapters)
    try:
        pools = operator_pools(adapters)
        report = follower.follow(pools, chain_of(name, etm), int(time.time()))
    except EtmBridgeError as exc:
        click.echo(f"operator: following the pools failed ({exc}), retrying", err=True)
        return ()
    for swap_id in report.created:
        click.echo(f"operator: following pool swap {swap_id}", err=True)
    for u in report.unfollowed:
        click.echo(f"operator: CANNOT FOLLOW pool swap {u.swap_id} ({u.asset}): {u.reason}",
                   err=True)  # fmt: skip
    if isinstance(watcher.gateway, NodeExchange):
        _relay_continuously(watcher.gateway)
    return report.unfollowed


def _relay_continuously(gateway: NodeExchange) -> None:
    """Keep the ETM relays fresh every tick, not only when a proof needs them: ETM refuses lock
    proofs against a relay tip older than its max_lag_s (a stale relay would stretch time), and
    users' engines wait for the Ethereum relay, which only trusted keys may feed."""
    for chain, name, relay in (
        ("btc", "Bitcoin", gateway.relay_bitcoin),
        ("eth", "Ethereum", gateway.relay_trusted),
    ):
        try:
            sent = relay()
        except EtmBridgeError as exc:  # e.g. our key is not a trusted relayer: report, go on
            click.echo(f"operator: {name} relay failed ({exc}), retrying", err=True)
        else:
            if sent:
                click.echo(f"operator: relayed {sent} {name} headers to ETM ({chain})", err=True)


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
    config = get_config()
    adapters = open_adapters(config)
    run(
        make_watcher(config, adapters, operator),
        adapters,
        operator,
        ticks,
        interval,
        status_every,
        as_json,
    )


def run(
    watcher: Watcher, adapters: dict[str, ChainAdapter], operator: bool, ticks: int | None,
    interval: float, status_every: int, as_json: bool, after_tick: Callable[[], object] = bool,
) -> None:  # fmt: skip
    """Tick ``watcher`` until ``ticks`` (or Ctrl-C), printing; ``after_tick`` runs after each
    tick (``etm-bridge stack operator`` mines a regtest block there)."""
    watcher.start()
    follower = PoolFollower(watcher.store, etm_side(adapters)[1]) if operator else None
    n = 0
    try:
        while ticks is None or n < ticks:
            n += 1
            unfollowed = () if follower is None else _follow_pools(follower, watcher, adapters)
            report = watcher.tick()
            line = _report_json(n, report, unfollowed) if as_json else _report_text(n, report)
            if line:
                click.echo(line)
            if not as_json and status_every and n % status_every == 0:
                for progress in _progress(watcher):
                    click.echo(progress)
            after_tick()
            if ticks is None or n < ticks:
                time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        watcher.stop()
