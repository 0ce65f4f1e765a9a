"""The pool operator's engine: it follows every swap the ETM exchange opens in its pools.

:class:`PoolFollower` polls each pool's swap log on the ETM node from its last cursor and
creates the operator's record of each new swap (keyed by its ETM HTLC id,
:func:`~etm_bridge.swaps.core.pool_terms.operator_swap_id`); a pool swap it cannot follow is
reported (:class:`~etm_bridge.swaps.core.pool_terms.Unfollowed`, logged at error level), never
silently skipped. The terms themselves are pure (:mod:`etm_bridge.swaps.core.pool_terms`).

A tick reads only what changed (issue 13, P2-E): the log is paged from a cursor (the node's
``GET /api/exchange/swap-history?after=``), so the swaps closed long ago are never read again,
and the cursor is saved in the swap store, so a restarted operator does not read them either.
The saved ("settled") cursor moves only over swaps read while the tip was at or below today's
finalized height: the swap log is numbered per pool, and a swap in a block a fork switch
undoes may leave its number to another swap, which a cursor already past it would never read.
Each tick therefore re-reads the swaps of the not-yet-final blocks (a few blocks' worth). The
tip a read is noted at is asked *after* the read (review x5): asked before, a block made in
between was read but noted under the lower tip, so its swap's number was settled while the
block could still be undone, and a second fork switch there gave that number to a swap never
read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ...errors import SwapNotFoundError
from ...exchange.htlc import Htlc, HtlcStatus
from ...exchange.records import PoolSwap
from ..core.pool_terms import (
    COLLISION,
    NO_ROOM,
    FollowReport,
    LegChain,
    PoolInfo,
    Unfollowed,
    is_record_of,
    operator_record,
    operator_swap_id,
    why_not_followed,
)
from ..core.ports import PoolSwapLog
from .store import SwapStore

log = logging.getLogger(__name__)


def cursor_name(asset: str) -> str:
    """The name of pool ``asset``'s saved cursor in the swap store."""
    return f"pool-swaps/{asset}"


class PoolFollower:
    """The operator's side of the pools: polls each pool's swap log on the ETM node from its
    settled cursor (saved in the store, see the module) and creates a record per new swap
    (keyed by HTLC id); reports what it cannot follow. A cursor moves only once every swap of
    its page is recorded (a failure half-way reads them again next time). ``rows_read`` and
    ``reads`` count the swaps and the log reads so far (what a tick costs)."""

    def __init__(self, store: SwapStore, swap_log: PoolSwapLog) -> None:
        self.store, self.swap_log = store, swap_log
        self.cursors: dict[str, str | None] = {}  # settled: saved, below ETM finality
        #: per pool, (tip height when read, cursor) of reads not yet final, oldest first
        self.pending: dict[str, list[tuple[int, str]]] = {}
        self.rows_read = self.reads = 0

    def follow(
        self, pools: Mapping[str, tuple[PoolInfo, LegChain]], etm: LegChain, now_s: int
    ) -> FollowReport:
        created: list[str] = []
        unfollowed: list[Unfollowed] = []
        # finality before the reads (they see every block final then), the tip after them
        # (they saw no block above it): a cursor read at a tip is settled once that tip is final
        final = self.swap_log.log_heights()[1]
        reads: list[tuple[str, str | None]] = []
        for asset, (pool, foreign) in sorted(pools.items()):
            swaps, cursor = self.swap_log.exchange_swaps(asset, self._settled(asset))
            self.reads += 1
            self.rows_read += len(swaps)
            for swap, htlc in swaps:
                problem = self._take(swap, htlc, pool, foreign, etm, now_s, created)
                if problem is not None:
                    unfollowed.append(problem)
                    log.error(
                        "operator: CANNOT FOLLOW pool swap %s (%s): %s",
                        problem.swap_id, asset, problem.reason,
                    )  # fmt: skip
            reads.append((asset, cursor))
        tip = self.swap_log.log_heights()[0]
        for asset, cursor in reads:  # only now: a failure above leaves the cursors, so those
            self._advance(asset, cursor, tip, final)  # swaps are read again next time
        return FollowReport(tuple(created), tuple(unfollowed))

    def _settled(self, asset: str) -> str | None:
        if asset not in self.cursors:
            self.cursors[asset] = self.store.follow_cursor(cursor_name(asset))
        return self.cursors[asset]

    def _advance(self, asset: str, cursor: str | None, tip: int, final: int) -> None:
        """Note that the log was read up to ``cursor`` at ``tip``; settle (and save) the newest
        cursor read at a tip the chain has finalized since. Cursors of one pool are hex of
        equal length, so they compare as strings; a read ending lower than an earlier one (a
        fork switch took swaps away) drops the pending cursors above it."""
        pending = [p for p in self.pending.get(asset, []) if cursor is not None and p[1] <= cursor]
        settled = self.cursors.get(asset)
        if cursor is not None and cursor != settled and (not pending or pending[-1][1] < cursor):
            pending.append((tip, cursor))
        done = [c for t, c in pending if t <= final]
        self.pending[asset] = [p for p in pending if p[0] > final]
        if done:
            self.cursors[asset] = done[-1]
            self.store.set_follow_cursor(cursor_name(asset), done[-1])

    def _take(
        self, swap: PoolSwap, htlc: Htlc, pool: PoolInfo, foreign: LegChain, etm: LegChain,
        now_s: int, created: list[str],
    ) -> Unfollowed | None:  # fmt: skip
        swap_id = operator_swap_id(htlc)
        try:
            known = self.store.get(swap_id)
        except SwapNotFoundError:
            known = None
        if known is not None:
            if is_record_of(known, swap, htlc, pool):
                return None  # followed already
            return Unfollowed(swap_id, pool.asset, COLLISION)
        others = [r for r in self.store.by_hashlock(htlc.hashlock) if r.swap_id != swap_id]
        reason = why_not_followed(swap, htlc, pool, others)
        if reason is None:
            rec = operator_record(swap, htlc, pool, foreign, etm, now_s)
            if rec is not None:
                self.store.create(rec)
                created.append(rec.swap_id)
                return None
            if htlc.status is not HtlcStatus.LOCKED:
                return None  # an ended swap out we never had to lock for
            reason = NO_ROOM
        return Unfollowed(swap_id, pool.asset, reason)


def sync_operator(
    store: SwapStore,
    swap_log: PoolSwapLog,
    pools: Mapping[str, tuple[PoolInfo, LegChain]],
    etm: LegChain,
    now_s: int,
) -> FollowReport:
    """One look at the pool swaps of ``pools`` (asset -> (pool, its foreign chain)) from the
    store's settled cursors: creates the operator's record of each swap the store does not know
    (a swap the user settled before we looked is still followed: the operator must claim the
    user's lock with the revealed secret). A watcher keeps a :class:`PoolFollower` instead,
    which also remembers the reads not yet final."""
    return PoolFollower(store, swap_log).follow(pools, etm, now_s)
