"""The watcher: one loop over the chain adapters (and the ETM gateway) that drives every swap.

Per tick: renew the single-watcher lease; pick up swaps the CLI created or changed; read each
chain's tip (a node that fails is marked down, retried with exponential backoff and reported,
never fatal); then examine only the swaps that need it:

- swaps that are new, changed, have an intent without a result, or acted last tick;
- on a chain with new blocks: the swaps with a leg there (or, if the adapter declares the
  ``htlc_activity`` capability, only the swaps whose hashlock or lock appears in the new
  blocks; every adapter is told each tracked swap's hashlock through ``watch_hashlock``, which
  scanners that cannot see a lock's hashlock need; a scan that fails falls back to all the
  chain's swaps), plus the swaps whose wake height (a timelock, a confirmation target) was
  reached.

An idle tick therefore costs O(changed swaps), not O(open swaps).

Each tick also asks every adapter that tracks inclusion (:class:`~..core.ports.InclusionWatch`:
the ETM leg on several endpoints) to check its submitted transactions: late ones are re-sent to
every endpoint, and suspected censorship goes into the legs' views (``LegView.censored``), so
the swaps whose transaction it is get a warning note and no secret is revealed through
endpoints that censor us (``policy.reveal_refusal``).

For each examined swap: observe (``observe``), apply events until none is left (``events``),
refresh the block dependencies, ask the policy for a plan (``policy``), and execute it. Every
broadcast is written as an intent first and its result after (``SwapStore.save`` each time); a
crash in between is resolved by the next tick's policy from the chain.
"""

from __future__ import annotations

import heapq
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import requests

from ...adapter import Capability, ChainAdapter
from ...errors import EtmBridgeError, NodeUnavailableError, StaleSwapError
from ..core.bumps import BumpConfig
from ..core.events import REORG_DROPS, Transition, apply_event, next_event
from ..core.fsm import REORG_EVENTS
from ..core.model import ActionKind, IntentResult, Outcome, SwapRecord
from ..core.policy import Action, ActionPlan, PolicyConfig, decide, new_intent
from ..core.ports import InclusionWatch, SwapGateway
from .bump import bump_spends
from .execute import broadcast, relay_headers
from .observe import (
    Observation,
    adapter_for,
    header_digest,
    needs_finality,
    observe,
    refreshed_refs,
    settled,
    skips_counter_leg,
)
from .store import SwapStore, WatcherLock

log = logging.getLogger(__name__)

#: Exceptions that mean "the node did not answer": retried with backoff, never fatal.
NODE_DOWN: tuple[type[BaseException], ...] = (
    NodeUnavailableError,
    ConnectionError,
    TimeoutError,
    requests.RequestException,
)
#: A block scan that fails with one of these falls back to examining every swap on the chain.
SCAN_FAILURES: tuple[type[BaseException], ...] = (*NODE_DOWN, EtmBridgeError)

CrashHook = Callable[[str, SwapRecord], None]


@dataclass(frozen=True)
class WatcherConfig:
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    settle_window_s: int = 86_400  # keep watching ended swaps this long (reorgs)
    settle_depth_blocks: int = 6  # ...unless their last blocks are this deep (0: no limit)
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    lease_s: int = 30
    max_events_per_swap: int = 32
    bumps: BumpConfig = field(default_factory=BumpConfig)  # fee bumps of our claims/refunds


@dataclass
class ChainHealth:
    """Mutable per-chain state of the loop: last tip and the backoff of a failing node."""

    tip: int | None = None
    failures: int = 0
    retry_at: float = 0.0
    last_error: str = ""


@dataclass(frozen=True)
class TickReport:
    new_blocks: Mapping[str, int]
    examined: int
    transitions: tuple[Transition, ...]
    actions: tuple[tuple[str, ActionKind, str], ...]  # (swap_id, kind, outcome)
    down: Mapping[str, str]  # chain -> last error
    errors: Mapping[str, str] = field(default_factory=dict)  # swap id -> error this tick
    #: chains that went down this tick (once per outage) -> seconds until the first retry
    went_down: Mapping[str, float] = field(default_factory=dict)
    came_back: tuple[str, ...] = ()  # chains that answered again this tick, after an outage


class Watcher:
    """Drives the swaps of one database. Call :meth:`start`, then :meth:`tick` or :meth:`run`."""

    def __init__(
        self,
        store: SwapStore,
        adapters: Mapping[str, ChainAdapter],
        *,
        gateway: SwapGateway | None = None,
        owner: str | None = None,
        config: WatcherConfig | None = None,
        clock: Callable[[], float] = time.time,
        crash_hook: CrashHook | None = None,
    ) -> None:
        self.store, self.adapters, self.gateway = store, dict(adapters), gateway
        self.owner = owner or f"watcher-{os.getpid()}"
        self.config = config or WatcherConfig()
        self.clock, self.crash_hook = clock, crash_hook
        self.health = {chain: ChainHealth() for chain in self.adapters}
        self.records: dict[str, SwapRecord] = {}
        self.due: set[str] = set()
        self._wake: dict[str, list[tuple[int, str]]] = {c: [] for c in self.adapters}
        self._scheduled: set[tuple[str, tuple[int, str]]] = set()
        self._on_chain: dict[str, set[str]] = {c: set() for c in self.adapters}
        self._by_hashlock: dict[bytes, set[str]] = {}
        self._tip_digest: dict[str, tuple[int, str | None]] = {}
        self._touched = 0
        self._swap_retry: dict[str, tuple[int, float]] = {}  # swap id -> (failures, retry at)
        #: chain -> (tx id, message) of our transactions suspected censored there
        self.censored: dict[str, tuple[tuple[str, str], ...]] = {}
        self._lock: WatcherLock | None = None
        self._went_down: dict[str, float] = {}  # this tick's outages (see TickReport)
        self._came_back: list[str] = []

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Take the database's watcher lock and load open and recently ended swaps."""
        self._lock = self.store.acquire_watcher_lock(self.owner, self.config.lease_s)
        since = int(self.clock()) - self.config.settle_window_s
        for rec in self.store.recent(since):
            self._track(rec)
        _, self._touched = self.store.changed_since(0)

    def stop(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def run(self, *, interval_s: float = 1.0, max_ticks: int | None = None) -> None:
        """Tick until ``max_ticks`` (forever if None), sleeping ``interval_s`` between ticks."""
        count = 0
        while max_ticks is None or count < max_ticks:
            report = self.tick()
            for chain, error in report.down.items():
                log.warning("chain %s is down: %s (retrying with backoff)", chain, error)
            count += 1
            time.sleep(interval_s)

    # --- one tick -----------------------------------------------------------------------------

    def tick(self) -> TickReport:
        if self._lock is None:
            raise EtmBridgeError("call Watcher.start() before tick()")
        now = self.clock()
        self._lock.renew(int(now))
        self._went_down, self._came_back = {}, []
        self._pick_up_changes()
        new_blocks = self._read_tips(now)
        self._schedule_new_blocks(new_blocks)
        self._check_inclusion(now)
        transitions: list[Transition] = []
        actions: list[tuple[str, ActionKind, str]] = []
        examined, tips = 0, self._tips()
        errors: dict[str, str] = {}
        for swap_id in sorted(self.due):
            rec = self.records.get(swap_id)
            if rec is None or not self._chains_up(rec):
                continue
            if self._swap_retry.get(swap_id, (0, 0.0))[1] > now:
                continue
            self.due.discard(swap_id)
            if settled(rec, tips, self.config.settle_depth_blocks):
                continue  # ended, its blocks buried: nothing left to watch
            examined += 1
            try:
                self._process(rec, int(now), transitions, actions)
            except NODE_DOWN as exc:
                self._mark_down(self._chains(rec), exc, now)
                self.due.add(swap_id)
            except StaleSwapError:
                self.records[swap_id] = self.store.get(swap_id)
                self.due.add(swap_id)
            except EtmBridgeError as exc:  # one swap's trouble never stops the others
                errors[swap_id] = f"{type(exc).__name__}: {exc}"
                log.error("swap %s: %s (retrying with backoff)", swap_id, errors[swap_id])
                self._backoff_swap(swap_id, now)
            else:
                self._swap_retry.pop(swap_id, None)
        down = {c: h.last_error for c, h in self.health.items() if h.failures}
        return TickReport(
            dict(new_blocks), examined, tuple(transitions), tuple(actions), down, errors,
            dict(self._went_down), tuple(self._came_back),
        )  # fmt: skip

    def _backoff_swap(self, swap_id: str, now: float) -> None:
        failures = self._swap_retry.get(swap_id, (0, 0.0))[0] + 1
        delay = min(self.config.backoff_initial_s * 2 ** (failures - 1), self.config.backoff_max_s)
        self._swap_retry[swap_id] = (failures, now + delay)
        self.due.add(swap_id)

    def _pick_up_changes(self) -> None:
        changed, self._touched = self.store.changed_since(self._touched)
        for rec in changed:
            known = self.records.get(rec.swap_id)
            if known is None or known.version != rec.version:
                self._track(rec)

    def _track(self, rec: SwapRecord) -> None:
        """Hold ``rec`` in memory and index it by hashlock and chains; examine it next."""
        self.records[rec.swap_id] = rec
        self.due.add(rec.swap_id)
        self._by_hashlock.setdefault(rec.terms.hashlock, set()).add(rec.swap_id)
        for chain in self._chains(rec):
            self._on_chain.setdefault(chain, set()).add(rec.swap_id)
            adapter = self.adapters.get(chain)
            if adapter is not None:  # a scanner that cannot see a lock's hashlock by itself
                adapter.watch_hashlock(rec.terms.hashlock)  # needs it (no-op for the others)

    def _read_tips(self, now: float) -> dict[str, int]:
        new_blocks: dict[str, int] = {}
        for chain, adapter in self.adapters.items():
            health = self.health[chain]
            if health.retry_at > now:
                continue
            try:
                height = adapter.tip().height
            except NODE_DOWN as exc:
                self._mark_down([chain], exc, now)
                continue
            if health.failures:
                self._came_back.append(chain)
            health.failures, health.retry_at, health.last_error = 0, 0.0, ""
            if health.tip is None or height != health.tip:
                new_blocks[chain] = height
            health.tip = height
        return new_blocks

    def _check_inclusion(self, now: float) -> None:
        """Ask each inclusion-tracking adapter (module docstring); when what is suspected on a
        chain changes, its swaps are examined this tick (warnings, reveal decisions)."""
        for chain, adapter in self.adapters.items():
            if not isinstance(adapter, InclusionWatch) or self.health[chain].failures:
                continue
            try:
                found = tuple((s.tx_id, s.message()) for s in adapter.check_inclusion())
            except NODE_DOWN as exc:
                self._mark_down([chain], exc, now)
                continue
            if found != self.censored.get(chain, ()):
                self.due |= set(self._on_chain.get(chain, ()))  # warnings, reveal decisions
                self.censored[chain] = found

    def _mark_down(self, chains: Iterable[str], exc: BaseException, now: float) -> None:
        for chain in chains:
            health = self.health[chain]
            health.failures += 1
            delay = min(
                self.config.backoff_initial_s * 2 ** (health.failures - 1),
                self.config.backoff_max_s,
            )
            health.retry_at = now + delay
            if health.failures == 1:  # a new outage: said once, not every retry
                self._went_down[chain] = delay
            health.last_error = str(exc) or type(exc).__name__

    def _chains(self, rec: SwapRecord) -> list[str]:
        return [rec.terms.user_leg.chain, rec.terms.counter_leg.chain]

    def _chains_up(self, rec: SwapRecord) -> bool:
        return all(
            c in self.health and self.health[c].tip is not None and not self.health[c].failures
            for c in self._chains(rec)
        )

    def _schedule_new_blocks(self, new_blocks: Mapping[str, int]) -> None:
        for chain, height in new_blocks.items():
            self.due |= self._touched_by_blocks(chain, height)
            wake = self._wake[chain]
            while wake and wake[0][0] <= height:
                entry = heapq.heappop(wake)
                self._scheduled.discard((chain, entry))
                self.due.add(entry[1])

    def _touched_by_blocks(self, chain: str, height: int) -> set[str]:
        """Swaps that new blocks on ``chain`` may concern (see the module docstring). If the
        scan fails, every swap on the chain: examining too many is safe, missing one is not."""
        try:
            return self._scan_new_blocks(chain, height)
        except SCAN_FAILURES as exc:
            log.warning("chain %s: block scan failed (%s); examining its swaps", chain, exc)
            self._tip_digest.pop(chain, None)  # the next scan starts afresh
            return set(self._on_chain.get(chain, ()))

    def _scan_new_blocks(self, chain: str, height: int) -> set[str]:
        adapter = self.adapters[chain]
        everything = set(self._on_chain.get(chain, ()))
        if not adapter.supports(Capability.HTLC_ACTIVITY):
            return everything
        previous = self._tip_digest.get(chain)
        self._tip_digest[chain] = (height, header_digest(adapter, height))
        if previous is None or height <= previous[0]:
            return everything
        if header_digest(adapter, previous[0]) != previous[1]:
            log.warning("chain %s reorganised below height %d", chain, previous[0])
            return everything
        hashlocks = adapter.htlc_activity(previous[0] + 1, height)
        if hashlocks is None:
            return everything
        return {sid for h in hashlocks for sid in self._by_hashlock.get(h, ())}

    # --- one swap -----------------------------------------------------------------------------

    def _tips(self) -> dict[str, int]:
        return {c: h.tip for c, h in self.health.items() if h.tip is not None}

    def drive(
        self, swap_id: str, only: Iterable[ActionKind] | None = None
    ) -> tuple[SwapRecord, list[tuple[str, ActionKind, str]], tuple[str, ...]]:
        """Examine one swap now, as a tick would, executing only the ``only`` action kinds
        (all if None). Returns the record, what was executed and the policy's notes. Used by
        ``swap claim`` / ``swap refund``; needs :meth:`start` (the lock) like :meth:`tick`."""
        if self._lock is None:
            raise EtmBridgeError("call Watcher.start() before drive()")
        now = self.clock()
        self._read_tips(now)
        rec = self.records.get(swap_id) or self.store.get(swap_id)
        transitions: list[Transition] = []
        actions: list[tuple[str, ActionKind, str]] = []
        notes = self._process(rec, int(now), transitions, actions, only=only)
        return self.records[swap_id], actions, notes

    def set_fee_rate(self, swap_id: str, rate: int) -> SwapRecord:
        """Keep the user's own ``rate`` for this swap's lock and refunds (``swap refund
        --fee-rate``), written under the watcher lock like every other change of the record;
        needs :meth:`start`."""
        if self._lock is None:
            raise EtmBridgeError("call Watcher.start() before set_fee_rate()")
        rec = self.records.get(swap_id) or self.store.get(swap_id)
        if rec.fee_rate != rate:
            rec = replace(rec, fee_rate=rate, version=rec.version + 1,
                          updated_at_s=int(self.clock()))  # fmt: skip
            self.store.save(rec)
        self._track(rec)
        return rec

    def inspect(self, rec: SwapRecord) -> tuple[SwapRecord, Observation, ActionPlan]:
        """What the engine would see and plan for ``rec`` now; changes nothing."""
        now = int(self.clock())
        chains = self._chains(rec)
        tips = {c: adapter_for(self.adapters, c).tip().height for c in chains}
        obs = observe(rec, self.adapters, tips, self.gateway, now, self.censored)
        rec, obs, _ = self._apply_events(rec, obs, now)
        return rec, obs, decide(rec, obs.view, now, self.config.policy)

    def _process(
        self,
        rec: SwapRecord,
        now: int,
        transitions: list[Transition],
        actions: list[tuple[str, ActionKind, str]],
        only: Iterable[ActionKind] | None = None,
    ) -> tuple[str, ...]:
        observed_in = rec.state
        obs = observe(rec, self.adapters, self._tips(), self.gateway, now, self.censored)
        rec, obs, moved = self._apply_events(rec, obs, now)
        if (obs.partial and not skips_counter_leg(rec)) or (
            observed_in is not rec.state and needs_finality(rec)
        ):
            # the state moved past what the partial observation covered: look again in full
            # before deciding anything (e.g. never counter-lock without checking for one, nor
            # before the user's ETM lock is final)
            obs = observe(rec, self.adapters, self._tips(), self.gateway, now, self.censored)
            rec, obs, more = self._apply_events(rec, obs, now)
            moved += more
        transitions.extend(moved)
        refs = refreshed_refs(rec, obs.view, self.adapters)
        if refs != rec.depends_on:
            rec = rec.with_refs(refs)
        plan = decide(rec, obs.view, now, self.config.policy)
        for key, result in plan.resolved:
            rec = rec.with_result(key, result)
        if plan.notes != rec.notes:
            rec = replace(rec, notes=plan.notes, version=rec.version + 1)
        self._save(rec, moved, "state_saved")
        rec = self.records[rec.swap_id]
        wanted = None if only is None else frozenset(only)
        for action in plan.actions:
            if wanted is not None and action.kind not in wanted:
                continue
            rec, outcome = self._execute(rec, action, obs, now)
            actions.append((rec.swap_id, action.kind, outcome))
        if wanted is None:  # a claim or refund of ours still unconfirmed: bump it if due
            rec, _ = bump_spends(rec, obs.view, self.adapters, self.config.bumps, now, self._saved)
        for chain, height in plan.wake_heights:
            entry = (height, rec.swap_id)
            if chain in self._wake and (chain, entry) not in self._scheduled:
                self._scheduled.add((chain, entry))  # each wake-up is queued once
                heapq.heappush(self._wake[chain], entry)
        if plan.actions or rec.pending_intents() or moved:
            self.due.add(rec.swap_id)  # look at the effect next tick
        return plan.notes

    def _apply_events(
        self, rec: SwapRecord, obs: Observation, now: int
    ) -> tuple[SwapRecord, Observation, list[Transition]]:
        moved: list[Transition] = []
        view = obs.view
        for _ in range(self.config.max_events_per_swap):
            seen = next_event(rec, view, now)
            if seen is None:
                break
            rec, row = apply_event(rec, seen, now)
            moved.append(row)
            if seen.event in REORG_EVENTS:
                view = replace(view, removed=view.removed - {REORG_DROPS[seen.event]})
        else:
            log.error("swap %s: more than %d events in one tick", rec.swap_id, len(moved))
        return rec, replace(obs, view=view), moved

    def _save(self, rec: SwapRecord, moved: list[Transition], point: str) -> None:
        known = self.records.get(rec.swap_id)
        if known is not None and known.version == rec.version:
            return
        self.store.save(rec, moved)
        self.records[rec.swap_id] = rec
        if self.crash_hook is not None:
            self.crash_hook(point, rec)

    def _saved(self, rec: SwapRecord, point: str) -> SwapRecord:
        self._save(rec, [], point)
        return self.records[rec.swap_id]

    def _execute(
        self, rec: SwapRecord, action: Action, obs: Observation, now: int
    ) -> tuple[SwapRecord, str]:
        if action.kind is ActionKind.RELAY_HEADERS:
            return rec, relay_headers(action, self.adapters, self.gateway)
        if rec.intent(action.key) is None:
            rec = rec.with_intent(new_intent(rec, action, now))
            self._save(rec, [], "intent_saved")  # written BEFORE the broadcast
        try:
            txid = broadcast(rec, action, obs, self.adapters, self.gateway)
            result = IntentResult(Outcome.BROADCAST, txid, action.reason, now)
        except NODE_DOWN:
            raise  # intent stays without result: resolved from the chain next time
        except EtmBridgeError as exc:
            result = IntentResult(Outcome.REJECTED, None, f"{type(exc).__name__}: {exc}", now)
        rec = rec.with_result(action.key, result)
        self._save(rec, [], "result_saved")
        return rec, result.outcome.value
