"""From observations to events: which fact, if any, moves a swap out of its current state.

:func:`next_event` asks the swap's state spec (:data:`~etm_bridge.swaps.core.states.SPECS`) for
the one event the chains show in that state (its ``next_event``, :mod:`.facts`) and returns it
if the table accepts it in the swap's direction, or None. :func:`apply_event` runs the
transition table and returns the new record and a :class:`Transition` for the log. The watcher
calls them in a loop until no event is left.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...hashlock import check_preimage
from .facts import Observed
from .fsm import Event, SwapState, allowed_events, transition
from .model import DepKind, SwapRecord
from .states import SPECS
from .views import SwapView

E, S = Event, SwapState

__all__ = ["REORG_DROPS", "Observed", "Transition", "apply_event", "next_event"]


@dataclass(frozen=True)
class Transition:
    """One row of a swap's transition log."""

    swap_id: str
    from_state: SwapState
    event: Event
    to_state: SwapState
    detail: str
    at_s: int


def next_event(rec: SwapRecord, view: SwapView, now_s: int) -> Observed | None:
    """The event the chains show for ``rec`` now, or None. Only events the table accepts in
    ``rec.state`` for the swap's direction are returned."""
    found = SPECS[rec.state].next_event(rec, view, now_s)
    if found is None or found.event not in allowed_events(rec.terms.direction, rec.state):
        return None
    return found


REORG_DROPS: dict[Event, DepKind] = {
    E.USER_LOCK_REORGED: DepKind.USER_LOCK,
    E.PROOF_REORGED: DepKind.PROOF,
    E.COUNTER_LOCK_REORGED: DepKind.COUNTER_LOCK,
    E.CLAIM_REORGED: DepKind.CLAIM,
    E.REFUND_REORGED: DepKind.REFUND,
}


def apply_event(rec: SwapRecord, seen: Observed, now_s: int) -> tuple[SwapRecord, Transition]:
    """Run the table; learn the preimage, record a failure reason, forget reorged blocks."""
    new_state = transition(rec.terms.direction, rec.state, seen.event)
    preimage = rec.preimage
    if seen.preimage is not None:
        check_preimage(seen.preimage, rec.terms.hashlock)
        preimage = preimage or seen.preimage
    failure = (seen.detail or seen.event.value) if new_state is S.FAILED else rec.failure
    dropped = REORG_DROPS.get(seen.event)
    refs = tuple(r for r in rec.depends_on if r.kind is not dropped)
    new = replace(
        rec,
        state=new_state,
        preimage=preimage,
        failure=failure,
        depends_on=refs,
        version=rec.version + 1,
        updated_at_s=now_s,
    )
    log = Transition(rec.swap_id, rec.state, seen.event, new_state, seen.detail, now_s)
    return new, log
