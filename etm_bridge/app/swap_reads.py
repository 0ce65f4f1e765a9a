"""Looking at swaps and acting on one by hand (use cases): ``swap list|status|explain|claim|
refund``.

``claim`` and ``refund`` drive one swap through the same policy and guards as the watcher (the
user reveals the secret only if the reveal guard allows) and refuse while a watcher holds the
swap database.
"""

from __future__ import annotations

from typing import Any

from ..errors import SwapError
from ..swaps.core.codec import public_view
from ..swaps.core.explain import timeline
from ..swaps.core.fsm import Role, SwapState
from ..swaps.core.model import ActionKind, SwapRecord
from .context import AppContext
from .recover_direct import UNPAYABLE
from .swap_cancel import refund_when, sent_lock
from .swaps import amount_field, display_amount, terms_json
from .watch import open_watcher

CLAIMS = frozenset({ActionKind.CLAIM_COUNTER, ActionKind.CLAIM_USER_LOCK})
REFUNDS = frozenset({ActionKind.REFUND_USER_LOCK, ActionKind.REFUND_COUNTER})


def summary(ctx: AppContext, rec: SwapRecord) -> dict[str, Any]:
    """One swap in a line: who, which way, where it is, what each side gives (``gives`` /
    ``gets`` for people; ``*_base_units`` as integer strings for scripts, as 18-decimal units
    exceed 2**53)."""
    u, c = rec.terms.user_leg, rec.terms.counter_leg
    return {
        "gives_base_units": str(u.amount),
        "gets_base_units": str(c.amount),
        "swap_id": rec.swap_id,
        "hashlock": rec.terms.hashlock.hex(),  # ties a pool operator's record to the user's
        "role": rec.role.value,
        "direction": rec.terms.direction.value,
        "state": rec.state.value,
        "failure": rec.failure,
        "gives": display_amount(ctx, u.chain, u.amount) + f" on {u.chain}",
        "gets": "nothing: refund only (rebuilt by `swap recover` before the reveal)"
        if c.amount == UNPAYABLE
        else display_amount(ctx, c.chain, c.amount) + f" on {c.chain}",
        "updated_at_s": rec.updated_at_s,
    }


def list_swaps(ctx: AppContext) -> list[dict[str, Any]]:
    """Every swap in the party's database, oldest first."""
    return [summary(ctx, rec) for rec in ctx.store().list_swaps()]


def swap_status(ctx: AppContext, swap_id: str) -> tuple[SwapRecord, dict[str, Any]]:
    """The record and its public view (no preimage) with the transition log."""
    store = ctx.store()
    rec = store.get(swap_id)
    log = [
        {"from": t.from_state.value, "event": t.event.value, "to": t.to_state.value,
         "detail": t.detail, "at_s": t.at_s}
        for t in store.transitions(swap_id)
    ]  # fmt: skip
    return rec, {**public_view(rec), "terms": terms_json(rec.terms, ctx), "transitions": log}


def explain(ctx: AppContext, swap_id: str, *, offline: bool = False) -> dict[str, Any]:
    """The worst-case timeline of both legs and what can be done now (from the terms alone
    when ``offline``)."""
    rec = ctx.store().get(swap_id)
    view = plan = None
    if not offline:
        chains = [rec.terms.user_leg.chain, rec.terms.counter_leg.chain]
        rec, obs, plan = open_watcher(ctx, chains=chains).inspect(rec)
        view = obs.view
    data = timeline(rec, view, plan, ctx.now())
    for leg in data["legs"]:  # amounts as strings of base units plus a display string
        leg["amount"] = amount_field(ctx, leg["chain"], int(leg["amount"]))
    return data


def fee_chain(rec: SwapRecord, verb: str) -> str:
    """The chain whose transaction a ``claim`` or ``refund`` of ``rec`` builds: the user claims
    the counter leg and refunds its own; the operator (or direct counterparty) the reverse."""
    t = rec.terms
    ours_is_user = rec.role is Role.USER
    return t.counter_leg.chain if (verb == "claim") == ours_is_user else t.user_leg.chain


def _act(
    ctx: AppContext,
    swap_id: str,
    kinds: frozenset[ActionKind],
    verb: str,
    fee_rate: int | None = None,
) -> list[dict]:
    rec = ctx.store().get(swap_id)
    watcher = open_watcher(ctx, chains=[rec.terms.user_leg.chain, rec.terms.counter_leg.chain])
    # the user's own rate (--fee-rate), checked now against the ceiling and the node's relay
    # minimum (a chain that sets its own fees refuses any rate) before anything is sent
    with ctx.adapter(fee_chain(rec, verb)).paying(fee_rate):
        watcher.start()  # refuses while `etm-bridge watch` holds the database
        try:
            if fee_rate is not None and verb == "refund":
                watcher.set_fee_rate(swap_id, fee_rate)  # later automatic refunds keep it
            rec, done, notes = watcher.drive(swap_id, kinds)
        finally:
            watcher.stop()
    if not done:
        why = "; ".join(notes) or rec.state.value
        if verb == "refund" and (rec.state is not SwapState.CREATED or sent_lock(rec)):
            why = f"{why}; {refund_when(ctx, rec)}"  # the time, not only the height
        elif verb == "refund":
            why = f"nothing is locked yet: cancel it with `etm-bridge swap cancel {swap_id}`"
        raise SwapError(f"swap {swap_id}: nothing to {verb} now ({why})")
    return [{"action": kind.value, "outcome": outcome} for _, kind, outcome in done]


def claim(ctx: AppContext, swap_id: str, fee_rate: int | None = None) -> list[dict]:
    """Claim now (the user reveals the secret only if the guard allows); ``fee_rate``: the
    user's own rate for the claim instead of the estimate."""
    return _act(ctx, swap_id, CLAIMS, "claim", fee_rate)


def refund(ctx: AppContext, swap_id: str, fee_rate: int | None = None) -> list[dict]:
    """Refund our lock now (only once its timelock allows); ``fee_rate``: the user's own rate,
    kept in the swap's record for any later refund of it."""
    return _act(ctx, swap_id, REFUNDS, "refund", fee_rate)
