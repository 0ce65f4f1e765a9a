"""When the engine cancels a pool swap in's bonded intent on ETM (issue 15 leftover; pure).

A pool swap in records an intent on ETM before the user locks (``xchg_swap_intent``): the
pool's output is reserved against a bond. The proof ends it (the bond comes back); if the swap
ends without a proof, the intent would hold the reservation until it expires and then forfeit
the whole bond to the LPs. So once the swap is over on the user's side the engine cancels it
(``xchg_swap_intent_cancel``: the reservation is released, the bond comes back less the charge
for the blocks held) -- the :attr:`~.model.ActionKind.CANCEL_INTENT` action, written as an
engine intent like every broadcast, so a crash neither forgets nor repeats it.

:func:`cancel_refusal` is the guard. The cancel is due only when all of these hold:

- this party is the **user** of a **pool swap in** (its counter leg refunds to a pool's key);
- the swap is **terminal** where its spec lists the cancel (:func:`cancels_in`): ``refunded``
  (every lock of ours came back) or ``cancelled`` (ended before anything was locked);
- the user's lock is **refunded** on chain, or **provably dead**: no lock of ours on chain and
  no lock intent that the node did not reject (a sent lock may still confirm);
- **no proof**: no counter lock (the pool's HTLC to us) seen, no accepted proof seen;
- ETM shows our intent **live** (``SwapView.intent_live``, read only where this may be due).

A cancel after the proof is refused by the chain anyway (the proof consumed the intent:
``no_swap_intent``), and such a refusal, like any "already gone", ends the cancel quietly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .fsm import Role, SwapDirection, SwapState
from .model import ActionKind, Outcome, SwapRecord
from .states import SPECS
from .views import ProofStatus, SwapView


def cancels_in(state: SwapState) -> bool:
    """``state`` is one where the user's intent is cancelled: its spec lists the action
    (``refunded`` and ``cancelled``; the other terminal states end with a proof)."""
    return ActionKind.CANCEL_INTENT in SPECS[state].user_actions


def is_pool_swap_in_user(rec: SwapRecord) -> bool:
    """``rec`` is the user's side of a pool swap in (the one that holds a bonded intent)."""
    from .pool_terms import pool_asset_of  # pool_terms imports policy, which imports us

    return (
        rec.role is Role.USER
        and rec.terms.direction is SwapDirection.FOREIGN_TO_ETM
        and pool_asset_of(rec.terms.counter_leg.refund_key) is not None
    )


def cancel_done(rec: SwapRecord) -> bool:
    """A cancel of ours went through (or found the intent gone already)."""
    return any(
        i.result is not None and i.result.outcome is not Outcome.REJECTED
        for i in rec.intents_of(ActionKind.CANCEL_INTENT)
    )


def reads_intent(rec: SwapRecord) -> bool:
    """Whether ``observe`` must read our intent's liveness on ETM for ``rec`` now (a round
    trip): only where a cancel may be due or one of ours is pending."""
    return is_pool_swap_in_user(rec) and cancels_in(rec.state) and not cancel_done(rec)


def intent_holds(intent: Mapping[str, Any] | None, etm_tip: int) -> bool:
    """ETM's record of our intent (``swap_intent``) still holds in the next block, at
    ``etm_tip + 1``: an intent holds while the height is at most its ``expiry_height``. An
    expired one is forfeited whatever we send, so it is not cancelled (the fee would be lost)."""
    if intent is None:
        return False
    expiry = intent.get("expiry_height")
    return not isinstance(expiry, int) or isinstance(expiry, bool) or etm_tip + 1 <= expiry


def _lock_maybe_sent(rec: SwapRecord) -> bool:
    return any(
        i.result is None or i.result.outcome is not Outcome.REJECTED
        for i in rec.intents_of(ActionKind.LOCK_USER_LEG)
    )


def cancel_refusal(rec: SwapRecord, view: SwapView) -> str | None:
    """Why the engine must not cancel ``rec``'s bonded intent now; None if it must."""
    if not is_pool_swap_in_user(rec):
        return "not the user of a pool swap in: no bonded intent"
    if not cancels_in(rec.state):
        return f"the swap is {rec.state.value}: the intent is cancelled only once it ended"
    if view.counter.lock is not None or (
        view.proof is not None and view.proof.status is ProofStatus.ACCEPTED
    ):
        return "the lock was proven: the proof ended the intent"
    user = view.user
    if user.lock is not None and not user.refunded:
        return "the user's lock is not refunded"
    if user.lock is None and rec.state is not SwapState.CANCELLED:
        return "the user's lock is not visible"  # refunded, yet gone: wait for it to show
    if user.lock is None and _lock_maybe_sent(rec):
        return "a lock of ours was sent and may still confirm"
    if not view.intent_live:
        return "no live intent on ETM"
    return None
