"""The swap lifecycle as an explicit transition table (after Lightning Loop's ``fsm`` package).

A swap has two legs. The **user** made the secret and locks first, on the *long* leg; the
**operator** (the pool's side) locks the *counter* leg, on the *short* leg, to the user's key with
the same sha256 hashlock. The user claims the counter leg, which reveals the secret on chain;
the operator then claims the user's lock with it. Both roles run this same table: events are
facts about the chains, seen alike by everyone.

Directions:

- ``FOREIGN_TO_ETM``: user locks the foreign asset; once confirmed, anyone submits its SPV proof
  to ETM and the exchange contract locks pool ETM to the user (the counter lock).
- ``ETM_TO_FOREIGN``: user locks ETM; the operator locks the foreign asset to the user's bound
  key.

Everything else the engine does in a state (rank, what it observes and waits on, its actions)
is that state's spec, :data:`etm_bridge.swaps.core.states.SPECS`.

Rules the table encodes (and ``tests/unit/swaps/test_swap_fsm.py`` checks):

- Any (state, event) pair that is not in the table raises :class:`InvalidTransitionError`.
- :data:`POINT_OF_NO_RETURN` is :attr:`SwapState.SECRET_REVEALED`: from there on the swap can only
  end claimed (or forfeited by whoever misses a deadline); it is never refunded "safely". The
  guard that refuses to cross it lives in :mod:`etm_bridge.swaps.core.policy`.
- Status only moves forward (:func:`~.states.progress_rank` never decreases) except on the
  explicit reorg events in :data:`REORG_EVENTS`, each of which undoes exactly the state that
  depended on the removed block.
- Every non-terminal state can reach a terminal state without reorgs (funds safety: there is
  always a path to claimed or refunded).
- One event is not a fact about the chains: :attr:`Event.USER_CANCELLED`, the party's own
  ``swap cancel``, accepted only in :attr:`SwapState.CREATED` (nothing locked yet). The use case
  (:mod:`etm_bridge.app.swap_cancel`) also checks that no lock was sent or is on chain.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from ...errors import InvalidTransitionError


class SwapDirection(StrEnum):
    """Which way value flows, seen from the user."""

    FOREIGN_TO_ETM = "foreign_to_etm"
    ETM_TO_FOREIGN = "etm_to_foreign"


class Role(StrEnum):
    """Which side of the swap this engine acts for."""

    USER = "user"  # made the preimage, locks the long leg, claims the counter leg
    OPERATOR = "operator"  # the pool's side: locks the counter leg, claims the user's lock


class SwapState(StrEnum):
    CREATED = "created"  # terms agreed, nothing locked yet
    USER_LOCKED = "user_locked"  # user's foreign lock seen and matching terms (foreign->ETM)
    LOCK_CONFIRMED = "lock_confirmed"  # ... with the required confirmations
    PROOF_SUBMITTED = "proof_submitted"  # its SPV proof was accepted by the ETM node
    ETM_LOCKED = "etm_locked"  # user's ETM lock seen and matching terms (ETM->foreign)
    COUNTER_LOCKED = "counter_locked"  # the operator's counter lock is on chain
    SECRET_REVEALED = "secret_revealed"  # the counter lock was claimed: the preimage is public
    CLAIMED_BOTH = "claimed_both"  # both locks claimed: the swap completed
    FAILED = "failed"  # cannot complete (reason recorded); locks wait for their timelocks
    EXPIRED = "expired"  # a lock passed its timelock unclaimed; refunds are due
    REFUNDED = "refunded"  # every lock this party made has been refunded to it
    CANCELLED = "cancelled"  # ended before anything was locked
    FORFEITED = "forfeited"  # one side got both legs because the other missed its deadline


class Event(StrEnum):
    USER_LOCK_SEEN = "user_lock_seen"
    LOCK_MISMATCH = "lock_mismatch"  # user's lock fails the terms (typed reason in the log)
    USER_LOCK_CONFIRMED = "user_lock_confirmed"
    PROOF_ACCEPTED = "proof_accepted"
    PROOF_REJECTED = "proof_rejected"
    COUNTER_LOCK_SEEN = "counter_lock_seen"
    COUNTER_LOCK_MISMATCH = "counter_lock_mismatch"
    COUNTER_LOCK_CLAIMED = "counter_lock_claimed"  # preimage extracted from the claim
    USER_LOCK_CLAIMED = "user_lock_claimed"
    LOCK_EXPIRED = "lock_expired"  # some lock of the swap passed its timelock unclaimed
    OWN_LOCKS_REFUNDED = "own_locks_refunded"  # every lock this party made came back to it
    USER_LOCK_REFUNDED = "user_lock_refunded"  # after the counter leg was claimed
    QUOTE_EXPIRED = "quote_expired"  # nothing locked before the deadline
    USER_CANCELLED = "user_cancelled"  # `swap cancel`: the party's own decision, nothing locked
    # reorgs: a block the current state depends on left the best chain
    USER_LOCK_REORGED = "user_lock_reorged"
    PROOF_REORGED = "proof_reorged"
    COUNTER_LOCK_REORGED = "counter_lock_reorged"
    CLAIM_REORGED = "claim_reorged"  # the claim of the user's lock
    REFUND_REORGED = "refund_reorged"


S, E = SwapState, Event

#: Revealing the secret (claiming the counter lock) cannot be undone.
POINT_OF_NO_RETURN = S.SECRET_REVEALED

REORG_EVENTS: frozenset[Event] = frozenset(
    {
        E.USER_LOCK_REORGED,
        E.PROOF_REORGED,
        E.COUNTER_LOCK_REORGED,
        E.CLAIM_REORGED,
        E.REFUND_REORGED,
    }
)

# Shared tail: from the counter lock on, both directions behave the same.
_TAIL: dict[tuple[SwapState, Event], SwapState] = {
    (S.COUNTER_LOCKED, E.COUNTER_LOCK_CLAIMED): S.SECRET_REVEALED,
    (S.COUNTER_LOCKED, E.COUNTER_LOCK_MISMATCH): S.FAILED,
    (S.COUNTER_LOCKED, E.LOCK_EXPIRED): S.EXPIRED,
    (S.COUNTER_LOCKED, E.USER_LOCK_REORGED): S.FAILED,
    (S.SECRET_REVEALED, E.USER_LOCK_CLAIMED): S.CLAIMED_BOTH,
    (S.SECRET_REVEALED, E.USER_LOCK_REFUNDED): S.FORFEITED,
    (S.FAILED, E.LOCK_EXPIRED): S.EXPIRED,
    (S.FAILED, E.COUNTER_LOCK_CLAIMED): S.SECRET_REVEALED,
    (S.EXPIRED, E.OWN_LOCKS_REFUNDED): S.REFUNDED,
    (S.EXPIRED, E.COUNTER_LOCK_CLAIMED): S.SECRET_REVEALED,
    (S.EXPIRED, E.USER_LOCK_CLAIMED): S.FORFEITED,
    (S.CREATED, E.QUOTE_EXPIRED): S.CANCELLED,
    (S.CREATED, E.USER_CANCELLED): S.CANCELLED,
    # reorgs of the final spends
    (S.CLAIMED_BOTH, E.CLAIM_REORGED): S.SECRET_REVEALED,
    (S.REFUNDED, E.REFUND_REORGED): S.EXPIRED,
    (S.FORFEITED, E.REFUND_REORGED): S.SECRET_REVEALED,
    (S.FORFEITED, E.CLAIM_REORGED): S.EXPIRED,
}

_FOREIGN_TO_ETM: dict[tuple[SwapState, Event], SwapState] = {
    (S.CREATED, E.USER_LOCK_SEEN): S.USER_LOCKED,
    (S.CREATED, E.LOCK_MISMATCH): S.FAILED,
    (S.USER_LOCKED, E.USER_LOCK_CONFIRMED): S.LOCK_CONFIRMED,
    (S.USER_LOCKED, E.LOCK_EXPIRED): S.EXPIRED,
    (S.USER_LOCKED, E.USER_LOCK_REORGED): S.CREATED,
    (S.LOCK_CONFIRMED, E.PROOF_ACCEPTED): S.PROOF_SUBMITTED,
    (S.LOCK_CONFIRMED, E.PROOF_REJECTED): S.FAILED,
    (S.LOCK_CONFIRMED, E.COUNTER_LOCK_SEEN): S.COUNTER_LOCKED,  # someone else's proof won
    (S.LOCK_CONFIRMED, E.LOCK_EXPIRED): S.EXPIRED,
    (S.LOCK_CONFIRMED, E.USER_LOCK_REORGED): S.CREATED,
    (S.PROOF_SUBMITTED, E.COUNTER_LOCK_SEEN): S.COUNTER_LOCKED,
    (S.PROOF_SUBMITTED, E.PROOF_REJECTED): S.FAILED,
    (S.PROOF_SUBMITTED, E.LOCK_EXPIRED): S.EXPIRED,
    (S.PROOF_SUBMITTED, E.USER_LOCK_REORGED): S.CREATED,
    (S.PROOF_SUBMITTED, E.PROOF_REORGED): S.LOCK_CONFIRMED,
    (S.COUNTER_LOCKED, E.COUNTER_LOCK_REORGED): S.PROOF_SUBMITTED,
    **_TAIL,
}

_ETM_TO_FOREIGN: dict[tuple[SwapState, Event], SwapState] = {
    (S.CREATED, E.USER_LOCK_SEEN): S.ETM_LOCKED,
    (S.CREATED, E.LOCK_MISMATCH): S.FAILED,
    (S.ETM_LOCKED, E.COUNTER_LOCK_SEEN): S.COUNTER_LOCKED,
    (S.ETM_LOCKED, E.LOCK_EXPIRED): S.EXPIRED,
    (S.ETM_LOCKED, E.USER_LOCK_REORGED): S.CREATED,
    (S.COUNTER_LOCKED, E.COUNTER_LOCK_REORGED): S.ETM_LOCKED,
    **_TAIL,
}

#: The transition tables, read-only.
TABLES: Mapping[SwapDirection, Mapping[tuple[SwapState, Event], SwapState]] = MappingProxyType(
    {
        SwapDirection.FOREIGN_TO_ETM: MappingProxyType(_FOREIGN_TO_ETM),
        SwapDirection.ETM_TO_FOREIGN: MappingProxyType(_ETM_TO_FOREIGN),
    }
)


def transition(direction: SwapDirection, state: SwapState, event: Event) -> SwapState:
    """The state after ``event`` in ``state``; :class:`InvalidTransitionError` if unmatched."""
    try:
        return TABLES[direction][(state, event)]
    except KeyError:
        raise InvalidTransitionError(
            f"{direction.value}: event {event.value!r} is not allowed in state {state.value!r} "
            f"(allowed: {', '.join(sorted(allowed_events(direction, state))) or 'none'})"
        ) from None


def allowed_events(direction: SwapDirection, state: SwapState) -> frozenset[Event]:
    """Events the table accepts in ``state``."""
    return frozenset(e for (s, e) in TABLES[direction] if s is state)


def states_of(direction: SwapDirection) -> frozenset[SwapState]:
    """Every state that appears in ``direction``'s table."""
    table = TABLES[direction]
    return frozenset(s for s, _ in table) | frozenset(table.values())
