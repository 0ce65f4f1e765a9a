"""A pool swap in's bonded intent is cancelled by the engine once the swap ended without a proof
(``swaps/core/bond.py``, issue 15 leftover): the decision rows, crash recovery of the cancel,
and the cancel's execution.

Attacks performed: a cancel of a proven swap's intent (a counter lock or an accepted proof in
view, even with ETM claiming the intent is still live) is never planned; a cancel is never
planned while the user's lock is open, not yet visible or possibly still on its way (a lock
intent the node did not reject), nor in any state before the swap ended.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from swapkit import NOW, lock_for, record, refund_of, view

from etm_bridge.app.watch_say import action_words
from etm_bridge.errors import TxRejectedError
from etm_bridge.swaps.core.bond import cancel_refusal, intent_holds, reads_intent
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.swaps.core.model import ActionKind, Intent, IntentResult, Outcome, SwapRecord
from etm_bridge.swaps.core.policy import decide
from etm_bridge.swaps.core.pool_terms import pool_leg_key
from etm_bridge.swaps.core.ports import TxResult
from etm_bridge.swaps.core.views import ProofStatus, ProofView, SwapView
from etm_bridge.swaps.runtime.execute import cancel_bonded_intent

S, A = SwapState, ActionKind
LATER = NOW + 3600


def _pool_in(state: SwapState, role: Role = Role.USER, *intents: Intent) -> SwapRecord:
    """The record of a BTC -> ETM pool swap in (its counter leg refunds to the pool's key)."""
    rec = record(state, role)
    counter = replace(rec.terms.counter_leg, refund_key=pool_leg_key("btc"))
    return replace(rec, terms=replace(rec.terms, counter_leg=counter), intents=intents)


def _lock_intent(outcome: Outcome | None) -> Intent:
    result = None if outcome is None else IntentResult(outcome, None, "", NOW)
    return Intent("s1:lock_user_leg:0", A.LOCK_USER_LEG, "btc", NOW, result)


def _cancel_intent(outcome: Outcome | None, at_s: int = LATER) -> Intent:
    result = None if outcome is None else IntentResult(outcome, "tx", "", at_s)
    return Intent("s1:cancel_intent:0", A.CANCEL_INTENT, "etm", at_s, result)


def _refunded(rec: SwapRecord, live: bool = True, **over: object) -> SwapView:
    """The user's BTC lock refunded; ETM shows the intent live (or not)."""
    lock = lock_for(rec.terms.user_leg)
    base = view(rec, user_lock=lock, user_spend=refund_of(lock), **over)  # type: ignore[arg-type]
    return replace(base, intent_live=live)


def _never_locked(rec: SwapRecord, live: bool = True) -> SwapView:
    return replace(view(rec), intent_live=live)


def _kinds(rec: SwapRecord, v: SwapView) -> list[ActionKind]:
    return [a.kind for a in decide(rec, v, LATER).actions]


def test_a_refunded_pool_swap_in_cancels_its_live_intent_on_etm() -> None:
    rec = _pool_in(S.REFUNDED, Role.USER, _lock_intent(Outcome.BROADCAST))
    [action] = decide(rec, _refunded(rec), LATER).actions
    assert (action.kind, action.chain, action.key) == (A.CANCEL_INTENT, "etm", "s1:cancel_intent:0")
    assert reads_intent(rec)


def test_a_pool_swap_in_that_expired_before_any_lock_cancels_its_intent() -> None:
    for lock in ((), (_lock_intent(Outcome.REJECTED),)):  # never sent, or the node refused it
        rec = _pool_in(S.CANCELLED, Role.USER, *lock)
        assert _kinds(rec, _never_locked(rec)) == [A.CANCEL_INTENT], lock


@pytest.mark.parametrize(
    ("why", "rec", "make_view"),
    [
        ("no live intent", _pool_in(S.REFUNDED), lambda r: _refunded(r, live=False)),
        ("operator", _pool_in(S.REFUNDED, Role.OPERATOR), _refunded),
        ("direct swap", record(S.REFUNDED), _refunded),
        ("completed", _pool_in(S.CLAIMED_BOTH), _refunded),
        # a lock sent (or maybe sent: no result) may still confirm: not provably dead
        ("lock sent", _pool_in(S.CANCELLED, Role.USER, _lock_intent(Outcome.BROADCAST)),
         _never_locked),
        ("lock pending", _pool_in(S.CANCELLED, Role.USER, _lock_intent(None)), _never_locked),
        # refunded, yet the lock is not visible: wait until the refund shows
        ("refund not seen", _pool_in(S.REFUNDED), _never_locked),
    ],
)  # fmt: skip
def test_no_cancel_where_the_intent_is_not_ours_to_cancel(why, rec, make_view) -> None:
    assert _kinds(rec, make_view(rec)) == [], why
    assert cancel_refusal(rec, make_view(rec)) is not None, why


@pytest.mark.parametrize("state", [S.CREATED, S.USER_LOCKED, S.LOCK_CONFIRMED, S.FAILED, S.EXPIRED])
def test_attack_never_a_cancel_while_the_users_lock_is_open(state) -> None:
    """Before the swap ended (the lock open, refundable or not), the intent stays: a proof of
    the lock must still get the reserved quote."""
    rec = _pool_in(state)
    lock = lock_for(rec.terms.user_leg)
    for tip in (100, 250):  # before and after its timelock
        v = replace(view(rec, user_lock=lock, user_tip=tip), intent_live=True)
        assert A.CANCEL_INTENT not in _kinds(rec, v), (state, tip)
        assert cancel_refusal(rec, v) is not None
    # a terminal state with the lock still open (a view the engine would not act on anyway)
    rec = _pool_in(S.REFUNDED)
    v = replace(view(rec, user_lock=lock), intent_live=True)
    assert cancel_refusal(rec, v) == "the user's lock is not refunded"


def test_attack_a_proven_swap_is_never_cancelled_even_if_etm_says_the_intent_lives() -> None:
    rec = _pool_in(S.REFUNDED)
    counter = lock_for(rec.terms.counter_leg)
    proven = _refunded(rec, counter_lock=counter)
    assert _kinds(rec, proven) == [] and "proven" in (cancel_refusal(rec, proven) or "")
    accepted = _refunded(rec, proof=ProofView(100, ProofStatus.ACCEPTED))
    assert _kinds(rec, accepted) == [] and "proven" in (cancel_refusal(rec, accepted) or "")


def test_a_cancel_is_recorded_once_a_crash_re_sends_it_and_the_chain_settles_it() -> None:
    # crashed after writing the intent, before (or during) its broadcast
    rec = _pool_in(S.REFUNDED, Role.USER, _cancel_intent(None))
    assert reads_intent(rec)  # the engine still reads ETM to settle it
    plan = decide(rec, _refunded(rec), LATER)
    assert [(a.kind, a.key) for a in plan.actions] == [(A.CANCEL_INTENT, "s1:cancel_intent:0")]
    plan = decide(rec, _refunded(rec, live=False), LATER)  # it went through before the crash
    assert plan.actions == ()
    [(key, result)] = plan.resolved
    assert (key, result.outcome) == ("s1:cancel_intent:0", Outcome.FOUND_ON_CHAIN)


def test_a_done_cancel_is_not_repeated_and_etm_is_no_longer_read() -> None:
    for outcome in (Outcome.BROADCAST, Outcome.FOUND_ON_CHAIN):
        rec = _pool_in(S.REFUNDED, Role.USER, _cancel_intent(outcome))
        assert not reads_intent(rec)
        assert _kinds(rec, _refunded(rec, live=False)) == []
    refused = _pool_in(S.REFUNDED, Role.USER, _cancel_intent(Outcome.REJECTED, NOW))
    assert reads_intent(refused)  # a refused cancel is retried while the intent lives
    assert _kinds(refused, _refunded(refused)) == [A.CANCEL_INTENT]


def test_an_expired_intent_is_not_cancelled_it_is_forfeited_whatever_we_send() -> None:
    assert not intent_holds(None, 100)
    assert intent_holds({"expiry_height": 101}, 100)  # the next block is its last
    assert not intent_holds({"expiry_height": 100}, 100)
    assert intent_holds({"expiry_height": "?"}, 100)  # unknown: let the chain decide


class _Gateway:
    def __init__(self, reason: str | None) -> None:
        self.reason, self.calls = reason, 0

    def cancel_intent(self, hashlock: bytes) -> TxResult:
        self.calls += 1
        if self.reason is not None:
            raise TxRejectedError(self.reason, "refused")
        return TxResult("ab" * 32, 1000, "confirmed", 7)


def test_cancel_execution_takes_an_intent_etm_no_longer_holds_as_done() -> None:
    hashlock = bytes(32)
    assert cancel_bonded_intent(_Gateway(None), hashlock) == "ab" * 32  # type: ignore[arg-type]
    gone = _Gateway("no_swap_intent")
    assert cancel_bonded_intent(gone, hashlock) == "gone:no_swap_intent"  # type: ignore[arg-type]
    with pytest.raises(TxRejectedError, match="insufficient_balance"):
        cancel_bonded_intent(_Gateway("insufficient_balance"), hashlock)  # type: ignore[arg-type]


def test_watch_says_every_action_in_words_the_cancel_included() -> None:
    rec = _pool_in(S.REFUNDED)
    for kind in ActionKind:
        assert action_words(rec, kind, "broadcast", lambda chain, n: str(n)).endswith(": sent")
    said = action_words(rec, A.CANCEL_INTENT, "broadcast", lambda chain, n: str(n))
    assert said.startswith("cancelling the swap intent on ETM"), said
