"""The swap database: round trips, stale writes, the transition log, intents, the watcher lock."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from swapkit import NOW, PREIMAGE, record, terms

from etm_bridge.errors import (
    StaleSwapError,
    SwapError,
    SwapNotFoundError,
    ValidationError,
    WatcherLockError,
)
from etm_bridge.swaps.core.codec import public_view, record_from_dict, record_to_dict
from etm_bridge.swaps.core.events import Transition
from etm_bridge.swaps.core.fsm import Event, Role, SwapDirection, SwapState
from etm_bridge.swaps.core.model import (
    ActionKind,
    BlockRef,
    DepKind,
    Intent,
    IntentResult,
    LegTerms,
    Outcome,
)
from etm_bridge.swaps.runtime.store import SwapStore


@pytest.fixture
def store(tmp_path):
    s = SwapStore(tmp_path / "swaps.db")
    yield s
    s.close()


def _full_record():
    rec = record(SwapState.COUNTER_LOCKED)
    rec = rec.with_intent(Intent("s1:lock_user_leg:0", ActionKind.LOCK_USER_LEG, "btc", NOW))
    rec = rec.with_result(
        "s1:lock_user_leg:0", IntentResult(Outcome.BROADCAST, "aa" * 32, "ok", NOW + 1)
    )
    rec = rec.with_intent(Intent("s1:claim_counter:0", ActionKind.CLAIM_COUNTER, "etm", NOW + 2))
    return rec.with_refs((BlockRef(DepKind.USER_LOCK, "btc", 100, "cd" * 32),))


def test_a_record_survives_the_database_unchanged(store) -> None:
    rec = _full_record()
    store.create(rec)
    assert store.get("s1") == rec
    assert store.get("s1").pending_intents()[0].key == "s1:claim_counter:0"


def test_creating_a_swap_twice_is_refused(store) -> None:
    store.create(record())
    with pytest.raises(SwapError, match="already exists"):
        store.create(record())


def test_an_unknown_swap_is_a_clear_error(store) -> None:
    with pytest.raises(SwapNotFoundError, match="no swap 'nope'"):
        store.get("nope")


def test_a_stale_record_cannot_overwrite_a_newer_one(store) -> None:
    rec = record()
    store.create(rec)
    newer = replace(rec, state=SwapState.USER_LOCKED, version=rec.version + 1)
    store.save(newer)
    with pytest.raises(StaleSwapError):
        store.save(replace(rec, state=SwapState.CANCELLED, version=rec.version + 1))
    assert store.get("s1").state is SwapState.USER_LOCKED


def test_transitions_are_logged_in_order(store) -> None:
    rec = record()
    store.create(rec)
    log = [
        Transition("s1", SwapState.CREATED, Event.USER_LOCK_SEEN, SwapState.USER_LOCKED, "", NOW),
        Transition(
            "s1",
            SwapState.USER_LOCKED,
            Event.USER_LOCK_CONFIRMED,
            SwapState.LOCK_CONFIRMED,
            "",
            NOW,
        ),
    ]
    store.save(replace(rec, state=SwapState.LOCK_CONFIRMED, version=rec.version + 1), log)
    assert store.transitions("s1") == log


def test_open_and_hashlock_queries(store) -> None:
    store.create(record())
    done = record(SwapState.CLAIMED_BOTH, role=Role.OPERATOR)
    done = replace(done, terms=replace(done.terms, swap_id="s2", hashlock=b"\x05" * 32))
    store.create(done)
    assert [r.swap_id for r in store.list_swaps(open_only=True)] == ["s1"]
    assert {r.swap_id for r in store.list_swaps()} == {"s1", "s2"}
    assert [r.swap_id for r in store.by_hashlock(b"\x05" * 32)] == ["s2"]


def test_public_view_hides_the_preimage() -> None:
    shown = public_view(record())
    assert shown["preimage"] is None and shown["preimage_known"] is True
    assert PREIMAGE.hex() not in str(shown)


@settings(max_examples=50)
@given(
    amount=st.integers(1, 2**80),
    timelock=st.integers(0, 2**31),
    confs=st.integers(1, 1000),
    direction=st.sampled_from(list(SwapDirection)),
    role=st.sampled_from(list(Role)),
    state=st.sampled_from(list(SwapState)),
)
def test_codec_round_trip(amount, timelock, confs, direction, role, state) -> None:
    t = terms(direction)
    t = replace(
        t,
        user_leg=replace(t.user_leg, amount=amount, timelock_height=timelock, confirmations=confs),
    )
    rec = replace(record(state, role=role, direction=direction), terms=t)
    assert record_from_dict(record_to_dict(rec)) == rec


def test_a_corrupted_row_is_a_validation_error() -> None:
    body = record_to_dict(record())
    body["terms"]["hashlock"] = "zz"
    with pytest.raises(ValidationError, match="hashlock must be hex"):
        record_from_dict(body)
    body = record_to_dict(record())
    del body["terms"]
    with pytest.raises(ValidationError, match="malformed swap record"):
        record_from_dict(body)


def test_terms_refuse_two_legs_on_one_chain() -> None:
    t = terms()
    with pytest.raises(ValidationError, match="must differ"):
        replace(t, counter_leg=replace(t.counter_leg, chain="btc"))
    with pytest.raises(ValidationError, match="claim_key"):
        LegTerms("btc", 1, b"\x02" * 3, b"\x02" * 33, 10)


def test_a_record_refuses_a_preimage_of_another_hashlock() -> None:
    with pytest.raises(ValidationError, match="does not match"):
        replace(record(), preimage=b"\x09" * 32)


# --- the one-watcher lock -----------------------------------------------------------------------


def test_a_second_watcher_on_the_same_database_is_refused(tmp_path) -> None:
    first, second = SwapStore(tmp_path / "w.db"), SwapStore(tmp_path / "w.db")
    with first.acquire_watcher_lock("A"), pytest.raises(WatcherLockError, match="another"):
        second.acquire_watcher_lock("B")
    with second.acquire_watcher_lock("B") as lock:  # released: now B may
        lock.renew()
    first.close()
    second.close()


def test_a_live_lease_of_another_owner_is_respected_without_flock(tmp_path) -> None:
    """E.g. a watcher on another host over a network filesystem where flock does nothing."""
    store = SwapStore(tmp_path / "w.db")
    store._write_lease("other-host", 60, None, must_own=False)
    with pytest.raises(WatcherLockError, match="holds the lease"):
        store.acquire_watcher_lock("me")
    store._write_lease("other-host", -1, None, must_own=False)  # its lease ran out
    with store.acquire_watcher_lock("me"):
        pass
    store.close()


def test_a_watcher_that_lost_its_lease_stops(tmp_path) -> None:
    store = SwapStore(tmp_path / "w.db")
    lock = store.acquire_watcher_lock("me", lease_s=1)
    store.db.execute("UPDATE watcher_lease SET owner = 'thief'")
    store.db.conn.commit()
    with pytest.raises(WatcherLockError):
        lock.renew(now_s=10**10)
    lock.release()
    store.close()


def test_the_lock_dies_with_a_killed_watcher(tmp_path) -> None:
    db = tmp_path / "w.db"
    code = (
        "import os, signal, sys\n"
        "from etm_bridge.swaps.runtime.store import SwapStore\n"
        f"SwapStore({str(db)!r}).acquire_watcher_lock('victim', lease_s=0)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert proc.returncode == -9
    store = SwapStore(db)
    with store.acquire_watcher_lock("next"):
        pass
    store.close()
