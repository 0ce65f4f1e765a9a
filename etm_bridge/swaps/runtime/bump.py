"""The engine step that bumps our unconfirmed claims and refunds (the decision is pure:
``core/bumps.py``; the broadcast is the adapter's FEE_BUMPS capability).

Each revision is recorded like every other broadcast: an intent of the spend's own kind (a
claim's bump is a ``claim_counter`` / ``claim_user_lock`` intent, a refund's a ``refund_*``
one) is saved **before** the adapter broadcasts, its result (the live txid, the rate and
method in ``detail``) after. A crash in between leaves an intent without a result, which the
policy resolves from the chain (``policy._recover``: the chain shows the spend, whichever
revision is live, so it is recorded as found and never re-broadcast as a second spend). Every
revision spends the same lock output, so no two of them can both confirm, and the adapter pays
each to the spend's own destination.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from ...adapter import Capability, ChainAdapter
from ...errors import EtmBridgeError, LockNotFoundError
from ..core.bumps import BumpConfig, PendingSpend, pending_spends, plan_bump
from ..core.model import Intent, IntentResult, Outcome, SwapRecord
from ..core.policy import intent_key
from ..core.views import SwapView
from .observe import adapter_for

log = logging.getLogger(__name__)

Save = Callable[[SwapRecord, str], SwapRecord]


def bump_spends(
    rec: SwapRecord,
    view: SwapView,
    adapters: Mapping[str, ChainAdapter],
    cfg: BumpConfig,
    now: int,
    save: Save,
) -> tuple[SwapRecord, list[str]]:
    """Bump every pending spend of ``rec`` that is due; returns the record and one outcome
    per bump broadcast or refused. ``save(rec, point)`` persists and returns the record."""
    outcomes = []
    for pending in pending_spends(rec, view, cfg):
        adapter = adapter_for(adapters, pending.leg.chain)
        if not adapter.supports(Capability.FEE_BUMPS):
            continue
        rec, outcome = _bump_one(rec, pending, adapter, cfg, now, save)
        if outcome:
            outcomes.append(outcome)
    return rec, outcomes


def _bump_one(
    rec: SwapRecord,
    pending: PendingSpend,
    adapter: ChainAdapter,
    cfg: BumpConfig,
    now: int,
    save: Save,
) -> tuple[SwapRecord, str]:
    lock, spend = pending.leg.lock, pending.leg.spend
    assert lock is not None and spend is not None  # pending_spends saw both
    try:
        fee = adapter.spend_fee(lock, spend)
    except LockNotFoundError:
        return rec, ""  # mined (or gone) since the observation: next tick sees it
    plan = plan_bump(fee, pending.blocks_left, cfg)
    if plan is None:
        return rec, ""
    key = intent_key(rec, pending.kind)
    rec = save(rec.with_intent(Intent(key, pending.kind, pending.leg.chain, now)), "bump_intent")
    try:
        bumped = adapter.bump_spend(lock, spend, plan.rate, plan.method)
        result = IntentResult(Outcome.BROADCAST, bumped.txid, f"fee bump: {plan.reason}", now)
    except EtmBridgeError as exc:  # a node that is down propagates: the intent stays pending
        result = IntentResult(Outcome.REJECTED, None, f"fee bump refused: {exc}", now)
    log.info("swap %s: %s -> %s", rec.swap_id, plan.reason, result.outcome.value)
    rec = save(rec.with_result(key, result), "bump_result")
    return rec, f"bump {result.outcome.value}"
