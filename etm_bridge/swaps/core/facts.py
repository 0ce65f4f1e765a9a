"""Which fact, if any, moves a swap out of its state: one function per state (pure).

Each ``on_<state>(rec, view, now_s)`` looks at one
:class:`~etm_bridge.swaps.core.views.SwapView` and returns the :class:`Observed` event the
chains show for a swap in that state (reorgs first, then claims, then the happy path, then
expiries), or None. The state specs (:mod:`.states`) name each state's function;
:func:`etm_bridge.swaps.core.events.next_event` dispatches through them.

Counterparty locks are checked against our terms before anything acts on them (as Boltz's
lockup checks do): a failed check is an event (``LOCK_MISMATCH`` /
``COUNTER_LOCK_MISMATCH``) with a typed :class:`~etm_bridge.adapter.MismatchReason`.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import HashlockError
from ...hashlock import check_preimage
from .fsm import Event, Role, SwapState
from .model import ActionKind, DepKind, Outcome, SwapRecord
from .views import LegView, ProofStatus, SwapView, static_mismatches

E, S = Event, SwapState


@dataclass(frozen=True)
class Observed:
    """An event with what explains it (a typed reason for failures, the extracted preimage)."""

    event: Event
    detail: str = ""
    preimage: bytes | None = None


def _gone(rec: SwapRecord, view: SwapView, kind: DepKind, seen: bool) -> bool:
    """A fact the state rests on was undone: its recorded block left the best chain, or it
    was never mined (no block recorded) and is no longer seen. A fact that is not seen while
    its recorded block is still the best chain's is NOT gone: the adapter cannot see it (e.g.
    it scans from a birth height above it), which ``observe`` reports as an error."""
    if kind in view.removed:
        return True
    return not seen and not any(ref.kind is kind for ref in rec.depends_on)


def _spend_gone(rec: SwapRecord, view: SwapView, kind: DepKind, leg: LegView, done: bool) -> bool:
    """Like :func:`_gone` for a claim or refund: without a recorded block, the spend is undone
    only if its lock is still seen, unspent that way; a lock not seen at all is no evidence."""
    return _gone(rec, view, kind, done or leg.lock is None)


def _user_lock_gone(rec: SwapRecord, view: SwapView) -> bool:
    return _gone(rec, view, DepKind.USER_LOCK, view.user.lock is not None)


def _counter_lock_gone(rec: SwapRecord, view: SwapView) -> bool:
    return _gone(rec, view, DepKind.COUNTER_LOCK, view.counter.lock is not None)


def _mismatch(rec: SwapRecord, view: SwapView, counter: bool) -> str | None:
    leg_terms = rec.terms.counter_leg if counter else rec.terms.user_leg
    leg = view.counter if counter else view.user
    if leg.lock is None:
        return None
    problems = static_mismatches(leg.lock, leg_terms.htlc_terms(rec.terms.hashlock), leg.chain)
    return f"{problems[0][0].value}: {problems[0][1]}" if problems else None


def _lock_intent_live(rec: SwapRecord) -> bool:
    """We wrote a lock intent that was not rejected: funds may be on their way."""
    return any(
        i.result is None or i.result.outcome is not Outcome.REJECTED
        for i in rec.intents_of(ActionKind.LOCK_USER_LEG)
    )


def on_created(rec: SwapRecord, view: SwapView, now_s: int) -> Observed | None:
    if view.user.lock is not None:
        reason = _mismatch(rec, view, counter=False)
        if reason:
            return Observed(E.LOCK_MISMATCH, reason)
        return Observed(E.USER_LOCK_SEEN, f"lock {view.user.lock.lock_id}")
    if now_s > rec.terms.lock_deadline_s and not _lock_intent_live(rec):
        return Observed(E.QUOTE_EXPIRED, f"no lock by {rec.terms.lock_deadline_s}")
    return None


def _expired(view: SwapView) -> Observed | None:
    """A lock passed its timelock unclaimed (refundable now, or already refunded while we
    were not looking)."""
    for name, leg in (("user", view.user), ("counter", view.counter)):
        if (leg.refundable or leg.refunded) and leg.lock is not None:
            height = leg.lock.terms.timelock_height
            return Observed(E.LOCK_EXPIRED, f"{name} lock passed timelock {height}")
    return None


def _counter_claimed(rec: SwapRecord, view: SwapView) -> Observed | None:
    spend = view.counter.spend
    if not view.counter.claimed or spend is None or spend.preimage is None:
        return None
    try:
        check_preimage(spend.preimage, rec.terms.hashlock)
    except HashlockError:
        return None  # not our secret: ignore, never act on it
    return Observed(E.COUNTER_LOCK_CLAIMED, f"claim {spend.txid}", spend.preimage)


def on_user_locked(rec: SwapRecord, view: SwapView, now_s: int) -> Observed | None:
    if _user_lock_gone(rec, view):
        return Observed(E.USER_LOCK_REORGED)
    if view.user.confirmations >= rec.terms.user_leg.confirmations:
        return Observed(E.USER_LOCK_CONFIRMED, f"{view.user.confirmations} confirmations")
    return _expired(view)


def on_lock_confirmed(rec: SwapRecord, view: SwapView, now_s: int) -> Observed | None:
    if _user_lock_gone(rec, view):
        return Observed(E.USER_LOCK_REORGED)
    if rec.state is S.PROOF_SUBMITTED and DepKind.PROOF in view.removed:
        return Observed(E.PROOF_REORGED)
    if view.counter.lock is not None:
        return Observed(E.COUNTER_LOCK_SEEN, f"lock {view.counter.lock.lock_id}")
    if view.proof is not None and view.proof.status is ProofStatus.REJECTED:
        return Observed(E.PROOF_REJECTED, view.proof.reason or "proof rejected")
    if rec.state is S.LOCK_CONFIRMED and view.proof and view.proof.status is ProofStatus.ACCEPTED:
        return Observed(E.PROOF_ACCEPTED)
    return _expired(view)


def on_etm_locked(rec: SwapRecord, view: SwapView, now_s: int) -> Observed | None:
    if _user_lock_gone(rec, view):
        return Observed(E.USER_LOCK_REORGED)
    if view.counter.lock is not None:
        return Observed(E.COUNTER_LOCK_SEEN, f"lock {view.counter.lock.lock_id}")
    return _expired(view)


def on_counter_locked(rec: SwapRecord, view: SwapView, now_s: int) -> Observed | None:
    if _counter_lock_gone(rec, view):
        return Observed(E.COUNTER_LOCK_REORGED)
    if _user_lock_gone(rec, view):
        return Observed(E.USER_LOCK_REORGED, "user_lock_reorged_after_counter_lock")
    claimed = _counter_claimed(rec, view)
    if claimed:
        return claimed
    reason = _mismatch(rec, view, counter=True)
    if reason:
        return Observed(E.COUNTER_LOCK_MISMATCH, reason)
    return _expired(view)


def on_secret_revealed(rec: SwapRecord, view: SwapView, now_s: int) -> Observed | None:
    spend = view.user.spend
    if spend is not None and view.user.claimed:
        return Observed(E.USER_LOCK_CLAIMED, f"claim {spend.txid}")
    if spend is not None and view.user.refunded:
        return Observed(E.USER_LOCK_REFUNDED, f"refund {spend.txid}")
    return None


def on_failed(rec: SwapRecord, view: SwapView, now_s: int) -> Observed | None:
    return _counter_claimed(rec, view) or _expired(view)


def on_expired(rec: SwapRecord, view: SwapView, now_s: int) -> Observed | None:
    claimed = _counter_claimed(rec, view)
    if claimed:
        return claimed
    if view.user.claimed:
        return Observed(E.USER_LOCK_CLAIMED, "user lock claimed after the counter leg expired")
    own = own_leg(rec, view)
    if own.lock is None or own.refunded:
        return Observed(E.OWN_LOCKS_REFUNDED, f"{own.chain} lock refunded" if own.lock else "")
    return None


def own_leg(rec: SwapRecord, view: SwapView) -> LegView:
    """The leg whose lock this party made: the user's lock or the operator's counter lock.
    A party's swap is over once its own funds are back; the other party's lock is theirs to
    refund (waiting for it would leave our swap open forever if they vanished)."""
    return view.user if rec.role is Role.USER else view.counter


def on_claimed_both(rec: SwapRecord, view: SwapView, now_s: int) -> Observed | None:
    if _spend_gone(rec, view, DepKind.CLAIM, view.user, view.user.claimed):
        return Observed(E.CLAIM_REORGED)
    return None


def on_refunded(rec: SwapRecord, view: SwapView, now_s: int) -> Observed | None:
    own = own_leg(rec, view)
    if _spend_gone(rec, view, DepKind.REFUND, own, own.refunded):
        return Observed(E.REFUND_REORGED)
    return None


def on_forfeited(rec: SwapRecord, view: SwapView, now_s: int) -> Observed | None:
    if view.counter.claimed:  # came from SECRET_REVEALED: the user lock was refunded
        gone = _spend_gone(rec, view, DepKind.REFUND, view.user, view.user.refunded)
        return Observed(E.REFUND_REORGED) if gone else None
    gone = _spend_gone(rec, view, DepKind.CLAIM, view.user, view.user.claimed)
    return Observed(E.CLAIM_REORGED) if gone else None


def on_cancelled(rec: SwapRecord, view: SwapView, now_s: int) -> Observed | None:
    return None
