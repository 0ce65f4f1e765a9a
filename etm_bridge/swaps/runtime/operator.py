"""The pool operator's engine: it follows every swap the ETM exchange opens in its pools.

:class:`PoolFollower` polls each pool's swap log on the ETM node from its last cursor and
creates the operator's record of each new swap (keyed by its ETM HTLC id,
:func:`~etm_bridge.swaps.core.pool_terms.operator_swap_id`); a pool swap it cannot follow is
reported (:class:`~etm_bridge.swaps.core.pool_terms.Unfollowed`, logged at error level), never
silently skipped. The terms themselves are pure (:mod:`etm_bridge.swaps.core.pool_terms`).
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


class PoolFollower:
    """The operator's side of the pools: polls each pool's swap log on the ETM node from its
    last cursor and creates a record per new swap (keyed by HTLC id); reports what it cannot
    follow. One per watcher process; the cursors live in memory (a restart reads every swap
    again, and records already in the store are skipped), and a cursor moves only once every
    swap of its page is recorded (a failure half-way reads them again next time)."""

    def __init__(self, store: SwapStore, swap_log: PoolSwapLog) -> None:
        self.store, self.swap_log = store, swap_log
        self.cursors: dict[str, str | None] = {}

    def follow(
        self, pools: Mapping[str, tuple[PoolInfo, LegChain]], etm: LegChain, now_s: int
    ) -> FollowReport:
        created: list[str] = []
        unfollowed: list[Unfollowed] = []
        for asset, (pool, foreign) in sorted(pools.items()):
            swaps, cursor = self.swap_log.exchange_swaps(asset, self.cursors.get(asset))
            for swap, htlc in swaps:
                problem = self._take(swap, htlc, pool, foreign, etm, now_s, created)
                if problem is not None:
                    unfollowed.append(problem)
                    log.error(
                        "operator: CANNOT FOLLOW pool swap %s (%s): %s",
                        problem.swap_id, asset, problem.reason,
                    )  # fmt: skip
            # only now: a failure above leaves the cursor, so those swaps are read again
            self.cursors[asset] = cursor
        return FollowReport(tuple(created), tuple(unfollowed))

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
    """One look at every pool swap of ``pools`` (asset -> (pool, its foreign chain)) from the
    start of their logs: creates the operator's record of each swap the store does not know
    (a swap the user settled before we looked is still followed: the operator must claim the
    user's lock with the revealed secret). A watcher keeps a :class:`PoolFollower` instead,
    which reads only the swaps opened since its last look."""
    return PoolFollower(store, swap_log).follow(pools, etm, now_s)
