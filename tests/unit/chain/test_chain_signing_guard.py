"""Never sign twice: a reorg that takes a forger's block away does not make it sign that slot
again (the attack it prevents is performed first, without protection, as a baseline)."""

from __future__ import annotations

from typing import Any

import pytest

from etm_bridge.chain.block import Block
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.signing_guard import MemorySigningGuard
from etm_bridge.errors import SigningRefusedError
from etm_bridge.store import ChainStore

SLOT = 5


def _partitioned(make_dev_chain: Any) -> tuple[Any, Chain, Block, list[Block]]:
    """Node A forged the only block of its side at SLOT; the other side forged slots 1..3."""
    dev = make_dev_chain(n_delegates=3, per_round=5)  # all in round 1: one order
    node_a = Chain(ChainStore.memory(), dev.cfg)
    now = dev.params.slot_time(SLOT)
    mine = node_a.forge_next(now, dev.keys)
    assert mine is not None and dev.params.slot_of(mine.header.timestamp) == SLOT
    other_side = [dev.forge() for _ in range(3)]
    assert [dev.params.slot_of(b.header.timestamp) for b in other_side] == [1, 2, 3]
    for block in other_side:  # the partition heals: the longer branch wins, A's block is gone
        node_a.apply_block(block)
    assert node_a.tip.block_id == other_side[-1].id
    return dev, node_a, mine, other_side


def test_baseline_without_protection_a_reorg_makes_the_forger_double_sign(
    make_dev_chain: Any,
) -> None:
    dev, node_a, mine, _ = _partitioned(make_dev_chain)
    forger = {mine.header.generator_public_key: dev.keys[mine.header.generator_public_key]}
    amnesiac = MemorySigningGuard()  # a guard that forgot (a restart without a record)
    again = node_a.forge_next(dev.params.slot_time(SLOT), forger, amnesiac)
    assert again is not None and again.id != mine.id
    assert dev.params.slot_of(again.header.timestamp) == SLOT  # two blocks, one slot: slashable
    [evidence] = node_a.evidence_to_slash()  # its own node already holds the proof against it
    assert {evidence.first.id, evidence.second.id} == {mine.id, again.id}


def test_with_protection_the_forger_refuses_to_sign_the_slot_again(make_dev_chain: Any) -> None:
    dev, node_a, mine, _ = _partitioned(make_dev_chain)
    forger = {mine.header.generator_public_key: dev.keys[mine.header.generator_public_key]}
    before = node_a.status()
    with pytest.raises(SigningRefusedError, match=f"refusing to sign slot {SLOT}"):
        node_a.forge_next(dev.params.slot_time(SLOT), forger)  # the chain's own guard
    assert node_a.status() == before
    later = dev.params.slot_time(SLOT + 3)  # the same delegate's next slot in the order
    assert node_a.forge_next(later, dev.keys) is not None


def test_memory_guard_rule() -> None:
    guard = MemorySigningGuard()
    guard.approve(b"k" * 32, 10, b"r" * 32)
    for slot in (10, 9, 0):
        with pytest.raises(SigningRefusedError):
            guard.approve(b"k" * 32, slot, b"s" * 32)
    guard.approve(b"k" * 32, 11, b"s" * 32)
    guard.approve(b"j" * 32, 3, b"s" * 32)  # per key
