"""The user's and the pool operator's swap engines side by side (not a verb module).

:class:`PoolSwaps` starts swaps with the same use cases as ``swap start``
(:func:`etm_bridge.app.swaps.start_pool_swap` at the pool's current quote, pinned in full;
:func:`~etm_bridge.app.swaps.start_direct_swap` for the offer nobody takes up) and drives both
engines tick by tick: the operator's engine first picks up every pool swap the exchange opened
and feeds the relays (:func:`etm_bridge.app.watch.operator_tick`), then both watchers tick, then
Bitcoin mines (regtest blocks are instant; ETM forges one block per second by itself). Used by
``etm-bridge demo`` and the integration tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from etm_bridge.adapter import ChainAdapter
from etm_bridge.app import watch as watching
from etm_bridge.app.context import AppContext
from etm_bridge.app.swaps import start_direct_swap, start_pool_swap
from etm_bridge.errors import ChainError
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.swaps.core.model import SwapRecord, SwapTerms
from etm_bridge.swaps.core.policy import PolicyConfig
from etm_bridge.swaps.core.pool_terms import LegChain, PoolInfo, Unfollowed
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.swaps.runtime.watcher import Watcher, WatcherConfig

from .parties import ETM_FEE, Party, World

#: Fast retries on the local stack; the user proves its own lock as soon as it is confirmed.
CONFIG = WatcherConfig(policy=PolicyConfig(retry_after_s=2, user_proof_delay_blocks=0))
FOREIGN = {"btc": "bitcoin", "eth": "ethereum", "hns": "handshake"}  # pool asset -> leg name
ABANDONED_HOURS = 2.0  # 12 nominal Bitcoin blocks; regtest mines them at once


class PoolSwaps:
    def __init__(
        self, world: World, user: Party, operator: Party, user_db: Path,
        mine: Callable[[int], object],
    ) -> None:  # fmt: skip
        self.world, self.user, self.operator, self.mine = world, user, operator, mine
        self.client = world.client
        self.log: list[str] = []  # what the engines did, tick by tick
        self.user_ad = self._adapters(user)
        self.op_ad = self._adapters(operator)
        relayer = world.eth.relayer if world.eth is not None else None
        self.user_ctx = AppContext(keys=user, given=self.user_ad, swaps_db=user_db,
                                   policy_config=CONFIG.policy)  # fmt: skip
        self.op_ctx = world.context(operator, self.op_ad, CONFIG.policy, relayer)
        self.user_store, self.op_store = self.user_ctx.store(), self.op_ctx.store()
        self.user_w = self._watcher(self.user_ctx, user, operator=False)
        self.op_w = self._watcher(self.op_ctx, operator, operator=True)
        self.follower = watching.follower(self.op_ctx)
        self.unfollowed: list[Unfollowed] = []  # pool swaps the operator could not follow

    def _adapters(self, party: Party) -> dict[str, ChainAdapter]:
        found = {"bitcoin": self.world.btc_adapter(party), "etm": self.world.etm_adapter(party)}
        if self.world.eth is not None:
            found["ethereum"] = self.world.eth_adapter(party)
        if self.world.hns is not None and party.hns_secret:
            found["handshake"] = self.world.hns_adapter(party)
        return found

    def _watcher(self, ctx: AppContext, party: Party, *, operator: bool) -> Watcher:
        watcher = watching.open_watcher(ctx, operator=operator, config=CONFIG, owner=party.name)
        watcher.start()
        return watcher

    def close(self) -> None:
        for watcher in (self.user_w, self.op_w):
            watcher.stop()
        for adapter in (*self.user_ad.values(), *self.op_ad.values()):
            adapter.close()
        self.user_ctx.close()
        self.op_ctx.close()

    # --- starting swaps (the user's side) -------------------------------------------------------

    def chains(self, foreign: str = "bitcoin") -> tuple[LegChain, LegChain]:
        other, etm = self.user_ad[foreign], self.user_ad["etm"]
        return (
            LegChain(foreign, other.tip().height, other.info().block_time_s),
            LegChain("etm", etm.tip().height, etm.info().block_time_s),
        )

    def pool(self, asset: str = "btc") -> PoolInfo:
        return PoolInfo.from_api(self.client.pool(asset))

    def start_swap_in(self, amount: int, asset: str = "btc") -> SwapTerms:
        """Foreign asset -> ETM at the pool's current quote (its output is the pinned minimum)."""
        started = start_pool_swap(self.user_ctx, FOREIGN[asset], "etm", amount, slippage_bps=0)
        return started.record.terms

    def start_swap_out(self, amount_etm: int, asset: str = "btc") -> SwapTerms:
        """ETM -> foreign asset at the pool's current quote."""
        started = start_pool_swap(self.user_ctx, "etm", FOREIGN[asset], amount_etm, slippage_bps=0)
        return started.record.terms

    def start_abandoned(self, amount_sat: int, etm_amount: int) -> SwapTerms:
        """A direct BTC -> ETM offer to the operator's keys that the operator never takes up
        (it is never given the terms): the user's BTC lock refunds at its timelock."""
        started = start_direct_swap(
            self.user_ctx, "bitcoin", "etm", amount_sat, etm_amount,
            their_claim_key=self.operator.btc_pubkey,
            their_refund_key=self.operator.etm_address20, hours=ABANDONED_HOURS,
            counter_hours=1.0, leg_margin_s=3600, reveal_margin_blocks=2, lock_within_s=600,
            unclaimable_counter_leg=True,
        )  # fmt: skip
        return started.record.terms

    # --- driving both engines ------------------------------------------------------------------

    def tick(self, mine_blocks: int = 1) -> None:
        followed = watching.operator_tick(self.op_ctx, self.follower)
        for u in followed.unfollowed:
            self.unfollowed.append(u)
            self.log.append(f"operator: CANNOT FOLLOW pool swap {u.swap_id}: {u.reason}")
        self.log += [f"operator: {failure}" for failure in followed.failures]
        for watcher in (self.user_w, self.op_w):
            report = watcher.tick()
            for swap_id, error in {**report.errors, **report.down}.items():
                self.log.append(f"{watcher.owner}: {swap_id}: {error}")
            for sid, kind, outcome in report.actions:
                self.log.append(f"{watcher.owner}: {sid}: {kind.value} {outcome}")
            for t in report.transitions:
                self.log.append(f"{watcher.owner}: {t.swap_id}: {t.from_state.value} -> "
                                f"{t.to_state.value}")  # fmt: skip
        if mine_blocks:
            self.mine(mine_blocks)

    def record(self, swap_id: str, role: Role = Role.USER) -> SwapRecord | None:
        """``role``'s record of the user's swap ``swap_id`` (the operator's is keyed by its ETM
        HTLC id, so it is found by the swap's hashlock), or None if it has none yet."""
        found = [r for r in self.user_store.list_swaps() if r.swap_id == swap_id]
        if role is Role.USER or not found:
            return found[0] if found else None
        theirs = self.op_store.by_hashlock(found[0].terms.hashlock)
        return theirs[0] if theirs else None

    def state(self, swap_id: str, role: Role = Role.USER) -> SwapState:
        rec = self.record(swap_id, role)
        if rec is None:
            raise ChainError(f"the {role.value} has no record of swap {swap_id}")
        return rec.state

    def run_until(
        self, swap_id: str, done: Iterable[SwapState], *, roles: Iterable[Role] = (Role.USER,),
        timeout_s: float = 120.0, mine_blocks: int = 1, pause_s: float = 0.5,
    ) -> float:  # fmt: skip
        """Tick until the swap is in one of ``done`` for every role; seconds it took."""
        wanted, roles = set(done), list(roles)
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            known = {r: self._maybe_state(swap_id, r) for r in roles}
            if all(s in wanted for s in known.values()):
                return time.monotonic() - started
            self.tick(mine_blocks)
            time.sleep(pause_s)
        states = {r.value: self._maybe_state(swap_id, r) for r in roles}
        raise ChainError(
            f"swap {swap_id} did not reach {sorted(wanted)} in {timeout_s:.0f} s: {states}; "
            + " | ".join(self.log[-12:])
        )

    def _maybe_state(self, swap_id: str, role: Role) -> SwapState | None:
        rec = self.record(swap_id, role)
        return None if rec is None else rec.state


__all__ = ["CONFIG", "ETM_FEE", "PoolSwaps", "SwapStore"]
