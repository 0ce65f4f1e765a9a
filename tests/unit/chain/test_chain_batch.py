"""Applying history fast without weakening a rule: savepoints, batches, the read cache, blocks
verified ahead (``Chain.batch``, ``ChainStore.atomic``, ``Chain.preverify``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import DevChain, addr

from etm_bridge.chain.block import Block, merkle_root
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.preverify import Preverified, PreverifiedCache
from etm_bridge.errors import BlockRejectedError
from etm_bridge.store import ChainStore


def _history(dev: DevChain, n: int) -> list[Block]:
    blocks = []
    for i in range(n):
        dev.chain.submit_tx(dev.transfer(dev.users[i % 5], addr(dev.users[(i + 1) % 5]), 10 + i))
        blocks.append(Block.decode(dev.forge().encoded))
    return blocks


def test_a_nested_atomic_is_a_savepoint_that_rolls_back_alone(dev: DevChain) -> None:
    store = dev.chain.store
    a, b = ("accounts", b"a" * 20), ("accounts", b"b" * 20)
    with store.atomic():
        store._write_changes({a: b"1" * 16})
        with pytest.raises(RuntimeError), store.atomic():
            store._write_changes({a: b"2" * 16, b: b"3" * 16})
            assert store.get(*a) == b"2" * 16  # read your writes (cached)
            raise RuntimeError("this block fails")
        assert store.get(*a) == b"1" * 16 and store.get(*b) is None  # the cache forgot it too
        with store.atomic():
            store._write_changes({b: b"4" * 16})
    assert store.get(*a) == b"1" * 16 and store.get(*b) == b"4" * 16
    assert not store.in_transaction


def test_a_batch_is_one_transaction_and_a_refused_block_leaves_the_others(
    tmp_path: Path, dev: DevChain
) -> None:
    blocks = _history(dev, 9)
    path = tmp_path / "c.sqlite"
    chain = Chain(ChainStore.open(path), dev.cfg)
    bad = Block(replace(blocks[5].header, block_signature=bytes(64)), blocks[5].transactions)
    with chain.batch():
        for block in blocks[:5]:
            assert chain.apply_block(block)
        with pytest.raises(BlockRejectedError) as info:
            chain.apply_block(bad)
        assert info.value.reason == "bad_signature" and chain.tip.height == 5
        other = ChainStore.open(path)  # another connection sees nothing before the commit
        assert other.tip_height() == 0
        other.close()
        assert chain.apply_block(blocks[5])
    reopened = ChainStore.open(path)
    try:
        assert reopened.tip_height() == 6
        assert reopened.digest_at(6) == dev.chain.store.digest_at(6)
    finally:
        reopened.close()
    for block in blocks[6:]:
        assert chain.apply_block(block)
    assert chain.store.full_state_digest() == dev.chain.store.full_state_digest()  # type: ignore[attr-defined]


def test_an_exception_out_of_a_batch_rolls_all_of_it_back(dev: DevChain) -> None:
    blocks = _history(dev, 6)
    chain = Chain(ChainStore.memory(), dev.cfg)
    assert chain.apply_block(blocks[0])
    committed = (chain.status(), chain.store.full_state_digest())  # type: ignore[attr-defined]
    with pytest.raises(KeyboardInterrupt), chain.batch():
        for block in blocks[1:]:
            chain.apply_block(block)
        assert chain.tip.height == 6 and chain.finalized_height() > 1
        raise KeyboardInterrupt  # a crash of the caller, not of a block
    assert (chain.status(), chain.store.full_state_digest()) == committed  # type: ignore[attr-defined]
    assert chain.finalized_height() <= 1  # finality computed inside the batch is forgotten
    for block in blocks[1:]:
        assert chain.apply_block(block)
    assert chain.status()["stateDigest"] == dev.chain.status()["stateDigest"]


def test_a_failed_reorg_inside_a_batch_rolls_back_exactly(make_dev_chain: Any) -> None:
    dev = make_dev_chain(n_delegates=3, per_round=3)
    a = Chain(ChainStore.memory(), dev.cfg)
    a.apply_block(dev.forge())
    start = dev.now
    a_block = a.forge_next(start + 1, dev.keys)
    assert a_block is not None
    before = (a.status(), a.store.full_state_digest())  # type: ignore[attr-defined]
    dev.now = start + 1
    b1, b2 = dev.forge(), dev.forge()
    if b1.id == a_block.id:
        pytest.skip("branches coincided")
    bad = Block(replace(b2.header, block_signature=bytes(64)), b2.transactions)
    with a.batch():
        assert a.apply_block(b1)  # a side block (equal length)
        with pytest.raises(BlockRejectedError):
            a.apply_block(bad)  # longer branch, invalid: the reorg (revert + apply) rolls back
        assert (a.status(), a.store.full_state_digest()) == before  # type: ignore[attr-defined]
        assert a.apply_block(b2)  # the valid branch wins, inside the same batch
    assert a.store.full_state_digest() == dev.chain.store.full_state_digest()  # type: ignore[attr-defined]


def test_preverified_blocks_apply_and_a_result_vouches_for_its_own_block_only(
    dev: DevChain,
) -> None:
    blocks = _history(dev, 4)
    chain = Chain(ChainStore.memory(), dev.cfg)
    results = [chain.preverify(b) for b in blocks]
    assert all(r.beta is not None and len(r.tx_ids) == 1 for r in results)
    # block 1's result says nothing of another block with block 1's contents and a bad
    # signature: results are keyed by the id of the whole signed header
    chain.note_preverified(results)
    tampered = Block(replace(blocks[0].header, block_signature=bytes(64)), blocks[0].transactions)
    with pytest.raises(BlockRejectedError) as info:
        chain.apply_block(tampered)
    assert info.value.reason == "bad_signature"
    assert chain.preverify(tampered).beta is None  # a failure is no result: checked again
    for block in blocks:
        assert chain.apply_block(block)
    assert chain.status()["stateDigest"] == dev.chain.status()["stateDigest"]


def test_a_bad_transaction_signature_is_caught_even_when_the_header_verified(
    dev: DevChain,
) -> None:
    [block] = _history(dev, 1)
    forged_tx = replace(block.transactions[0], signature=bytes(64))
    header = replace(block.header, payload_hash=merkle_root([forged_tx.id]), nonce=0)
    key = dev.keys[header.generator_public_key]
    header = header.solve(dev.params.hash_target).signed(key, dev.chain.genesis_id)
    evil = Block(header, (forged_tx,))  # a validly signed header over a forged transaction
    chain = Chain(ChainStore.memory(), dev.cfg)
    result = chain.preverify(evil)
    assert result.beta is not None and forged_tx.id not in result.tx_ids
    chain.note_preverified([result])
    with pytest.raises(BlockRejectedError) as info:
        chain.apply_block(evil)
    assert info.value.reason == "invalid_transaction" and "bad_signature" in info.value.detail


def test_the_tip_cache_follows_a_revert(dev: DevChain) -> None:
    _history(dev, 3)
    chain = dev.chain
    assert chain.tip.height == 3
    chain.store.revert_tip()  # type: ignore[attr-defined]
    assert chain.tip.height == 2 and chain.tip.block_id == chain.block_by_height(2).id


def test_a_reorg_in_a_batch_that_is_rolled_back_leaves_the_old_chain_whole(
    make_dev_chain: Any,
) -> None:
    dev = make_dev_chain(n_delegates=3, per_round=3)
    a = Chain(ChainStore.memory(), dev.cfg)
    a.apply_block(dev.forge())
    start = dev.now
    a_block = a.forge_next(start + 1, dev.keys)
    assert a_block is not None
    before = (a.status(), a.store.full_state_digest())  # type: ignore[attr-defined]
    dev.now = start + 1
    b1, b2 = dev.forge(), dev.forge()
    if b1.id == a_block.id:
        pytest.skip("branches coincided")
    with pytest.raises(KeyboardInterrupt), a.batch():
        assert a.apply_block(b1) and a.apply_block(b2)  # the reorg to b1, b2 succeeds ...
        assert a.tip.block_id == b2.id
        raise KeyboardInterrupt  # ... and the batch around it dies
    assert (a.status(), a.store.full_state_digest()) == before  # type: ignore[attr-defined]
    # memory is back on the old chain too: the branch applies again as a fork from the start
    assert a.apply_block(b1) and a.apply_block(b2) and a.tip.block_id == b2.id
    assert a.store.full_state_digest() == dev.chain.store.full_state_digest()  # type: ignore[attr-defined]


def test_the_preverified_cache_is_bounded_in_entries_and_tx_ids() -> None:
    cache = PreverifiedCache(capacity=3, max_tx_ids=10)
    for i in range(5):
        cache.add(Preverified(bytes([i]) * 32, None, frozenset({bytes([i])})))
    assert len(cache) == 3 and cache.get(bytes(32)) is None  # the oldest went first
    big = Preverified(b"b" * 32, bytes(64), frozenset(bytes([i]) * 32 for i in range(9)))
    cache.add(big)  # 9 tx ids: only one other entry (1 id) still fits
    assert cache.get(big.block_id) is big and len(cache) == 2
    cache.add(big)  # again: counted once
    cache.discard(big.block_id)
    assert cache.get(big.block_id) is None and len(cache) == 1
    cache.add(big)
    assert len(cache) == 2
