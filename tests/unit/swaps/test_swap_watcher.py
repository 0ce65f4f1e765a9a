"""The watcher end to end on fake chains: both roles, both directions, abandonment, crashes,
a node that goes down, and the single-watcher rule."""

from __future__ import annotations

import pytest
from worldkit import (
    BTC_AMOUNT,
    CONFIG,
    ETM_AMOUNT,
    OP_KEY,
    USER_KEY,
    USER_SECRET,
    World,
)

from etm_bridge.errors import ChainError, NodeUnavailableError, WatcherLockError
from etm_bridge.swaps.core.fsm import Role, SwapDirection, SwapState
from etm_bridge.swaps.core.model import ActionKind, Outcome, SwapRecord
from etm_bridge.testing.fake import FakeAdapter
from etm_bridge.testing.fakechain import FEE


@pytest.fixture
def f2e(tmp_path):
    return World(tmp_path, SwapDirection.FOREIGN_TO_ETM)


@pytest.fixture
def e2f(tmp_path):
    return World(tmp_path, SwapDirection.ETM_TO_FOREIGN)


def _states(world: World, role: Role) -> list[SwapState]:
    w = world.user if role is Role.USER else world.op
    return [t.to_state for t in w.store.transitions("w1")]


def test_btc_to_etm_swap_completes_for_both_sides(f2e) -> None:
    user_btc, user_etm = f2e.balance(f2e.btc, USER_KEY), f2e.balance(f2e.etm, USER_KEY)
    op_btc = f2e.balance(f2e.btc, OP_KEY)
    f2e.create()
    f2e.run_until(lambda: f2e.both_end(SwapState.CLAIMED_BOTH))
    assert f2e.balance(f2e.btc, USER_KEY) == user_btc - BTC_AMOUNT - FEE
    assert f2e.balance(f2e.etm, USER_KEY) == user_etm + ETM_AMOUNT - FEE
    assert f2e.balance(f2e.btc, OP_KEY) == op_btc + BTC_AMOUNT - FEE
    # the exchange locks ETM in the same transaction that accepts the proof, so both sides
    # see the counter lock before (or instead of) the proof's acceptance
    path = [SwapState.USER_LOCKED, SwapState.LOCK_CONFIRMED, SwapState.COUNTER_LOCKED]
    path += [SwapState.SECRET_REVEALED, SwapState.CLAIMED_BOTH]
    assert _states(f2e, Role.USER) == path
    assert _states(f2e, Role.OPERATOR) == path
    assert f2e.exchange.proofs_submitted == 1 and f2e.exchange.relay_calls >= 1
    rec = f2e.op.store.get("w1")
    assert rec.preimage == f2e.preimage  # learned from the user's claim
    assert all(i.result is not None for i in rec.intents)


def test_etm_to_btc_swap_completes_for_both_sides(e2f) -> None:
    user_btc, user_etm = e2f.balance(e2f.btc, USER_KEY), e2f.balance(e2f.etm, USER_KEY)
    e2f.create()
    e2f.run_until(lambda: e2f.both_end(SwapState.CLAIMED_BOTH))
    assert e2f.balance(e2f.etm, USER_KEY) == user_etm - ETM_AMOUNT - FEE
    assert e2f.balance(e2f.btc, USER_KEY) == user_btc + BTC_AMOUNT - FEE
    assert _states(e2f, Role.OPERATOR) == [
        SwapState.ETM_LOCKED,
        SwapState.COUNTER_LOCKED,
        SwapState.SECRET_REVEALED,
        SwapState.CLAIMED_BOTH,
    ]


def test_operator_that_never_counter_locks_leaves_the_user_refunded(e2f) -> None:
    before = e2f.balance(e2f.etm, USER_KEY)
    e2f.create()
    e2f.run_until(lambda: e2f.state(Role.USER) is SwapState.REFUNDED, op=False)
    assert e2f.balance(e2f.etm, USER_KEY) == before - 2 * FEE  # lock fee + refund fee
    assert _states(e2f, Role.USER) == [SwapState.ETM_LOCKED, SwapState.EXPIRED, SwapState.REFUNDED]


def test_user_that_never_claims_gets_both_legs_refunded(e2f) -> None:
    e2f.create()
    e2f.run_until(lambda: bool(e2f.btc.locks))  # the operator's counter lock is out
    assert e2f.state(Role.USER) is SwapState.ETM_LOCKED
    # the user's machine is off from now on: the operator refunds its counter lock
    e2f.run_until(lambda: e2f.op.store.get("w1").intents_of(ActionKind.REFUND_COUNTER), user=False)
    assert e2f.state(Role.OPERATOR) is SwapState.EXPIRED
    # the user comes back later: it must not reveal, and refunds its own lock
    e2f.run_until(lambda: e2f.both_end(SwapState.REFUNDED))
    assert not e2f.user.store.get("w1").intents_of(ActionKind.CLAIM_COUNTER)


def test_a_counter_lock_made_too_late_is_never_claimed_and_both_sides_refund(e2f) -> None:
    """An adversarial operator locks the counter leg 4 blocks before its timeout (margin: 5)."""
    e2f.create()
    e2f.run_until(lambda: e2f.state(Role.USER) is SwapState.ETM_LOCKED, op=False)
    t = e2f.user.store.get("w1").terms
    e2f.btc.mine(t.counter_leg.timelock_height - 4 - e2f.btc.tip_height)
    e2f.op_ad["btc"].lock(t.counter_leg.htlc_terms(t.hashlock))
    e2f.step()
    e2f.step()
    rec = e2f.user.store.get("w1")
    assert rec.state is SwapState.COUNTER_LOCKED
    assert any("point of no return refused" in note for note in rec.notes)
    e2f.run_until(lambda: e2f.both_end(SwapState.REFUNDED))
    assert not e2f.user.store.get("w1").intents_of(ActionKind.CLAIM_COUNTER)


def _signature(point: str, rec: SwapRecord) -> tuple:
    done = sum(i.result is not None for i in rec.intents)
    return (point, rec.role, rec.state, len(rec.intents), done)


@pytest.mark.parametrize("direction", list(SwapDirection))
@pytest.mark.parametrize("point", ["state_saved", "intent_saved", "result_saved"])
def test_a_crash_at_every_persisted_step_still_ends_claimed(tmp_path, direction, point) -> None:
    """Kill the watcher right after each save of kind ``point`` (once each), restart it."""
    world = World(tmp_path, direction)
    crashes: set[tuple] = set()

    def crash(at: str, rec: SwapRecord) -> None:
        if at == point and _signature(at, rec) not in crashes:
            crashes.add(_signature(at, rec))
            raise KeyboardInterrupt  # the process dies here

    world.create()
    world.user.crash_hook = world.op.crash_hook = crash
    for _ in range(150):
        if world.both_end(SwapState.CLAIMED_BOTH):
            break
        for role in (Role.USER, Role.OPERATOR):
            w = world.user if role is Role.USER else world.op
            try:
                w.tick()
            except KeyboardInterrupt:
                w.stop()
                fresh = world.watcher(role, crash_hook=crash)
                fresh.start()
                if role is Role.USER:
                    world.user = fresh
                else:
                    world.op = fresh
        world.mine()
        world.clock.now += 600
    assert world.both_end(SwapState.CLAIMED_BOTH)
    assert len(crashes) >= 4
    for w in (world.user, world.op):
        for intent in w.store.get("w1").intents:
            assert intent.result is not None
            assert intent.result.outcome in (Outcome.BROADCAST, Outcome.FOUND_ON_CHAIN)
    assert len(world.btc.locks) == 1 and len(world.etm.locks) == 1  # nothing locked twice


class FlakyAdapter(FakeAdapter):
    down = False

    def tip(self):
        if self.down:
            raise NodeUnavailableError("connection refused")
        return super().tip()


def test_a_node_that_is_down_is_retried_with_backoff_not_fatal(f2e) -> None:
    flaky = FlakyAdapter(f2e.btc, USER_SECRET)
    f2e.user_ad["btc"] = flaky
    f2e.user = f2e.watcher(Role.USER)
    f2e.create()
    flaky.down = True
    report = f2e.user.tick()
    assert "connection refused" in report.down["btc"]
    first_retry = f2e.user.health["btc"].retry_at
    f2e.clock.now = first_retry
    f2e.user.tick()
    assert f2e.user.health["btc"].retry_at - f2e.clock.now == 2 * CONFIG.backoff_initial_s
    flaky.down = False
    f2e.clock.now += 10
    f2e.run_until(lambda: f2e.both_end(SwapState.CLAIMED_BOTH))


def test_an_outage_is_reported_once_when_it_starts_and_once_when_it_ends(f2e) -> None:
    """Issue 15: a long-running watcher says a node went down once (with the first retry's
    delay), not every tick, and says when it answers again."""
    flaky = FlakyAdapter(f2e.btc, USER_SECRET)
    f2e.user_ad["btc"] = flaky
    f2e.user = f2e.watcher(Role.USER)
    f2e.create()
    f2e.user.tick()
    flaky.down = True
    first = f2e.user.tick()
    assert first.went_down == {"btc": CONFIG.backoff_initial_s} and first.came_back == ()
    f2e.clock.now = f2e.user.health["btc"].retry_at
    again = f2e.user.tick()
    assert again.went_down == {} and "btc" in again.down  # still down, not said again
    flaky.down = False
    f2e.clock.now = f2e.user.health["btc"].retry_at
    back = f2e.user.tick()
    assert back.came_back == ("btc",) and back.went_down == {} and back.down == {}
    assert f2e.user.tick().came_back == ()


def test_two_watchers_cannot_both_act_on_one_database(f2e) -> None:
    f2e.create()
    with pytest.raises(WatcherLockError):
        f2e.watcher(Role.USER).start()


def test_a_partial_first_look_never_leads_to_a_second_counter_lock(e2f) -> None:
    """The operator's first look at a new swap skips the counter leg; once the user's lock
    moves the swap on, the watcher looks again in full before deciding to counter-lock."""
    e2f.create()
    e2f.run_until(lambda: e2f.state(Role.USER) is SwapState.ETM_LOCKED, op=False)
    t = e2f.user.store.get("w1").terms
    e2f.op_ad["btc"].lock(t.counter_leg.htlc_terms(t.hashlock))  # already locked elsewhere
    e2f.op.tick()
    rec = e2f.op.store.get("w1")
    assert rec.state is SwapState.COUNTER_LOCKED
    assert not rec.intents_of(ActionKind.LOCK_COUNTER_LEG)
    assert len(e2f.btc.locks) == 1


class BrokenFindAdapter(FakeAdapter):
    broken = False

    def find_locks(self, hashlock):
        if self.broken:
            raise ChainError("node returned garbage for find_locks")
        return super().find_locks(hashlock)


def test_an_error_on_one_swap_is_reported_and_retried_not_fatal(f2e) -> None:
    broken = BrokenFindAdapter(f2e.btc, USER_SECRET)
    f2e.user_ad["btc"] = broken
    f2e.user = f2e.watcher(Role.USER)
    f2e.create()
    broken.broken = True
    report = f2e.user.tick()
    assert "garbage" in report.errors["w1"]
    assert f2e.user.tick().examined == 0  # backing off
    broken.broken = False
    f2e.clock.now += 10
    f2e.run_until(lambda: f2e.both_end(SwapState.CLAIMED_BOTH))


def test_wake_ups_are_queued_once_however_often_a_swap_is_examined(e2f) -> None:
    e2f.create()
    for _ in range(30):  # the operator never locks: the user's swap waits, examined per block
        e2f.step(op=False)
    queued = sum(len(heap) for heap in e2f.user._wake.values())
    assert 0 < queued <= 6  # timelock, reveal deadline, confirmation targets: not 30x that


class _Censored(FakeAdapter):
    """The ETM leg on endpoints that (the inclusion tracking says) censor one of our
    transactions: what ``EtmAdapter.check_inclusion`` returns on a NodeSet."""

    suspected: tuple = ()

    def check_inclusion(self) -> tuple:
        return self.suspected


def test_the_watcher_reveals_nothing_while_our_etm_transactions_are_censored(f2e) -> None:
    from etm_bridge.etm_client.inclusion import CensorshipSuspected

    leg = _Censored(f2e.etm, USER_SECRET)
    f2e.user_ad["etm"] = leg
    f2e.user = f2e.watcher(Role.USER)
    leg.suspected = (CensorshipSuspected("some-tx", 12, ("http://censor:26657",)),)
    f2e.create()
    f2e.run_until(lambda: f2e.state(Role.USER) is SwapState.COUNTER_LOCKED)
    for _ in range(3):
        f2e.step()
    rec = f2e.user.store.get("w1")
    assert rec.state is SwapState.COUNTER_LOCKED  # not revealed
    assert any("point of no return refused: censorship suspected" in n for n in rec.notes)
    assert f2e.user.censored["etm"][0][0] == "some-tx"
    leg.suspected = ()  # the endpoints include our transactions again
    f2e.run_until(lambda: f2e.both_end(SwapState.CLAIMED_BOTH))
