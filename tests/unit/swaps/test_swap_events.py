"""From chain observations to events: the happy paths, typed lock checks, expiries, reorgs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from swapkit import (
    PREIMAGE,
    claim_of,
    lock_for,
    record,
    refund_of,
    view,
)

from etm_bridge.adapter import LockState
from etm_bridge.errors import HashlockError
from etm_bridge.swaps.core.events import Observed, apply_event, next_event
from etm_bridge.swaps.core.fsm import Event, Role, SwapDirection, SwapState
from etm_bridge.swaps.core.model import BlockRef, DepKind
from etm_bridge.swaps.core.views import ProofStatus, ProofView

F2E, E2F = SwapDirection.FOREIGN_TO_ETM, SwapDirection.ETM_TO_FOREIGN
NOW = 1_700_000_000


def _event(rec, v, now=NOW):
    found = next_event(rec, v, now)
    return None if found is None else found.event


def test_foreign_to_etm_happy_path_event_by_event() -> None:
    rec = record(SwapState.CREATED)
    ulock = lock_for(rec.terms.user_leg, block_height=None)
    assert _event(rec, view(rec)) is None
    assert _event(rec, view(rec, user_lock=ulock)) is Event.USER_LOCK_SEEN
    rec = replace(rec, state=SwapState.USER_LOCKED)
    mined = replace(ulock, block_height=100)
    assert _event(rec, view(rec, user_lock=mined, user_tip=100)) is None  # 1/2 confirmations
    assert _event(rec, view(rec, user_lock=mined, user_tip=101)) is Event.USER_LOCK_CONFIRMED
    rec = replace(rec, state=SwapState.LOCK_CONFIRMED)
    accepted = ProofView(101, ProofStatus.ACCEPTED)
    assert _event(rec, view(rec, user_lock=mined, user_tip=101, proof=accepted)) is (
        Event.PROOF_ACCEPTED
    )
    rec = replace(rec, state=SwapState.PROOF_SUBMITTED)
    clock = lock_for(rec.terms.counter_leg)
    v = view(rec, user_lock=mined, user_tip=101, proof=accepted, counter_lock=clock)
    assert _event(rec, v) is Event.COUNTER_LOCK_SEEN
    rec = replace(rec, state=SwapState.COUNTER_LOCKED)
    assert _event(rec, v) is None
    v = replace(v, counter=replace(v.counter, spend=claim_of(clock)))
    found = next_event(rec, v, NOW)
    assert found is not None and found.event is Event.COUNTER_LOCK_CLAIMED
    assert found.preimage == PREIMAGE
    rec = replace(rec, state=SwapState.SECRET_REVEALED)
    v = replace(v, user=replace(v.user, spend=claim_of(mined)))
    assert _event(rec, v) is Event.USER_LOCK_CLAIMED


def test_etm_to_foreign_happy_path_event_by_event() -> None:
    rec = record(SwapState.CREATED, direction=E2F)
    ulock = lock_for(rec.terms.user_leg)
    assert _event(rec, view(rec, user_lock=ulock)) is Event.USER_LOCK_SEEN
    rec = replace(rec, state=SwapState.ETM_LOCKED)
    clock = lock_for(rec.terms.counter_leg)
    assert _event(rec, view(rec, user_lock=ulock, counter_lock=clock)) is Event.COUNTER_LOCK_SEEN


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"amount": 99_999}, "wrong_amount"),
        ({"hashlock": b"\x01" * 32}, "wrong_hashlock"),
        ({"claim_key": b"\x02" + b"\x99" * 32}, "wrong_claim_key"),
        ({"refund_key": b"\x02" + b"\x99" * 32}, "wrong_refund_key"),
        ({"timelock_height": 199}, "timelock_too_short"),
    ],
)
def test_a_user_lock_that_breaks_the_terms_is_a_typed_mismatch(over, reason) -> None:
    rec = record(SwapState.CREATED, role=Role.OPERATOR)
    bad = lock_for(rec.terms.user_leg, **over)
    found = next_event(rec, view(rec, user_lock=bad), NOW)
    assert found is not None and found.event is Event.LOCK_MISMATCH
    assert found.detail.startswith(reason)
    new, log = apply_event(rec, found, NOW)
    assert new.state is SwapState.FAILED and new.failure.startswith(reason)
    assert log.to_state is SwapState.FAILED


def test_overpaying_lock_is_accepted() -> None:
    rec = record(SwapState.CREATED, role=Role.OPERATOR)
    more = lock_for(rec.terms.user_leg, amount=rec.terms.user_leg.amount + 1)
    assert _event(rec, view(rec, user_lock=more)) is Event.USER_LOCK_SEEN


def test_a_counter_lock_with_a_short_timelock_is_a_mismatch_before_anyone_reveals() -> None:
    rec = record(SwapState.COUNTER_LOCKED)
    ulock = lock_for(rec.terms.user_leg)
    short = lock_for(rec.terms.counter_leg, timelock_height=149)
    found = next_event(rec, view(rec, user_lock=ulock, counter_lock=short), NOW)
    assert found is not None and found.event is Event.COUNTER_LOCK_MISMATCH
    assert "timelock_too_short" in found.detail


def test_quote_expires_only_when_nothing_was_sent() -> None:
    rec = record(SwapState.CREATED)
    late = rec.terms.lock_deadline_s + 1
    assert _event(rec, view(rec), now=rec.terms.lock_deadline_s) is None
    assert _event(rec, view(rec), now=late) is Event.QUOTE_EXPIRED


@pytest.mark.parametrize(("tip", "expired"), [(199, False), (200, True)])
def test_user_lock_expires_when_a_refund_fits_in_the_next_block(tip, expired) -> None:
    rec = record(SwapState.USER_LOCKED)
    ulock = lock_for(rec.terms.user_leg, block_height=None)
    got = _event(rec, view(rec, user_lock=ulock, user_tip=tip))
    assert (got is Event.LOCK_EXPIRED) is expired


def test_expired_swap_is_refunded_for_each_party_once_its_own_lock_is_back() -> None:
    rec = record(SwapState.EXPIRED, role=Role.USER)
    ulock, clock = lock_for(rec.terms.user_leg), lock_for(rec.terms.counter_leg)
    only_counter = view(rec, user_lock=ulock, counter_lock=clock, counter_spend=refund_of(clock))
    assert _event(rec, only_counter) is None
    both = replace(only_counter, user=replace(only_counter.user, spend=refund_of(ulock)))
    assert _event(rec, both) is Event.OWN_LOCKS_REFUNDED
    op = replace(rec, role=Role.OPERATOR, preimage=None)
    assert _event(op, only_counter) is Event.OWN_LOCKS_REFUNDED
    only_user = view(rec, user_lock=ulock, counter_lock=clock, user_spend=refund_of(ulock))
    assert _event(op, only_user) is None  # the operator's own counter lock is still out
    assert _event(rec, only_user) is Event.OWN_LOCKS_REFUNDED  # the user need not wait for it


def test_a_late_counter_claim_after_expiry_still_reveals_the_secret() -> None:
    rec = record(SwapState.EXPIRED, role=Role.OPERATOR)
    ulock, clock = lock_for(rec.terms.user_leg), lock_for(rec.terms.counter_leg)
    v = view(rec, user_lock=ulock, counter_lock=clock, counter_spend=claim_of(clock))
    found = next_event(rec, v, NOW)
    assert found is not None and found.event is Event.COUNTER_LOCK_CLAIMED
    new, _ = apply_event(rec, found, NOW)
    assert new.state is SwapState.SECRET_REVEALED and new.preimage == PREIMAGE


def test_a_claim_with_someone_elses_preimage_is_ignored() -> None:
    rec = record(SwapState.COUNTER_LOCKED, role=Role.OPERATOR)
    ulock, clock = lock_for(rec.terms.user_leg), lock_for(rec.terms.counter_leg)
    v = view(rec, user_lock=ulock, counter_lock=clock, counter_spend=claim_of(clock, b"\x07" * 32))
    assert _event(rec, v) is None


def test_apply_event_refuses_a_preimage_that_does_not_match() -> None:
    rec = record(SwapState.COUNTER_LOCKED, role=Role.OPERATOR)
    with pytest.raises(HashlockError):
        apply_event(rec, Observed(Event.COUNTER_LOCK_CLAIMED, "", b"\x07" * 32), NOW)


def test_user_lock_refunded_after_the_reveal_is_forfeited() -> None:
    rec = record(SwapState.SECRET_REVEALED, role=Role.OPERATOR, preimage=PREIMAGE)
    ulock, clock = lock_for(rec.terms.user_leg), lock_for(rec.terms.counter_leg)
    v = view(
        rec,
        user_lock=ulock,
        counter_lock=clock,
        counter_spend=claim_of(clock),
        user_spend=refund_of(ulock),
    )
    assert _event(rec, v) is Event.USER_LOCK_REFUNDED


def _ref(kind: DepKind) -> BlockRef:
    return BlockRef(kind, "btc", 100, "ab" * 32)


@pytest.mark.parametrize(
    "state", [SwapState.USER_LOCKED, SwapState.LOCK_CONFIRMED, SwapState.PROOF_SUBMITTED]
)
def test_a_reorged_user_lock_sends_the_swap_back_and_forgets_its_block(state) -> None:
    rec = record(state, depends_on=(_ref(DepKind.USER_LOCK),))
    ulock = lock_for(rec.terms.user_leg)
    found = next_event(rec, view(rec, user_lock=ulock, removed=frozenset({DepKind.USER_LOCK})), NOW)
    assert found is not None and found.event is Event.USER_LOCK_REORGED
    new, _ = apply_event(rec, found, NOW)
    assert new.state is SwapState.CREATED and new.depends_on == ()


def test_a_vanished_counter_lock_is_a_reorg_of_the_counter_lock() -> None:
    rec = record(SwapState.COUNTER_LOCKED, direction=E2F)
    ulock = lock_for(rec.terms.user_leg)
    assert _event(rec, view(rec, user_lock=ulock)) is Event.COUNTER_LOCK_REORGED


def test_a_reorged_final_claim_reopens_the_swap() -> None:
    rec = record(SwapState.CLAIMED_BOTH, role=Role.OPERATOR, preimage=PREIMAGE)
    ulock, clock = lock_for(rec.terms.user_leg), lock_for(rec.terms.counter_leg)
    v = view(
        rec,
        user_lock=ulock,
        counter_lock=clock,
        counter_spend=claim_of(clock),
        user_spend=claim_of(ulock),
        removed=frozenset({DepKind.CLAIM}),
    )
    assert _event(rec, v) is Event.CLAIM_REORGED
    steady = replace(v, removed=frozenset())
    assert _event(rec, steady) is None


def test_terminal_cancelled_swap_sees_no_more_events() -> None:
    rec = record(SwapState.CANCELLED)
    assert _event(rec, view(rec, user_lock=lock_for(rec.terms.user_leg))) is None


def test_a_refund_that_happened_while_we_were_down_still_expires_the_swap() -> None:
    rec = record(SwapState.FAILED)
    ulock = lock_for(rec.terms.user_leg, state=LockState.REFUNDED)
    v = view(rec, user_lock=ulock, user_tip=300, user_spend=refund_of(ulock))
    found = next_event(rec, v, NOW)
    assert found is not None and found.event is Event.LOCK_EXPIRED
    rec, _ = apply_event(rec, found, NOW)
    assert _event(rec, v) is Event.OWN_LOCKS_REFUNDED


def test_a_claimed_lock_is_not_expired() -> None:
    rec = record(SwapState.FAILED)
    clock = lock_for(rec.terms.counter_leg, state=LockState.CLAIMED)
    v = view(rec, counter_lock=clock, counter_tip=300, counter_spend=claim_of(clock))
    assert _event(rec, v) is Event.COUNTER_LOCK_CLAIMED
