"""The watcher's block scan with scanners that behave like the real adapters' ``htlc_activity``.

- A scanner that cannot see a new lock's hashlock by itself (the Bitcoin adapter: a P2WSH output
  hides it) reports locks only for hashlocks it was told to ``watch_hashlock``: the watcher tells
  it every tracked swap's hashlock, so swaps still run to the end while quiet blocks examine none.
- A scanner that fails makes the watcher examine every swap on that chain (never miss one).
"""

from __future__ import annotations

import json

from chainkit import ScanningFakeAdapter
from worldkit import OP_SECRET, USER_SECRET, World

from etm_bridge.errors import ChainError
from etm_bridge.swaps.core.fsm import Role, SwapDirection, SwapState


class HidingScanner(ScanningFakeAdapter):
    """Reports a lock only if its hashlock is watched; claims and refunds always."""

    def __init__(self, chain, secret: bytes) -> None:
        super().__init__(chain, secret)
        self.watched: set[bytes] = set()

    def watch_hashlock(self, hashlock: bytes) -> None:
        self.watched.add(hashlock)

    def htlc_activity(self, start_height: int, end_height: int) -> set[bytes]:
        found: set[bytes] = set()
        for block in self.chain.blocks[start_height : end_height + 1]:
            for body in (json.loads(raw) for raw in block.txs):
                if body["type"] == "lock" and bytes.fromhex(body["hashlock"]) in self.watched:
                    found.add(bytes.fromhex(body["hashlock"]))
                elif body["type"] in ("claim", "refund"):
                    found.add(self.chain.locks[body["lock"]].terms.hashlock)
        return found


class FailingScanner(ScanningFakeAdapter):
    """Its scan fails while ``failing`` is set."""

    failing = True

    def htlc_activity(self, start_height: int, end_height: int) -> set[bytes]:
        if self.failing:
            raise ChainError("scan failed")
        return super().htlc_activity(start_height, end_height)


def _world(tmp_path, direction: SwapDirection, kind: type[ScanningFakeAdapter]) -> World:
    world = World(tmp_path, direction, scanning=True)
    for watcher, secret in ((world.user, USER_SECRET), (world.op, OP_SECRET)):
        watcher.adapters["btc"] = kind(world.btc, secret)
    return world


def test_a_scanner_hiding_hashlocks_is_told_every_swap_and_swaps_still_finish(tmp_path) -> None:
    for direction in SwapDirection:
        world = _world(tmp_path / direction.value, direction, HidingScanner)
        world.idle_operator_swaps(100)
        world.create()
        op_btc = world.op.adapters["btc"]
        assert isinstance(op_btc, HidingScanner)
        assert len(op_btc.watched) == 101  # every tracked swap's hashlock, before any scan
        world.op.tick()  # the first look at every swap
        assert max(world.examined_per_block(3)) <= 1
        world.run_until(lambda w=world: w.both_end(SwapState.CLAIMED_BOTH))
        idle = [world.op.store.get(f"idle{i}").state for i in range(100)]
        assert set(idle) == {SwapState.CREATED}


def test_the_user_lock_is_seen_in_the_block_that_mines_it(tmp_path) -> None:
    world = _world(tmp_path, SwapDirection.FOREIGN_TO_ETM, HidingScanner)
    world.idle_operator_swaps(50)
    world.create()
    world.op.tick()
    world.user.tick()  # the user locks BTC (the lock waits in the mempool)
    assert world.btc.mempool
    world.mine()
    report = world.op.tick()
    assert report.examined == 1
    assert world.state(Role.OPERATOR) is not SwapState.CREATED


def test_a_failing_scan_examines_every_swap_on_the_chain_then_scans_again(tmp_path) -> None:
    world = _world(tmp_path, SwapDirection.FOREIGN_TO_ETM, FailingScanner)
    world.idle_operator_swaps(20)
    world.create()
    world.op.tick()
    # the scan fails (every swap), then the tick after it has no scan point (every swap)
    assert world.examined_per_block(2) == [21, 21]
    world.op.adapters["btc"].failing = False
    assert max(world.examined_per_block(3)) <= 1  # scanning again
