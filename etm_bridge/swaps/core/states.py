"""One spec per swap state, beside the transition table: a state is one unit of change.

The transition table (:mod:`.fsm`) says where each event leads. :data:`SPECS` says, for each
:class:`~.fsm.SwapState`, everything else the engine does in it (Lightning Loop keeps a state's
moves and its action together in ``fsm.State``):

- ``rank``: how far along a swap is (non-reorg transitions never lower it); ``terminal``: only a
  reorg event leaves it;
- ``observes``: the legs ``observe`` reads (the counter leg is also read whenever an intent on
  its chain exists), ``reads_proof``: the ETM view of a swap in's proof and the relay tip (a
  foreign -> ETM swap), ``reads_finality``: the user leg's finalized height, for the operator
  (who locks the counter leg only on a final ETM lock);
- ``waits_on``: the events the table accepts in it, either direction;
- ``deps``: the blocks the state rests on (recorded as block dependencies; a reorg of one fires
  the matching reorg event);
- ``user_actions`` / ``operator_actions``: what the policy may do in it for each role (crash
  recovery aside: a pending intent is settled or re-issued in any state);
- ``next_event``: the function that reads the chains' facts for it (:mod:`.facts`);
- ``summary``: one line for ``swap explain`` and the docs.

``tests/unit/swaps/test_swap_states.py`` checks that every state has exactly one spec and
that the specs agree with the table and with the policy. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from . import facts
from .facts import Observed
from .fsm import Event, SwapState
from .model import ActionKind, DepKind, SwapRecord
from .views import SwapView

S, E, A, D = SwapState, Event, ActionKind, DepKind


class Leg(StrEnum):
    USER = "user"
    COUNTER = "counter"


@dataclass(frozen=True)
class StateSpec:
    """What the engine does in one state (see the module docstring)."""

    state: SwapState
    rank: int
    terminal: bool
    observes: frozenset[Leg]
    reads_proof: bool
    reads_finality: bool
    waits_on: frozenset[Event]
    deps: frozenset[DepKind]
    user_actions: frozenset[ActionKind]
    operator_actions: frozenset[ActionKind]
    next_event: Callable[[SwapRecord, SwapView, int], Observed | None]
    summary: str


def _spec(
    state: SwapState,
    rank: int,
    observes: Iterable[Leg],
    waits_on: Iterable[Event],
    next_event: Callable[[SwapRecord, SwapView, int], Observed | None],
    summary: str,
    *,
    deps: Iterable[DepKind] = (),
    user: Iterable[ActionKind] = (),
    operator: Iterable[ActionKind] = (),
    terminal: bool = False,
    reads_proof: bool = False,
    reads_finality: bool = False,
) -> StateSpec:
    return StateSpec(
        state, rank, terminal, frozenset(observes), reads_proof, reads_finality,
        frozenset(waits_on), frozenset(deps), frozenset(user), frozenset(operator), next_event,
        summary,
    )  # fmt: skip


U, C = Leg.USER, Leg.COUNTER
BOTH = {U, C}

_ALL: tuple[StateSpec, ...] = (
    _spec(
        S.CREATED, 0, {U}, {E.USER_LOCK_SEEN, E.LOCK_MISMATCH, E.QUOTE_EXPIRED, E.USER_CANCELLED},
        facts.on_created, "terms agreed, nothing locked yet",
        user={A.LOCK_USER_LEG},
    ),
    _spec(
        S.USER_LOCKED, 1, {U}, {E.USER_LOCK_CONFIRMED, E.LOCK_EXPIRED, E.USER_LOCK_REORGED},
        facts.on_user_locked, "the user's foreign lock is seen, waiting for its confirmations",
        deps={D.USER_LOCK},
    ),
    _spec(
        S.LOCK_CONFIRMED, 2, BOTH,
        {E.PROOF_ACCEPTED, E.PROOF_REJECTED, E.COUNTER_LOCK_SEEN, E.LOCK_EXPIRED,
         E.USER_LOCK_REORGED},
        facts.on_lock_confirmed, "the user's lock is confirmed: relay headers, prove it to ETM",
        deps={D.USER_LOCK}, user={A.RELAY_HEADERS, A.SUBMIT_PROOF},
        operator={A.RELAY_HEADERS, A.SUBMIT_PROOF}, reads_proof=True,
    ),
    _spec(
        S.PROOF_SUBMITTED, 3, BOTH,
        {E.COUNTER_LOCK_SEEN, E.PROOF_REJECTED, E.LOCK_EXPIRED, E.USER_LOCK_REORGED,
         E.PROOF_REORGED},
        facts.on_lock_confirmed, "ETM accepted the proof, waiting for its counter lock",
        deps={D.USER_LOCK}, user={A.RELAY_HEADERS}, operator={A.RELAY_HEADERS},
        reads_proof=True,
    ),
    _spec(
        S.ETM_LOCKED, 1, BOTH, {E.COUNTER_LOCK_SEEN, E.LOCK_EXPIRED, E.USER_LOCK_REORGED},
        facts.on_etm_locked, "the user's ETM lock is seen: the operator locks the counter leg",
        deps={D.USER_LOCK}, operator={A.LOCK_COUNTER_LEG}, reads_finality=True,
    ),
    _spec(
        S.COUNTER_LOCKED, 4, BOTH,
        {E.COUNTER_LOCK_CLAIMED, E.COUNTER_LOCK_MISMATCH, E.LOCK_EXPIRED, E.USER_LOCK_REORGED,
         E.COUNTER_LOCK_REORGED},
        facts.on_counter_locked, "the counter lock is on chain: the user claims it (reveals)",
        deps={D.USER_LOCK, D.COUNTER_LOCK}, user={A.CLAIM_COUNTER},
    ),
    _spec(
        S.SECRET_REVEALED, 7, BOTH, {E.USER_LOCK_CLAIMED, E.USER_LOCK_REFUNDED},
        facts.on_secret_revealed, "the secret is public: the operator claims the user's lock",
        user={A.REFUND_USER_LOCK}, operator={A.CLAIM_USER_LOCK},
    ),
    _spec(
        S.FAILED, 5, BOTH, {E.LOCK_EXPIRED, E.COUNTER_LOCK_CLAIMED},
        facts.on_failed, "cannot complete: each side refunds its lock at its timelock",
        user={A.REFUND_USER_LOCK}, operator={A.REFUND_COUNTER},
    ),
    _spec(
        S.EXPIRED, 6, BOTH, {E.OWN_LOCKS_REFUNDED, E.COUNTER_LOCK_CLAIMED, E.USER_LOCK_CLAIMED},
        facts.on_expired, "a lock passed its timelock: refunds are due",
        user={A.REFUND_USER_LOCK}, operator={A.REFUND_COUNTER},
    ),
    _spec(
        S.CLAIMED_BOTH, 8, BOTH, {E.CLAIM_REORGED},
        facts.on_claimed_both, "both locks claimed: the swap completed",
        deps={D.CLAIM}, terminal=True,
    ),
    _spec(
        S.REFUNDED, 8, BOTH, {E.REFUND_REORGED},
        facts.on_refunded, "every lock this party made came back to it",
        deps={D.REFUND}, terminal=True, user={A.CANCEL_INTENT},
    ),
    _spec(
        S.FORFEITED, 8, BOTH, {E.CLAIM_REORGED, E.REFUND_REORGED},
        facts.on_forfeited, "one side got both legs: the other missed its deadline",
        deps={D.CLAIM, D.REFUND}, terminal=True,
    ),
    _spec(
        S.CANCELLED, 8, BOTH, (), facts.on_cancelled,
        "ended before anything was locked", terminal=True, user={A.CANCEL_INTENT},
    ),
)  # fmt: skip

#: The one spec of each state, read-only.
SPECS: Mapping[SwapState, StateSpec] = MappingProxyType({spec.state: spec for spec in _ALL})

#: States with no way forward (only a reorg event can leave them).
TERMINAL: frozenset[SwapState] = frozenset(s for s, spec in SPECS.items() if spec.terminal)

#: Terminal states in which no party lost funds to a missed deadline.
SAFE_TERMINAL: frozenset[SwapState] = TERMINAL - {S.FORFEITED}


def progress_rank(state: SwapState) -> int:
    """How far along a swap is; non-reorg transitions never lower it."""
    return SPECS[state].rank
