"""The one fork-point function: a node's best chain against a relay, before and after a reorg.

(The cases of the former ``spv.relayer`` tests: what a relayer sends is what follows the fork
point, and a node without the relay's checkpoint agrees nowhere.)
"""

from __future__ import annotations

from spv_testkit import mine_chain

from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.params import REGTEST
from etm_bridge.spv.fork_point import common_height
from etm_bridge.spv.kvstore import MemoryKeyValueStore

T0, NOW, BITS = 1_700_000_000, 2_000_000_000, 0x207FFFFF


def _relay() -> BitcoinRelay:
    return BitcoinRelay.initialise(MemoryKeyValueStore(), REGTEST, Checkpoint.genesis(REGTEST))


def _fork_point(relay: BitcoinRelay, chain: list[bytes]) -> int | None:
    """Where a node whose best chain is ``chain`` (after genesis) and the relay agree."""
    full = [REGTEST.genesis_header, *chain]

    def agree(height: int) -> bool:
        return height < len(full) and bh.dsha256(full[height]) == relay.best_hash_at(height)

    top = min(relay.tip().height, len(full) - 1)
    return common_height(top, agree, floor=relay.checkpoint_height)


def test_what_is_missing_follows_the_fork_point_also_after_a_node_reorg() -> None:
    relay = _relay()
    old = mine_chain(bh.dsha256(REGTEST.genesis_header), T0, 6, bits=BITS)
    assert _fork_point(relay, old) == 0  # the relay holds only the checkpoint
    for start in (0, 4):
        relay.submit_headers(old[start : start + 4], NOW)
    assert _fork_point(relay, old) == 6  # nothing missing
    new = old[:3] + mine_chain(bh.dsha256(old[2]), T0 + 90_000, 5, bits=BITS)
    assert _fork_point(relay, new) == 3
    assert relay.submit_headers(new[3:], NOW).reorg
    assert _fork_point(relay, new) == 8


def test_a_node_without_the_checkpoint_agrees_nowhere() -> None:
    relay = _relay()
    assert common_height(relay.tip().height, lambda h: False, floor=0) is None


def test_the_walk_stops_at_the_floor_and_returns_the_highest_agreement() -> None:
    asked: list[int] = []

    def agree(height: int) -> bool:
        asked.append(height)
        return height <= 4

    assert common_height(9, agree, floor=2) == 4 and asked == [9, 8, 7, 6, 5, 4]
    assert common_height(9, lambda h: False, floor=7) is None
    assert common_height(1, lambda h: True, floor=3) is None  # an empty range
