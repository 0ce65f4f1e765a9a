"""Watching swaps (use cases): the watcher of a party, the pool operator's tick, the loop.

- :func:`open_watcher`: the watcher over every leg of the party's config (or the injected
  adapters), with the ETM exchange when ETM is configured; a pool ``operator`` also feeds the
  relays only trusted relayers may feed.
- :func:`operator_tick`: what the pool operator does each tick besides the watcher: follow
  every swap its pools opened (:class:`~etm_bridge.swaps.runtime.operator.PoolFollower`) and
  keep every relay it may feed fresh (ETM refuses lock proofs against a stale relay). A node
  that does not answer is reported and retried next tick, never the end of the loop: the
  operator's watcher is what claims every swap in's foreign lock.
- :func:`open_watcher_patiently`: :func:`open_watcher`, retried with backoff while a node it
  needs to open an adapter does not answer (said once per outage, never the end of ``watch``).
- :func:`run`: tick until told to stop (or, ``until_done``, until no swap is open), handing
  each tick's reports to the caller to render.
- :func:`progress`: per open swap, its confirmations and blocks left before each refund (a swap
  whose node does not answer is left out this time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import EtmBridgeError
from ..swaps.core.pool_terms import LegChain, PoolInfo, Unfollowed
from ..swaps.core.states import TERMINAL
from ..swaps.core.views import LegView
from ..swaps.runtime.operator import PoolFollower
from ..swaps.runtime.watcher import NODE_DOWN, TickReport, Watcher, WatcherConfig
from .context import AppContext
from .swaps import leg_chain, operator_chain_of

log = logging.getLogger(__name__)

#: what a caller renders: a tick's report, a leg's view, a swap the operator cannot follow
__all__ = [
    "LegView", "OperatorReport", "ProgressRow", "TickReport", "Unfollowed", "Watcher",
    "follower", "open_watcher", "operator_pools", "operator_tick", "progress", "run",
]  # fmt: skip


@dataclass(frozen=True)
class OperatorReport:
    """One look at the pools: swaps now followed, swaps that cannot be, chains relayed,
    and what failed (each retried next tick)."""

    created: tuple[str, ...] = ()
    unfollowed: tuple[Unfollowed, ...] = ()
    relayed: tuple[tuple[str, int], ...] = ()  # (chain, headers sent)
    failures: tuple[str, ...] = ()  # one line each


@dataclass(frozen=True)
class ProgressRow:
    swap_id: str
    state: str
    user: LegView
    counter: LegView
    user_confirmations: int
    counter_confirmations: int
    note: str | None


def open_watcher(
    ctx: AppContext,
    *,
    operator: bool = False,
    chains: Iterable[str] | None = None,
    config: WatcherConfig | None = None,
    owner: str | None = None,
) -> Watcher:
    """The party's watcher (not started) over ``chains`` (default: every leg), with the ETM
    exchange when ETM is one of them; ``operator``: the pool operator's."""
    adapters = ctx.adapters(chains)
    etm = ctx.etm_name_or_none()
    gateway = ctx.exchange(trusted_relayer=operator) if etm in adapters else None
    return Watcher(
        ctx.store(),
        adapters,
        gateway=gateway,
        owner=owner,
        config=config or WatcherConfig(policy=ctx.policy),
        clock=ctx.clock,
    )


def open_watcher_patiently(
    ctx: AppContext,
    say: Callable[[str], None],
    *,
    operator: bool = False,
    backoff_max_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Watcher:
    """:func:`open_watcher`, retried while a node does not answer: ``say`` hears once that it
    is unreachable (and when it answers again); the wait doubles up to ``backoff_max_s``."""
    delay, outage = 1.0, False
    while True:
        try:
            watcher = open_watcher(ctx, operator=operator)
        except NODE_DOWN as exc:
            if not outage:
                say(f"waiting for the nodes: {exc}; retrying in {delay:.0f} s, then with backoff")
                outage = True
            sleep(delay)
            delay = min(delay * 2, backoff_max_s)
            continue
        if outage:
            say("every node answers again")
        return watcher


def open_swaps(watcher: Watcher) -> int:
    """How many swaps the watcher holds that have not ended."""
    return sum(rec.state not in TERMINAL for rec in watcher.records.values())


def operator_pools(ctx: AppContext) -> dict[str, tuple[PoolInfo, LegChain]]:
    """The pools whose claim key is one of our foreign keys: asset -> (pool, its leg, sized at
    the slower of its nominal and its recent block rate: :func:`.swaps.operator_chain_of`)."""
    etm = ctx.etm_name()
    ours = {}
    for pool in ctx.exchange().pools():
        for name in ctx.chains():
            if name != etm and ctx.adapter(name).our_key() == pool.claim_key:
                ours[pool.asset] = (pool, operator_chain_of(name, ctx.adapter(name)))
    return ours


def follower(ctx: AppContext) -> PoolFollower:
    return PoolFollower(ctx.store(), ctx.exchange(trusted_relayer=True))


def operator_tick(ctx: AppContext, pool_follower: PoolFollower) -> OperatorReport:
    """Follow the pools' new swaps, then feed every relay we may feed (see the module)."""
    failures: list[str] = []
    created: tuple[str, ...] = ()
    unfollowed: tuple[Unfollowed, ...] = ()
    try:
        pools = operator_pools(ctx)
        report = pool_follower.follow(pools, leg_chain(ctx, ctx.etm_name()), ctx.now())
        created, unfollowed = report.created, report.unfollowed
    except EtmBridgeError as exc:
        failures.append(f"following the pools failed ({exc})")
        return OperatorReport(failures=tuple(failures))
    relayed = []
    exchange = ctx.exchange(trusted_relayer=True)
    for chain in exchange.relayed_chains():
        try:  # e.g. our key is not a trusted relayer: report, go on
            relayed.append((chain, exchange.relay_chain(chain)))
        except EtmBridgeError as exc:
            failures.append(f"{chain} relay failed ({exc})")
    return OperatorReport(created, unfollowed, tuple(relayed), tuple(failures))


def run(
    ctx: AppContext,
    watcher: Watcher,
    *,
    operator: bool,
    ticks: int | None,
    interval_s: float,
    on_tick: Callable[[int, TickReport, OperatorReport | None], None],
    after_tick: Callable[[], object] = bool,
    until_done: bool = False,
) -> None:
    """Tick ``watcher`` until ``ticks`` (or Ctrl-C, which propagates after the watcher's lock
    is released; or, ``until_done``, until no swap is open), calling ``on_tick(n, report,
    operator report)`` after each tick and ``after_tick()`` (the local stack mines a regtest
    block there)."""
    watcher.start()
    pools = follower(ctx) if operator else None
    n = 0
    try:
        while ticks is None or n < ticks:
            n += 1
            op = None if pools is None else operator_tick(ctx, pools)
            on_tick(n, watcher.tick(), op)
            after_tick()
            if until_done and open_swaps(watcher) == 0:
                break
            if ticks is None or n < ticks:
                time.sleep(interval_s)
    finally:
        watcher.stop()


def progress(watcher: Watcher) -> list[ProgressRow]:
    """Each open swap's confirmations and time left on both legs (asks the nodes)."""
    rows = []
    for rec in watcher.records.values():
        if rec.state in TERMINAL:
            continue
        try:
            _, obs, plan = watcher.inspect(rec)
        except NODE_DOWN:  # the tick said so; this row waits for the node
            continue
        u, c = obs.view.user, obs.view.counter
        note = plan.notes[0] if plan.notes else None
        need_u, need_c = rec.terms.user_leg.confirmations, rec.terms.counter_leg.confirmations
        rows.append(ProgressRow(rec.swap_id, rec.state.value, u, c, need_u, need_c, note))
    return rows
