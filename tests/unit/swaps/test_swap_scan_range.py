"""A lock the adapter cannot see (below its scan range) is a reported condition, never a reorg.

Seen when the demo ran twice on one stack: a second Bitcoin adapter built with a
``birth_height`` above an old lock found no lock, and the engine read "not found" as "the claim
was reorganised out", moving a finished swap from ``claimed_both`` back to ``secret_revealed``.
A reorg event must come only from a recorded block no longer being the best chain's block.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from worldkit import CONFIG, World

from etm_bridge.adapter import HtlcLock
from etm_bridge.errors import ScanRangeError
from etm_bridge.swaps.core.events import next_event
from etm_bridge.swaps.core.fsm import Role, SwapDirection, SwapState
from etm_bridge.swaps.core.model import DepKind
from etm_bridge.swaps.core.views import LegView, SwapView
from etm_bridge.swaps.runtime.observe import observe, settled
from etm_bridge.testing.fake import FakeAdapter
from etm_bridge.testing.fakechain import FakeChain


class BirthHeightFakeAdapter(FakeAdapter):
    """Indexes blocks from ``birth_height`` only, as the Bitcoin adapter does: locks mined
    below it are invisible to ``find_locks``."""

    def __init__(self, chain: FakeChain, secret: bytes, birth_height: int) -> None:
        super().__init__(chain, secret)
        self.birth_height = birth_height

    def scan_start_height(self) -> int:
        return self.birth_height

    def find_locks(self, hashlock: bytes) -> list[HtlcLock]:
        return [
            lk
            for lk in super().find_locks(hashlock)
            if lk.block_height is None or lk.block_height >= self.birth_height
        ]


def _finished_world(tmp_path) -> World:
    world = World(tmp_path, SwapDirection.FOREIGN_TO_ETM)
    world.create()
    world.run_until(lambda: world.both_end(SwapState.CLAIMED_BOTH))
    world.step()  # both watchers record the claim's block
    return world


def test_a_second_adapter_born_above_the_lock_does_not_reorg_a_claimed_swap(tmp_path) -> None:
    world = _finished_world(tmp_path)
    rec = world.user.store.get("w1")
    claim = next(r for r in rec.depends_on if r.kind is DepKind.CLAIM)
    born = world.btc.tip_height + 1  # above the lock and its claim
    world.user_ad["btc"] = BirthHeightFakeAdapter(world.btc, b"user-secret-0123456789", born)
    world.user.stop()
    rerun = world.watcher(Role.USER)  # the demo's second run on the same stack
    rerun.start()
    report = rerun.tick()
    after = world.user.store.get("w1")
    assert after.state is SwapState.CLAIMED_BOTH
    assert after.depends_on == rec.depends_on
    assert [t.event for t in world.user.store.transitions("w1")][-1].value == "user_lock_claimed"
    rerun.stop()
    assert "birth_height" in report.errors["w1"]
    assert str(born) in report.errors["w1"] and str(claim.height) in report.errors["w1"]


def test_observe_names_the_scan_range_when_a_recorded_fact_is_invisible(tmp_path) -> None:
    world = _finished_world(tmp_path)
    rec = world.user.store.get("w1")
    adapters = dict(world.user_ad)
    born = world.btc.tip_height + 1
    adapters["btc"] = BirthHeightFakeAdapter(world.btc, b"user-secret-0123456789", born)
    tips = {"btc": world.btc.tip_height, "etm": world.etm.tip_height}
    with pytest.raises(ScanRangeError, match=f"birth_height {born}"):
        observe(rec, adapters, tips, None)


def test_an_absent_fact_with_an_intact_recorded_block_is_no_reorg_event(tmp_path) -> None:
    world = _finished_world(tmp_path)
    rec = world.user.store.get("w1")
    assert any(r.kind is DepKind.CLAIM for r in rec.depends_on)
    blind = SwapView(LegView("btc", world.btc.tip_height, 600), LegView("etm", 1, 600))
    assert next_event(rec, blind, int(world.clock())) is None
    removed = SwapView(blind.user, blind.counter, removed=frozenset({DepKind.CLAIM}))
    found = next_event(rec, removed, int(world.clock()))
    assert found is not None and found.event.value == "claim_reorged"


def test_without_a_recorded_block_only_a_seen_unspent_lock_undoes_a_claim(tmp_path) -> None:
    """A claim seen only in the mempool has no block to depend on: if its lock is seen again
    unspent, the claim was dropped (claim_reorged, so it is claimed again); if the lock is not
    seen at all, that is no evidence of anything and the swap stays claimed."""
    world = _finished_world(tmp_path)
    rec = replace(world.user.store.get("w1"), depends_on=())
    now = int(world.clock())
    [lock] = FakeAdapter(world.btc, b"user-secret-0123456789").find_locks(rec.terms.hashlock)
    counter = LegView("etm", world.etm.tip_height, 600)
    blind = SwapView(LegView("btc", world.btc.tip_height, 600), counter)
    assert next_event(rec, blind, now) is None
    unspent = SwapView(
        LegView("btc", world.btc.tip_height, 600, replace(lock, chain="btc")), counter
    )
    found = next_event(rec, unspent, now)
    assert found is not None and found.event.value == "claim_reorged"


def test_an_ended_swap_settles_once_its_blocks_are_buried(tmp_path) -> None:
    world = _finished_world(tmp_path)
    rec = world.user.store.get("w1")
    [ref] = [r for r in rec.depends_on if r.chain == "btc"]
    tips = {"btc": ref.height + 5, "etm": world.etm.tip_height}
    assert not settled(rec, tips, 7)
    assert settled(rec, tips, 6)
    assert not settled(rec, tips, 0)  # 0: follow reorgs of any depth
    assert not settled(replace(rec, state=SwapState.SECRET_REVEALED), tips, 6)  # not ended
    assert not settled(replace(rec, depends_on=()), tips, 6)  # nothing to measure depth by


def test_a_rerun_born_above_a_settled_swap_does_not_look_at_it(tmp_path) -> None:
    world = _finished_world(tmp_path)
    world.mine(CONFIG.settle_depth_blocks)
    world.user.stop()
    born = world.btc.tip_height + 1
    world.user_ad["btc"] = BirthHeightFakeAdapter(world.btc, b"user-secret-0123456789", born)
    rerun = world.watcher(Role.USER)
    rerun.start()
    try:
        report = rerun.tick()
    finally:
        rerun.stop()
    assert report.examined == 0 and not report.errors
    assert world.user.store.get("w1").state is SwapState.CLAIMED_BOTH
