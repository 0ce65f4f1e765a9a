"""Reading the chains for one swap: adapters -> :class:`~etm_bridge.swaps.core.views.SwapView`.

The I/O half of the engine's eyes (the pure half is ``views``/``events``). Each leg is served by
the adapter registered under the leg's chain name; observations are re-labelled with that name
(an adapter reports its own chain id, e.g. two fake chains both say ``"fake"``), so the core
compares like with like. The ETM-side facts that are not HTLC facts (the SPV relay tip, the
status of a proof) come from a :class:`~etm_bridge.swaps.core.ports.SwapGateway`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ...adapter import ChainAdapter, HtlcLock, HtlcSpend
from ...errors import ChainError, ConfigError, ScanRangeError
from ..core.bond import intent_holds, reads_intent
from ..core.fsm import Role, SwapDirection, SwapState
from ..core.model import ActionKind, BlockRef, DepKind, SwapRecord
from ..core.ports import SwapGateway
from ..core.states import SPECS, Leg
from ..core.views import LegView, SwapView, pick_lock


@dataclass(frozen=True)
class Observation:
    """A view plus the adapters' own objects, which the executor hands back to them."""

    view: SwapView
    user_lock: HtlcLock | None  # as the adapter returned it
    counter_lock: HtlcLock | None
    partial: bool = False  # the counter leg was not read (see skips_counter_leg)


def header_digest(adapter: ChainAdapter, height: int) -> str | None:
    """sha256 of the raw header at ``height`` on the adapter's best chain (None above tip)."""
    found = adapter.headers(height, 1)
    return hashlib.sha256(found[0]).hexdigest() if found else None


def adapter_for(adapters: Mapping[str, ChainAdapter], chain: str) -> ChainAdapter:
    try:
        return adapters[chain]
    except KeyError:
        raise ConfigError(
            f"no adapter for chain {chain!r}; configured: {', '.join(sorted(adapters))}"
        ) from None


def _leg(
    adapter: ChainAdapter,
    chain: str,
    rec: SwapRecord,
    counter: bool,
    tip: int,
    now_s: int = 0,
    finality: bool = False,
) -> tuple[LegView, HtlcLock | None]:
    terms = rec.terms.counter_leg if counter else rec.terms.user_leg
    expected = terms.htlc_terms(rec.terms.hashlock)
    raw = adapter.find_locks(rec.terms.hashlock)
    if terms.lock_id is not None:  # a pinned leg follows its one lock, never a look-alike
        raw = [lock for lock in raw if lock.lock_id == terms.lock_id]
    relabelled = [replace(lock, chain=chain) for lock in raw]
    lock = pick_lock(relabelled, expected, chain)
    original: HtlcLock | None = None
    spend: HtlcSpend | None = None
    if lock is not None:
        original = raw[relabelled.index(lock)]
        spend = adapter.find_spend(original)
    block_time = adapter.info().block_time_s
    final = adapter.finalized_height() if finality and lock is not None else None
    return LegView(chain, tip, block_time, lock, spend, now_s, final), original


def common_relay_tip(gateway: SwapGateway, adapter: ChainAdapter, chain: str) -> int:
    """The highest height at which the ETM relay's best chain and the adapter's agree: after a
    reorg the relay may be on the losing branch, and a proof against it would be rejected."""
    height = min(gateway.relay_tip(chain), adapter.tip().height)
    while height > 0:
        ours = adapter.headers(height, 1)
        if ours and gateway.relay_header_at(chain, height) == ours[0]:
            break
        height -= 1
    return height


def removed_deps(rec: SwapRecord, adapters: Mapping[str, ChainAdapter]) -> frozenset[DepKind]:
    """Dependencies whose block is no longer the best chain's block at that height."""
    gone = set()
    for ref in rec.depends_on:
        if header_digest(adapter_for(adapters, ref.chain), ref.height) != ref.header_sha256_hex:
            gone.add(ref.kind)
    return frozenset(gone)


def _fact_seen(kind: DepKind, leg: LegView) -> bool:
    if kind in (DepKind.USER_LOCK, DepKind.COUNTER_LOCK):
        return leg.lock is not None
    if kind is DepKind.CLAIM:
        return leg.claimed
    if kind is DepKind.REFUND:
        return leg.refunded
    return True  # the proof is an ETM fact, judged by the gateway


def check_recorded_facts_seen(
    rec: SwapRecord, view: SwapView, adapters: Mapping[str, ChainAdapter]
) -> None:
    """Raise if a fact whose recorded block is still on the best chain is not seen.

    Only a block leaving the best chain is a reorg; "not found" with the block in place means
    the adapter cannot see the fact (typically a ``birth_height`` above it). Moving the swap
    backwards on that would undo finished swaps, so the swap is left as it is and the gap is
    reported: :class:`ScanRangeError` naming the scan start, or :class:`ChainError`."""
    for ref in rec.depends_on:
        if ref.kind in view.removed:
            continue
        leg = view.user if ref.chain == view.user.chain else view.counter
        if _fact_seen(ref.kind, leg):
            continue
        start = adapter_for(adapters, ref.chain).scan_start_height()
        what = f"{ref.chain} {ref.kind.value} of swap {rec.swap_id} at height {ref.height}"
        if start > ref.height:
            raise ScanRangeError(
                f"the {what} is below the adapter's scan range (birth_height {start}); "
                f"configure birth_height <= {ref.height} for {ref.chain} (not a reorg: the "
                "block is still on the best chain, the swap keeps its state)"
            )
        raise ChainError(
            f"the {ref.chain} adapter does not show the {what} although that block is still on "
            "the best chain; not treated as a reorg, the swap keeps its state"
        )


def skips_counter_leg(rec: SwapRecord) -> bool:
    """True when ``observe`` need not read the counter leg for ``rec``'s state: its spec does
    not observe it (no counter lock can exist yet) and we did not act on its chain."""
    spec = SPECS[rec.state]
    return Leg.COUNTER not in spec.observes and not rec.intents_of_chain(
        rec.terms.counter_leg.chain
    )


def needs_finality(rec: SwapRecord) -> bool:
    """The operator decides on the counter lock in a state that reads the user leg's
    finalized height (ETM_LOCKED); ``observe`` reads it only then."""
    return rec.role is Role.OPERATOR and SPECS[rec.state].reads_finality


def observe(
    rec: SwapRecord,
    adapters: Mapping[str, ChainAdapter],
    tips: Mapping[str, int],
    gateway: SwapGateway | None,
    now_s: int = 0,
    censored: Mapping[str, tuple[tuple[str, str], ...]] | None = None,
) -> Observation:
    """Everything the core needs about ``rec`` now (raises if a node is unreachable).

    Only what the state can react to is read (each read is a node round trip): before a user
    lock is confirmed, no counter lock can exist yet, so the counter leg is not queried unless
    we already acted on it; the proof status only while a proof is due; the user leg's
    finalized height only while the operator decides whether to lock the counter leg.
    ``now_s`` (unix) dates the view, for locks with wall-clock deadlines. ``censored``: chain ->
    (tx id, message) of our transactions suspected censored there (the watcher's last
    ``check_inclusion``), put into each leg's view."""
    t = rec.terms
    user_chain, counter_chain = t.user_leg.chain, t.counter_leg.chain
    user_adapter = adapter_for(adapters, user_chain)
    finality = needs_finality(rec)
    user_view, user_lock = _leg(
        user_adapter, user_chain, rec, False, tips[user_chain], now_s, finality
    )
    counter_adapter = adapter_for(adapters, counter_chain)
    partial = skips_counter_leg(rec)
    if partial:
        block_time = counter_adapter.info().block_time_s
        counter_view = LegView(counter_chain, tips[counter_chain], block_time, now_s=now_s)
        counter_lock = None
    else:
        counter_view, counter_lock = _leg(
            counter_adapter, counter_chain, rec, True, tips[counter_chain], now_s
        )
    proof = None
    swap_in = t.direction is SwapDirection.FOREIGN_TO_ETM
    if gateway is not None and swap_in and SPECS[rec.state].reads_proof:
        proof = gateway.proof_view(rec, common_relay_tip(gateway, user_adapter, user_chain))
    intent_live = False
    if gateway is not None and reads_intent(rec):
        intent_live = intent_holds(gateway.swap_intent(t.hashlock), tips[counter_chain])
    if censored:
        user_view = replace(user_view, censored=censored.get(user_chain, ()))
        counter_view = replace(counter_view, censored=censored.get(counter_chain, ()))
    view = SwapView(user_view, counter_view, proof, removed_deps(rec, adapters), intent_live)
    check_recorded_facts_seen(rec, view, adapters)
    return Observation(view, user_lock, counter_lock, partial)


def wanted_refs(rec: SwapRecord, view: SwapView) -> list[tuple[DepKind, str, int]]:
    """(kind, chain, height) of the blocks ``rec.state`` rests on (its spec's ``deps``), as far
    as they are mined."""
    u, c = view.user, view.counter
    deps = SPECS[rec.state].deps
    want: list[tuple[DepKind, str, int | None]] = []
    if DepKind.USER_LOCK in deps and u.lock is not None:
        want.append((DepKind.USER_LOCK, u.chain, u.lock.block_height))
    if DepKind.COUNTER_LOCK in deps and c.lock is not None:
        want.append((DepKind.COUNTER_LOCK, c.chain, c.lock.block_height))
    if DepKind.CLAIM in deps and u.spend and u.claimed:
        want.append((DepKind.CLAIM, u.chain, u.spend.block_height))
    if DepKind.REFUND in deps:
        # REFUNDED rests on our own lock's refund; FORFEITED (from SECRET_REVEALED) on the
        # user lock's refund
        own = u if rec.role is Role.USER or rec.state is SwapState.FORFEITED else c
        if own.spend is not None and own.refunded:
            want.append((DepKind.REFUND, own.chain, own.spend.block_height))
    return [(k, ch, h) for k, ch, h in want if h is not None]


def settled(rec: SwapRecord, tips: Mapping[str, int], depth_blocks: int) -> bool:
    """True when ``rec`` ended and every block its end rests on has ``depth_blocks``
    confirmations or more: reorgs deeper than that are not followed, so the swap needs no more
    observing (each look costs node round trips, and an adapter born above its locks would
    only report them missing). ``depth_blocks`` <= 0 never settles."""
    if depth_blocks <= 0 or not SPECS[rec.state].terminal or not rec.depends_on:
        return False
    if reads_intent(rec) and rec.intents_of(ActionKind.CANCEL_INTENT):
        return False  # a cancel of our bonded intent is pending or was refused: retry it
    return all(
        ref.chain in tips and tips[ref.chain] - ref.height + 1 >= depth_blocks
        for ref in rec.depends_on
    )


def refreshed_refs(
    rec: SwapRecord, view: SwapView, adapters: Mapping[str, ChainAdapter]
) -> tuple[BlockRef, ...]:
    """The dependency list for ``rec`` now: kept where unchanged, re-read where new."""
    refs: list[BlockRef] = []
    for kind, chain, height in wanted_refs(rec, view):
        old = next(
            (r for r in rec.depends_on if (r.kind, r.chain, r.height) == (kind, chain, height)),
            None,
        )
        if old is not None:
            refs.append(old)
            continue
        digest = header_digest(adapter_for(adapters, chain), height)
        if digest is not None:
            refs.append(BlockRef(kind, chain, height, digest))
    return tuple(refs)
