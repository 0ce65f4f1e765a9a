"""A swap whose Bitcoin claim is left out of blocks is bumped by the watcher as the claim's
deadline nears, confirms before it, and the swap ends ``claimed_both``; a crash between a bump's
broadcast and its record loses nothing (real bcoin or Bitcoin Core, real anvil).

The operator claims the user's BTC lock at 1 sat/vB (``fee_rate_sat_vb``); the test's blocks
hold only packages paying >= 5 sat/vB (tests/fee_market.py), so the claim stays in the mempool
until the engine's schedule (``core/bumps.py``: inside 6 blocks of the deadline, 2, 4, 8 sat/vB)
lifts it: by replacement on Core, a CPFP child on bcoin. The first bump "crashes" the operator
right after the node accepted it (before the watcher records it); a new watcher on the same
database resolves the bump from the chain and carries on.
"""

from __future__ import annotations

from typing import ClassVar

import pytest
from etm_bridge_bitcoin import BitcoinAdapter
from fee_market import mine_above
from swap_world import BTC_SAT, CONFIG, SwapWorld

from etm_bridge.adapter import BumpMethod, HtlcLock, HtlcSpend
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.swaps.core.model import ActionKind, Outcome
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.swaps.runtime.watcher import Watcher

MARKET = 5  # sat/vB the test's blocks demand


class Crash(BaseException):
    """The process dies (nothing catches a BaseException that is not an Exception)."""


class CrashAfterBump(BitcoinAdapter):
    """The operator's adapter: its first bump reaches the node, then the process dies."""

    crashed: ClassVar[list[str]] = []

    def bump_spend(
        self, lock: HtlcLock, spend: HtlcSpend, rate: int, method: BumpMethod
    ) -> HtlcSpend:
        bumped = super().bump_spend(lock, spend, rate, method)
        if not self.crashed:
            self.crashed.append(bumped.txid)
            raise Crash(f"crash after broadcasting the bump to {rate} sat/vB")
        return bumped


@pytest.fixture
def world(bitcoin_node, anvil_node, tmp_path):
    world = SwapWorld(bitcoin_node, anvil_node, tmp_path)
    world.configs[Role.USER]["bitcoin"]["fee_rate_sat_vb"] = 10  # the user's lock is mined
    world.configs[Role.OPERATOR]["bitcoin"]["fee_rate_sat_vb"] = 1  # the claim is not
    return world


def _watcher(world: SwapWorld, adapter_class: type[BitcoinAdapter]) -> Watcher:
    adapters = world.adapters(Role.OPERATOR)
    adapters["bitcoin"].close()
    adapters["bitcoin"] = adapter_class.from_config(world.configs[Role.OPERATOR]["bitcoin"])
    w = Watcher(SwapStore(world.db(Role.OPERATOR)), adapters, owner="operator", config=CONFIG)
    w.start()
    return w


def _mine(world: SwapWorld) -> None:
    mine_above(world.btc_node, MARKET)
    world.anvil.rpc.call("anvil_mine", "0x1")


def _claim_mined(op: Watcher, hashlock: bytes) -> HtlcSpend | None:
    """The operator's claim of the user's BTC lock once it is mined (None before)."""
    btc = op.adapters["bitcoin"]
    spend = btc.find_spend(btc.find_locks(hashlock)[0])
    return spend if spend is not None and spend.block_height is not None else None


def test_a_claim_left_out_of_blocks_is_bumped_confirms_in_time_and_survives_a_crash(
    world,
) -> None:
    terms = world.terms(user_blocks=20)
    world.create(terms)
    user, op = world.watcher(Role.USER), _watcher(world, CrashAfterBump)
    CrashAfterBump.crashed.clear()
    btc_before = op.adapters["bitcoin"].balance()
    try:
        for _ in range(40):
            if {world.state(r) for r in Role} == {SwapState.CLAIMED_BOTH} and _claim_mined(
                op, terms.hashlock
            ):
                break
            user.tick()
            try:
                op.tick()
            except Crash:
                op.stop()  # the lease of the dead process is gone; a new one starts
                op = _watcher(world, BitcoinAdapter)
            _mine(world)
        assert {world.state(r) for r in Role} == {SwapState.CLAIMED_BOTH}
        assert CrashAfterBump.crashed, "no bump happened"
        rec = op.store.get("real1")
        claims = rec.intents_of(ActionKind.CLAIM_USER_LOCK)
        bumps = [i for i in claims if i.result and "fee bump" in i.result.detail]
        found = [i for i in claims if i.result and i.result.outcome is Outcome.FOUND_ON_CHAIN]
        # the crashed bump was resolved from the chain (its txid, or the replacement's)
        assert [i.result.txid for i in found] == CrashAfterBump.crashed  # the live revision
        assert bumps and all(i.result.outcome is Outcome.BROADCAST for i in bumps)
        spend = _claim_mined(op, terms.hashlock)
        assert spend is not None and spend.block_height is not None
        assert spend.block_height <= terms.user_leg.timelock_height  # before the deadline
        received = op.adapters["bitcoin"].balance() - btc_before
        assert BTC_SAT * 95 // 100 <= received < BTC_SAT  # fees within 5 % of the amount
    finally:
        user.stop()
        op.stop()
        world.btc_node.mine(1)  # leave no low-fee transaction to the next test
