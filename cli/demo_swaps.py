"""The user's and the pool operator's swap engines side by side (not a verb module).

:class:`PoolSwaps` starts pool swaps the way ``swap start`` does for a user (a pinned quote:
the counter leg's amount is the quote's output, refused by the exchange if the pool moved past
it) and drives both engines tick by tick: the operator's engine first picks up every pool swap
the exchange opened, then both watchers tick, then Bitcoin mines (regtest blocks are instant;
ETM forges one block per second by itself). Used by ``etm-bridge demo`` and the integration
tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from etm_bridge.adapter import ChainAdapter
from etm_bridge.errors import ChainError
from etm_bridge.etm_client.exchange import NodeExchange, submit_swap_intent
from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import Role, SwapDirection, SwapState
from etm_bridge.swaps.core.model import LegTerms, SwapRecord, SwapTerms
from etm_bridge.swaps.core.policy import PolicyConfig
from etm_bridge.swaps.core.pool_terms import (
    LegChain,
    PoolInfo,
    Unfollowed,
    swap_in_terms,
    swap_out_terms,
)
from etm_bridge.swaps.runtime.operator import PoolFollower
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.swaps.runtime.watcher import Watcher, WatcherConfig
from etm_bridge.testing.preimages import new_preimage

from .demo_world import Party, World

#: Fast retries on the local stack; the user proves its own lock as soon as it is confirmed.
CONFIG = WatcherConfig(policy=PolicyConfig(retry_after_s=2, user_proof_delay_blocks=0))
FOREIGN = {"btc": "bitcoin", "eth": "ethereum"}  # pool asset -> engine chain name
ABANDONED_TIMELOCK_BLOCKS = 12  # 2 h of nominal Bitcoin blocks; regtest mines them at once


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
        self.user_store = SwapStore(user_db)
        self.op_store = SwapStore(operator.home / "swaps.db")
        self.user_w = self._watcher(user, self.user_ad, self.user_store)
        self.op_w = self._watcher(operator, self.op_ad, self.op_store)
        self.follower = PoolFollower(self.op_store, self.op_ad["etm"])  # type: ignore[arg-type]
        self.unfollowed: list[Unfollowed] = []  # pool swaps the operator could not follow

    def _adapters(self, party: Party) -> dict[str, ChainAdapter]:
        found = {"bitcoin": self.world.btc_adapter(party), "etm": self.world.etm_adapter(party)}
        if self.world.eth is not None:
            found["ethereum"] = self.world.eth_adapter(party)
        return found

    def _watcher(self, party: Party, adapters: dict, store: SwapStore) -> Watcher:
        foreign = {n: a for n, a in adapters.items() if n != "etm"}
        relayer = self.world.eth.relayer if self.world.eth is not None else None
        gateway = NodeExchange(self.client, party.etm_key, adapters["etm"], foreign, relayer)
        watcher = Watcher(store, adapters, gateway=gateway, owner=party.name, config=CONFIG)
        watcher.start()
        return watcher

    def close(self) -> None:
        for watcher in (self.user_w, self.op_w):
            watcher.stop()
        for adapter in (*self.user_ad.values(), *self.op_ad.values()):
            adapter.close()
        self.user_store.close()
        self.op_store.close()

    # --- starting swaps (the user's side) -------------------------------------------------------

    def chains(self, foreign: str = "bitcoin") -> tuple[LegChain, LegChain]:
        other, etm = self.user_ad[foreign], self.user_ad["etm"]
        return (
            LegChain(foreign, other.tip().height, other.info().block_time_s),
            LegChain("etm", etm.tip().height, etm.info().block_time_s),
        )

    def pool(self, asset: str = "btc") -> PoolInfo:
        return PoolInfo.from_api(self.client.pool(asset))

    def _create(self, terms: SwapTerms, preimage: bytes) -> SwapTerms:
        now = int(time.time())
        self.user_store.create(SwapRecord(terms, Role.USER, preimage=preimage, updated_at_s=now))
        return terms

    def start_swap_in(self, amount: int, asset: str = "btc") -> SwapTerms:
        """BTC/ETH -> ETM at the pool's current quote (its output is the pinned minimum)."""
        quote = self.client.quote(asset, "asset_to_etm", amount)
        preimage = new_preimage()
        hashlock = sha256(preimage)
        foreign, etm = self.chains(FOREIGN[asset])
        user_key = self.user.btc_pubkey if asset == "btc" else self.user.eth_address20
        terms = swap_in_terms(
            hashlock.hex()[:16], hashlock, self.pool(asset), foreign, etm,
            amount_in=amount, min_out=int(quote["amount_out"]), user_foreign_key=user_key,
            user_etm_address20=self.user.etm_address20, now_s=int(time.time()),
        )  # fmt: skip
        submit_swap_intent(
            self.client, self.user.etm_key, asset, hashlock, amount, terms.counter_leg.amount
        )
        return self._create(terms, preimage)

    def start_swap_out(self, amount_etm: int, asset: str = "btc") -> SwapTerms:
        """ETM -> BTC/ETH at the pool's current quote."""
        quote = self.client.quote(asset, "etm_to_asset", amount_etm)
        preimage = new_preimage()
        hashlock = sha256(preimage)
        foreign, etm = self.chains(FOREIGN[asset])
        user_key = self.user.btc_pubkey if asset == "btc" else self.user.eth_address20
        terms = swap_out_terms(
            hashlock.hex()[:16], hashlock, self.pool(asset), foreign, etm,
            amount_in=amount_etm, min_out=int(quote["amount_out"]), user_foreign_key=user_key,
            user_etm_address20=self.user.etm_address20, now_s=int(time.time()),
        )  # fmt: skip
        return self._create(terms, preimage)

    def start_abandoned(self, amount_sat: int, etm_amount: int) -> SwapTerms:
        """A direct BTC -> ETM offer to the operator's keys that the operator never takes up
        (it is never given the terms): the user's BTC lock refunds at its timelock."""
        preimage = new_preimage()
        hashlock = sha256(preimage)
        btc, etm = self.chains()
        now = int(time.time())
        terms = SwapTerms(
            hashlock.hex()[:16], SwapDirection.ETM_TO_FOREIGN, hashlock,
            LegTerms("bitcoin", amount_sat, self.operator.btc_pubkey, self.user.btc_pubkey,
                     btc.tip_height + ABANDONED_TIMELOCK_BLOCKS),
            LegTerms("etm", etm_amount, self.user.etm_address20, self.operator.etm_address20,
                     etm.tip_height + 3600),
            now, now + 600, 2,
        )  # fmt: skip
        return self._create(terms, preimage)

    # --- driving both engines ------------------------------------------------------------------

    def tick(self, mine_blocks: int = 1) -> None:
        pools = {}
        for asset, chain in FOREIGN.items():
            if chain in self.op_ad and any(p["asset"] == asset for p in self.client.pools()):
                pools[asset] = (self.pool(asset), self.chains(chain)[0])
        etm = self.chains()[1]
        followed = self.follower.follow(pools, etm, int(time.time()))
        for u in followed.unfollowed:
            self.unfollowed.append(u)
            self.log.append(f"operator: CANNOT FOLLOW pool swap {u.swap_id}: {u.reason}")
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
