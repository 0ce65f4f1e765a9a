"""Cancelling a swap before anything is locked, and saying when a lock can be refunded (use
cases): ``swap cancel ID`` and the refund time every refusal names.

:func:`cancel_swap` moves a swap from ``created`` to ``cancelled`` (the table's
``user_cancelled`` event, :mod:`etm_bridge.swaps.core.fsm`) only while nothing of this party is
locked: the swap is ``created``, no lock of its leg was sent (an intent without a result, or one
the node accepted, may be on chain), and the chain shows no lock with the swap's hashlock
refunding to us (a stranger's lock with it changes nothing of ours). A pool swap in's bonded
intent on ETM (issue 15) is cancelled on chain first (``xchg_swap_intent_cancel``, waited
for): the pool's reservation is released and the bond comes back less the charge for the
blocks it was held; if the node refuses, the swap stays ``created``. It
holds the database's watcher lock while it checks and writes, so a running ``watch`` cannot lock
in between (it refuses while ``watch`` runs: stop it first). ``cancelled`` is terminal: the
watcher never acts on the swap again.

Once a lock exists, the refusal says what happens instead: the watcher refunds it after its
timelock, at a height and in about so many minutes (:func:`refund_when`, from the chain's tip
and its block time).
"""

from __future__ import annotations

from ..errors import SwapError, TxRejectedError
from ..swaps.core.bond import is_pool_swap_in_user
from ..swaps.core.events import apply_event
from ..swaps.core.facts import Observed
from ..swaps.core.fsm import Event, Role, SwapState
from ..swaps.core.model import ActionKind, LegTerms, Outcome, SwapRecord
from ..swaps.core.states import TERMINAL
from ..swaps.runtime.execute import cancel_bonded_intent
from .context import AppContext
from .durations import duration_text

#: The lock each role makes: the user the long leg, the operator the counter leg.
_OUR_LOCK = {Role.USER: ActionKind.LOCK_USER_LEG, Role.OPERATOR: ActionKind.LOCK_COUNTER_LEG}


def our_leg(rec: SwapRecord) -> LegTerms:
    """The leg this party locks (and refunds)."""
    return rec.terms.user_leg if rec.role is Role.USER else rec.terms.counter_leg


def refund_time(timelock_height: int, tip_height: int, block_time_s: int) -> str:
    """When a lock with ``timelock_height`` can be refunded, seen at ``tip_height``."""
    left = timelock_height - tip_height
    if left <= 0:
        return f"refund possible now (timelock height {timelock_height} reached)"
    return (
        f"refund possible after height {timelock_height} (now {tip_height}), in "
        f"about {duration_text(left * block_time_s)}"
    )


def refund_when(ctx: AppContext, rec: SwapRecord) -> str:
    """When this party's lock of ``rec`` can be refunded, from its chain's tip now."""
    leg = our_leg(rec)
    adapter = ctx.adapter(leg.chain)
    text = refund_time(leg.timelock_height, adapter.tip().height, adapter.info().block_time_s)
    return f"{leg.chain} {text}"


def sent_lock(rec: SwapRecord) -> str | None:
    """The txid (or "pending") of a lock of our leg that may be on chain, else None."""
    for intent in rec.intents:
        if intent.kind is not _OUR_LOCK[rec.role]:
            continue
        if intent.result is None:
            return "pending"
        if intent.result.outcome is not Outcome.REJECTED:
            return intent.result.txid or intent.result.outcome.value
    return None


def _refuse_locked(ctx: AppContext, rec: SwapRecord, what: str) -> SwapError:
    return SwapError(
        f"swap {rec.swap_id} cannot be cancelled: {what}. Keep `etm-bridge watch` running: it "
        f"refunds the lock, {refund_when(ctx, rec)}"
    )


def _cancel_intent(ctx: AppContext, rec: SwapRecord) -> None:
    """Cancel our bonded intent for the swap's hashlock, if ETM holds one (a pool swap in),
    as the engine does once a swap ends without a proof (:func:`cancel_bonded_intent`)."""
    if not is_pool_swap_in_user(rec):
        return  # not a pool swap in (its counter leg is refunded to the pool's pseudo-key)
    ex = ctx.exchange()
    if ex.swap_intent(rec.terms.hashlock) is None:
        return  # a direct swap, or cancelled already (a crash before the record was saved)
    try:
        cancel_bonded_intent(ex, rec.terms.hashlock)
    except TxRejectedError as exc:
        raise SwapError(
            f"swap {rec.swap_id}: ETM refused to cancel its swap intent ({exc.reason}: "
            f"{exc.detail}); the swap is not cancelled, try again"
        ) from None


def cancel_swap(ctx: AppContext, swap_id: str) -> SwapRecord:
    """Cancel ``swap_id`` before anything is locked (see the module docstring); the record."""
    store = ctx.store()
    rec = store.get(swap_id)
    if rec.state in TERMINAL:
        raise SwapError(f"swap {swap_id} has already ended ({rec.state.value}): nothing to cancel")
    if rec.state is not SwapState.CREATED:
        raise _refuse_locked(ctx, rec, f"it is {rec.state.value}, its lock is on chain")
    adapter = ctx.adapter(our_leg(rec).chain)  # a bad chain table fails before the lock
    with store.acquire_watcher_lock(f"swap cancel {swap_id}"):
        rec = store.get(swap_id)  # as the last watcher left it
        if rec.state is not SwapState.CREATED:
            raise _refuse_locked(ctx, rec, f"it is {rec.state.value}, its lock is on chain")
        sent = sent_lock(rec)
        if sent is not None:
            raise _refuse_locked(ctx, rec, f"its {our_leg(rec).chain} lock was sent ({sent})")
        ours = our_leg(rec).refund_key  # a stranger's lock with our hashlock is not ours
        if any(lock.terms.refund_key == ours for lock in adapter.find_locks(rec.terms.hashlock)):
            raise _refuse_locked(ctx, rec, f"its lock is on {our_leg(rec).chain}")
        _cancel_intent(ctx, rec)
        new, log = apply_event(rec, Observed(Event.USER_CANCELLED, "swap cancel"), ctx.now())
        store.save(new, [log])
    return new
