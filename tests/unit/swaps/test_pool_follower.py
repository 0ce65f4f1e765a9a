"""The pool operator's engine follows every pool swap by its HTLC id (issue 11, item 1).

Before the fix, ``sync_operator`` keyed its records by ``hashlock[:16]`` and skipped any swap
whose hashlock it already knew: a second swap in with a used hashlock (its preimage public on
ETM) was never followed, so nobody claimed its BTC and the user refunded it after taking the
pool's ETM. Now records are keyed by the HTLC id, each pool's swap log is read from a cursor,
and a swap the engine cannot follow is reported (and logged at error level), never skipped.

Also here: a swap in's record pins the lock ETM proved, so a decoy lock with the same hashlock
and terms (which the user can refund early) is never taken for it (fake chains, real
``observe``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from etm_bridge.adapter import HtlcTerms
from etm_bridge.chain.address import encode_address
from etm_bridge.exchange.htlc import Htlc, HtlcStatus
from etm_bridge.exchange.pool import PoolDirection
from etm_bridge.exchange.records import PoolSwap, pool_account
from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import Role, SwapDirection
from etm_bridge.swaps.core.model import LegTerms, SwapRecord, SwapTerms
from etm_bridge.swaps.core.pool_terms import (
    NO_ROOM,
    FollowReport,
    LegChain,
    PoolInfo,
)
from etm_bridge.swaps.runtime.observe import observe
from etm_bridge.swaps.runtime.operator import PoolFollower, sync_operator
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.testing.fake import FakeAdapter
from etm_bridge.testing.fakechain import FakeChain, fake_pubkey

POOL = PoolInfo("btc", b"\x02" + b"\x11" * 32, 1)
BTC, ETM = LegChain("bitcoin", 500, 600), LegChain("etm", 1_000, 1)
USER_BTC, USER = b"\x03" + b"\x22" * 32, encode_address(b"\x33" * 20)
POOLS = {"btc": (POOL, BTC)}


class SwapLog:
    """The node's swap log as ``EtmAdapter.exchange_swaps`` pages it: (asset, cursor) -> the
    swaps after the cursor and the new cursor (fixed width, as the node's hex keys). Records
    the cursors it was asked from; ``tip``/``final`` are the chain's heights (all final by
    default)."""

    def __init__(self) -> None:
        self.swaps: list[tuple[PoolSwap, Htlc]] = []
        self.asked: list[str | None] = []
        self.tip = self.final = 100

    def exchange_swaps(
        self, asset: str, after: str | None = None
    ) -> tuple[list[tuple[PoolSwap, Htlc]], str | None]:
        self.asked.append(after)
        start = 0 if after is None else int(after) + 1
        rows = [s for s in self.swaps[start:] if s[0].asset == asset]
        return rows, (f"{len(self.swaps) - 1:08d}" if rows else after)

    def log_heights(self) -> tuple[int, int]:
        return self.tip, self.final

    def swap_in(self, n: int, hashlock: bytes, status: HtlcStatus = HtlcStatus.LOCKED) -> Htlc:
        lock_id = bytes([n]) * 32 + (0).to_bytes(4, "big")
        swap = PoolSwap("btc", PoolDirection.ASSET_TO_ETM, 100_000, 300, 9_000, USER, USER_BTC,
                        lock_id)  # fmt: skip
        htlc = Htlc(bytes([n]) * 32, pool_account("btc"), USER, 9_000, hashlock, 2_000, status)
        self.swaps.append((swap, htlc))
        return htlc

    def swap_out(self, n: int, hashlock: bytes, expiry: int) -> Htlc:
        swap = PoolSwap("btc", PoolDirection.ETM_TO_ASSET, 9_000, 30, 90_000, USER, USER_BTC)
        htlc = Htlc(bytes([n]) * 32, USER, pool_account("btc"), 9_000, hashlock, expiry)
        self.swaps.append((swap, htlc))
        return htlc


@pytest.fixture
def store(tmp_path: Path) -> SwapStore:
    return SwapStore(tmp_path / "operator.db")


def test_two_pool_swaps_are_both_followed_by_their_htlc_ids(store: SwapStore) -> None:
    log = SwapLog()
    a, b = log.swap_in(1, sha256(b"a" * 32)), log.swap_in(2, sha256(b"b" * 32))
    follower = PoolFollower(store, log)  # type: ignore[arg-type]
    report = follower.follow(POOLS, ETM, 10)
    assert report.created == (a.htlc_id.hex(), b.htlc_id.hex()) and report.unfollowed == ()
    assert {r.swap_id for r in store.list_swaps()} == {a.htlc_id.hex(), b.htlc_id.hex()}
    # the next look reads only what was opened since (the cursor), and takes the new one
    c = log.swap_in(3, sha256(b"c" * 32))
    assert follower.follow(POOLS, ETM, 11).created == (c.htlc_id.hex(),)
    assert log.asked == [None, "00000001"]
    assert follower.follow(POOLS, ETM, 12).created == ()


def test_the_old_drain_a_second_swap_with_a_used_hashlock_is_reported_loudly(
    store: SwapStore, caplog: pytest.LogCaptureFixture
) -> None:
    """What a chain without the consensus fix would show: the first swap ended (its preimage
    public), a second swap in reuses the hashlock. The old engine skipped it in silence."""
    log = SwapLog()
    h = sha256(b"d" * 32)
    first = log.swap_in(1, h, HtlcStatus.CLAIMED)
    assert sync_operator(store, log, POOLS, ETM, 10).created == (first.htlc_id.hex(),)  # type: ignore[arg-type]
    second = log.swap_in(2, h)
    with caplog.at_level(logging.ERROR):
        report = sync_operator(store, log, POOLS, ETM, 11)  # type: ignore[arg-type]
    assert report.created == ()
    [u] = report.unfollowed
    assert u.swap_id == second.htlc_id.hex() and first.htlc_id.hex() in u.reason
    assert "CANNOT FOLLOW" in caplog.text and second.htlc_id.hex() in caplog.text


def test_a_swap_out_without_room_for_a_counter_lock_is_reported(store: SwapStore) -> None:
    log = SwapLog()
    log.swap_out(1, sha256(b"e" * 32), ETM.tip_height + 60)  # a minute left: no room
    report = sync_operator(store, log, POOLS, ETM, 10)  # type: ignore[arg-type]
    assert report.created == () and [u.reason for u in report.unfollowed] == [NO_ROOM]
    fine = log.swap_out(2, sha256(b"f" * 32), ETM.tip_height + 40_000)
    assert sync_operator(store, log, POOLS, ETM, 11).created == (fine.htlc_id.hex(),)  # type: ignore[arg-type]


def test_a_pinned_leg_follows_the_proven_lock_not_a_decoy() -> None:
    """The user makes two BTC locks with one hashlock and the pool's terms: a decoy refundable
    soon, and the real one (12 h) that ETM proved. Following by hashlock alone picks the decoy,
    sees it refunded, and never claims the real lock; the pinned record follows the real one."""
    FakeChain.forget("btc-decoy")
    chain = FakeChain.named("btc-decoy")
    user_secret, op_secret = b"u" * 32, b"o" * 32
    user = FakeAdapter(chain, user_secret)
    chain.credit(fake_pubkey(user_secret), 10**7)
    chain.mine()
    h = sha256(b"g" * 32)
    claim, refund = fake_pubkey(op_secret), fake_pubkey(user_secret)
    decoy = user.lock(HtlcTerms(100_000, h, claim, refund, chain.tip_height + 3))
    chain.mine()
    real = user.lock(HtlcTerms(100_000, h, claim, refund, chain.tip_height + 72))
    chain.mine()
    adapters = {"bitcoin": FakeAdapter(chain, op_secret), "etm": FakeAdapter(chain, b"e" * 32)}
    tips = {"bitcoin": chain.tip_height, "etm": chain.tip_height}

    def user_lock_seen(pinned: str | None) -> str:
        leg = LegTerms("bitcoin", 100_000, claim, refund, 0, 1, lock_id=pinned)
        counter = LegTerms("etm", 9_000, b"\x33" * 20, b"\x44" * 20, 0, 1)
        terms = SwapTerms("op", SwapDirection.FOREIGN_TO_ETM, h, leg, counter, 0, 10**9, 1)
        view = observe(SwapRecord(terms, Role.OPERATOR), adapters, tips, None).view
        assert view.user.lock is not None
        return view.user.lock.lock_id

    assert user_lock_seen(None) == decoy.lock_id  # the attack on an unpinned record
    assert user_lock_seen(real.lock_id) == real.lock_id
    FakeChain.forget("btc-decoy")


def test_a_failed_look_leaves_the_cursor_so_no_swap_is_skipped(store: SwapStore) -> None:
    """Review a11a: the cursor moved past a page before its swaps were recorded, so a failure
    while recording (the store's disk, a node read) skipped the rest of the page until the
    watcher restarted: swaps in whose foreign locks the operator then never claimed."""
    log = SwapLog()
    a, b = log.swap_in(1, sha256(b"f" * 32)), log.swap_in(2, sha256(b"g" * 32))
    real_create, calls = store.create, []

    def create_failing_once(rec: SwapRecord) -> None:
        calls.append(rec.swap_id)
        if len(calls) == 2:  # the second swap of the page
            raise OSError("disk full")
        real_create(rec)

    store.create = create_failing_once  # type: ignore[method-assign]
    follower = PoolFollower(store, log)  # type: ignore[arg-type]
    with pytest.raises(OSError):
        follower.follow(POOLS, ETM, 10)
    assert follower.follow(POOLS, ETM, 11).created == (b.htlc_id.hex(),)
    assert {r.swap_id for r in store.list_swaps()} == {a.htlc_id.hex(), b.htlc_id.hex()}


def test_a_direct_swap_under_a_pool_swaps_id_is_reported_not_taken_for_it(
    store: SwapStore,
) -> None:
    """Review a11a: a swap in's HTLC id is computable before the swap exists (sha256 of the
    asset and the lock's outpoint). An attacker had the operator accept a direct swap under that
    id (``swap accept`` took any id), then proved the lock: the follower found a record with the
    id, took it for the pool swap's, and never followed the pool swap (its BTC never claimed).
    ``swap accept`` now refuses such ids; the follower also checks what the record is."""
    log = SwapLog()
    htlc = log.swap_in(1, sha256(b"h" * 32))
    decoy = SwapTerms(
        htlc.htlc_id.hex(), SwapDirection.ETM_TO_FOREIGN, sha256(b"i" * 32),
        LegTerms("bitcoin", 5_000, POOL.claim_key, USER_BTC, 900),
        LegTerms("etm", 7_000, b"\x33" * 20, b"\x44" * 20, 1_500), 0, 1, 2,
    )  # fmt: skip
    store.create(SwapRecord(decoy, Role.OPERATOR))
    report = PoolFollower(store, log).follow(POOLS, ETM, 10)  # type: ignore[arg-type]
    assert report.created == () and [u.swap_id for u in report.unfollowed] == [htlc.htlc_id.hex()]
    # the pool swap's own record is recognised as followed: nothing to report on a new look
    own = SwapStore(store.path.parent / "own.db")
    assert PoolFollower(own, log).follow(POOLS, ETM, 10).created == (htlc.htlc_id.hex(),)  # type: ignore[arg-type]
    assert PoolFollower(own, log).follow(POOLS, ETM, 11) == FollowReport()  # type: ignore[arg-type]


def _closed_swaps_out(log: SwapLog, count: int) -> None:
    """``count`` swaps out that ended (the user claimed the BTC, the pool its ETM) long ago."""
    for n in range(count):
        htlc_id, h = (10_000 + n).to_bytes(32, "big"), sha256(n.to_bytes(32, "big"))
        swap = PoolSwap("btc", PoolDirection.ETM_TO_ASSET, 9_000, 30, 90_000, USER, USER_BTC)
        htlc = Htlc(htlc_id, USER, pool_account("btc"), 9_000, h, 2_000, HtlcStatus.CLAIMED)
        log.swaps.append((swap, htlc))


@pytest.mark.parametrize("closed", [10, 1_000])
def test_a_tick_reads_the_same_with_10_and_1000_closed_swaps(tmp_path: Path, closed: int) -> None:
    """Issue 13 (P2-E): a tick reads what changed, not every pool swap ever made. Once the
    closed swaps were followed (a first look, or an earlier life of the operator), a tick with
    one new swap costs one log read of one row, and so does the first tick of an operator
    restarted on the same store (its cursor is saved), whether 10 or 1,000 swaps closed."""
    log = SwapLog()
    _closed_swaps_out(log, closed)
    store = SwapStore(tmp_path / "operator.db")
    first = PoolFollower(store, log)  # type: ignore[arg-type]
    first.follow(POOLS, ETM, 10)
    assert (first.reads, first.rows_read) == (1, closed)  # the one look at the history
    idle = (first.reads, first.rows_read)
    assert first.follow(POOLS, ETM, 11) == FollowReport()
    assert (first.reads - idle[0], first.rows_read - idle[1]) == (1, 0)  # nothing new: no rows
    new = log.swap_in(1, sha256(b"n" * 32))
    before = (first.reads, first.rows_read)
    assert first.follow(POOLS, ETM, 12).created == (new.htlc_id.hex(),)
    assert (first.reads - before[0], first.rows_read - before[1]) == (1, 1)
    newer = log.swap_in(2, sha256(b"o" * 32))
    restarted = PoolFollower(store, log)  # type: ignore[arg-type]
    assert restarted.follow(POOLS, ETM, 13).created == (newer.htlc_id.hex(),)
    assert (restarted.reads, restarted.rows_read) == (1, 1)
    assert log.asked[-1] == f"{closed:08d}"  # from the saved cursor, not from the start


def test_a_swap_a_fork_switch_puts_under_a_read_cursor_is_still_followed(
    store: SwapStore,
) -> None:
    """The attack on a cursor that moves with the tip: the log is numbered per pool, so when a
    fork switch undoes the block of swap B (number 1) and another block opens swap C, C gets
    number 1. A follower whose cursor had moved past B's number on B's read would never read
    C: the operator never claims C's BTC lock (or never locks for C's swap out). The cursor is
    settled only below ETM finality, so the non-final swaps are read again until final."""
    log = SwapLog()
    log.tip, log.final = 10, 5  # the swaps' blocks are not final yet
    a, _b = log.swap_in(1, sha256(b"a" * 32)), log.swap_in(2, sha256(b"b" * 32))
    follower = PoolFollower(store, log)  # type: ignore[arg-type]
    assert len(follower.follow(POOLS, ETM, 10).created) == 2
    assert store.follow_cursor("pool-swaps/btc") is None  # nothing final: nothing settled
    log.swaps.pop()  # the fork switch: B's block is gone, C's block takes number 1
    c = log.swap_in(3, sha256(b"c" * 32))
    log.tip, log.final = 12, 6
    assert follower.follow(POOLS, ETM, 11).created == (c.htlc_id.hex(),)
    assert log.asked == [None, None]
    log.tip, log.final = 14, 12  # the chain finalized the second read's tip
    assert follower.follow(POOLS, ETM, 12) == FollowReport()
    assert store.follow_cursor("pool-swaps/btc") == "00000001"
    assert follower.follow(POOLS, ETM, 13) == FollowReport()
    assert log.asked[-1] == "00000001"
    assert a.htlc_id.hex() in {r.swap_id for r in store.list_swaps()}


class RacingLog(SwapLog):
    """A node that makes a block between the follower's height question and its log read."""

    def __init__(self) -> None:
        super().__init__()
        self.before_read: list[Callable[[], None]] = []

    def exchange_swaps(
        self, asset: str, after: str | None = None
    ) -> tuple[list[tuple[PoolSwap, Htlc]], str | None]:
        while self.before_read:
            self.before_read.pop(0)()
        return super().exchange_swaps(asset, after)


def test_a_block_made_between_the_heights_and_the_read_is_not_settled_early(
    store: SwapStore,
) -> None:
    """Attack (review x5): the tip was asked before the read, so a block made in between was
    read under the lower tip; once that tip was final the swap's number was settled though its
    block was not, and two fork switches there (S, then T, then U at number 0) left U unread
    for ever: the operator never claims its lock. The tip is now asked after the read."""
    log = RacingLog()
    log.tip, log.final = 10, 8

    def block_11() -> None:
        log.swap_in(1, sha256(b"s" * 32))  # swap S, number 0, in block 11
        log.tip = 11

    log.before_read.append(block_11)
    follower = PoolFollower(store, log)  # type: ignore[arg-type]
    assert len(follower.follow(POOLS, ETM, 10).created) == 1
    log.swaps.pop()  # fork switch at 11: T takes number 0; 10 is final now, 11 is not
    t = log.swap_in(2, sha256(b"t" * 32))
    log.tip, log.final = 11, 10
    assert follower.follow(POOLS, ETM, 11).created == (t.htlc_id.hex(),)
    log.swaps.pop()  # a second switch at 11: U takes number 0, and 11 becomes final
    u = log.swap_in(3, sha256(b"u" * 32))
    log.tip, log.final = 12, 11
    assert follower.follow(POOLS, ETM, 12).created == (u.htlc_id.hex(),)
    assert u.htlc_id.hex() in {r.swap_id for r in store.list_swaps()}
