"""``swap explain``: the worst-case timeline of both legs and what can be done now.

Pure: a function of the record, the current view (None when the nodes cannot be reached: the
timeline is then given from the terms alone) and the policy's plan. Heights are each leg's own
chain; wall times are estimates from each chain's nominal block time.
"""

from __future__ import annotations

from typing import Any

from ...hashlock import seconds_left
from .fsm import POINT_OF_NO_RETURN
from .model import LegTerms, SwapRecord
from .policy import ActionPlan
from .states import TERMINAL, progress_rank
from .views import LegView, SwapView


def _leg(name: str, terms: LegTerms, leg: LegView | None, now_s: int) -> dict[str, Any]:
    lock = leg.lock if leg else None
    timelock = lock.terms.timelock_height if lock else terms.timelock_height
    out: dict[str, Any] = {
        "leg": name,
        "chain": terms.chain,
        "amount": terms.amount,
        "timelock_height": timelock,
        "confirmations_required": terms.confirmations,
        "locked": lock is not None,
    }
    if leg is None:
        return out
    left_s = seconds_left(timelock, leg.tip_height, leg.block_time_s) if timelock else None
    out.update(
        tip_height=leg.tip_height,
        confirmations=leg.confirmations,
        spent=None if leg.spend is None else leg.spend.kind.value,
        blocks_left=max(0, timelock - leg.tip_height) if timelock else None,
        seconds_left=left_s,
        refund_possible_from_s=None if left_s is None else now_s + left_s,
    )
    return out


def timeline(
    rec: SwapRecord, view: SwapView | None, plan: ActionPlan | None, now_s: int
) -> dict[str, Any]:
    """A JSON-ready explanation of ``rec`` (see the module docstring)."""
    t = rec.terms
    user = _leg("user (long)", t.user_leg, view.user if view else None, now_s)
    counter = _leg("counter (short)", t.counter_leg, view.counter if view else None, now_s)
    reveal_by = counter["timelock_height"] - t.reveal_margin_blocks
    worst = [
        f"if nobody acts, the user's {t.user_leg.chain} lock refunds to the user after height "
        f"{user['timelock_height']}",
        f"the counter lock on {t.counter_leg.chain} refunds to the operator after height "
        f"{counter['timelock_height'] or '(set when it is made)'}",
    ]
    if counter["timelock_height"]:
        worst.append(
            f"the secret is revealed only before {t.counter_leg.chain} height {reveal_by} "
            f"({t.reveal_margin_blocks} blocks of margin); later, both sides refund"
        )
    past = progress_rank(rec.state) >= progress_rank(POINT_OF_NO_RETURN)
    return {
        "swap_id": rec.swap_id,
        "role": rec.role.value,
        "direction": t.direction.value,
        "state": rec.state.value,
        "finished": rec.state in TERMINAL,
        "failure": rec.failure,
        "past_point_of_no_return": past,
        "legs": [user, counter],
        "reveal_deadline_height": reveal_by if counter["timelock_height"] else None,
        "worst_case": worst,
        "actions_now": [a.kind.value for a in plan.actions] if plan else [],
        "waiting_for": list(plan.notes) if plan else [],
        "observed": view is not None,
    }
