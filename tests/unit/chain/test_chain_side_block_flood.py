"""A peer floods nodes with side blocks: well-formed, validly signed, by keys that may not forge.

Before ``side_blocks.check_side_block`` a block whose parent was a known non-tip block was kept in
memory (up to 1,000, each up to a 4 MiB payload) after a signature check only, and the peer layer
relays what ``apply_block`` accepts: anyone with a fresh key could fill every node's memory.
Now a side block passes every rule that does not need its branch's state, the generator
included, and an honest competing block is still kept (``test_chain_ledger`` reorg tests).
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import DevChain, addr

from etm_bridge.chain import vrf
from etm_bridge.chain.block import Block, BlockHeader, payload_summary
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.rounds import reveal_alpha, round_order
from etm_bridge.chain.tx import Tx
from etm_bridge.errors import BlockRejectedError
from etm_bridge.store import ChainStore


def _side_block(dev: DevChain, key: SigningKey, txs: tuple[Tx, ...] = (), **changes: Any) -> Block:
    """A block on the tip's parent (a fork one block deep), at the slot after the tip's."""
    tip = dev.chain.block_by_height(dev.chain.tip.height)
    parent = dev.chain.block_by_height(tip.height - 1)
    params = dev.params
    length, payload_hash = payload_summary(txs)
    fields: dict[str, Any] = dict(
        version=params.block_version, network=params.network_id,
        timestamp=params.slot_time(dev.chain.tip.slot + 1), height=tip.height,
        previous_block=parent.id, number_of_transactions=len(txs), total_amount=0,
        total_fee=sum(t.fee for t in txs), reward=params.block_reward, payload_length=length,
        payload_hash=payload_hash, generator_public_key=key.public_key,
        reveal=vrf.prove(key.seed, reveal_alpha(params.network_id, params.round_of(tip.height))),
    )  # fmt: skip
    fields.update(changes)
    header = BlockHeader(**fields).solve_and_sign(key, params.hash_target, dev.chain.genesis_id)
    return Block(header, txs)


def _tip_round_order(dev: DevChain) -> list[bytes]:
    """The order of the tip's round: the one a block on the tip's parent is scheduled by."""
    return round_order(dev.chain.store_view(), dev.params.round_of(dev.chain.tip.height))


def test_a_side_block_by_a_key_that_may_not_forge_is_not_kept(dev: DevChain) -> None:
    for _ in range(dev.params.delegates_per_round):
        dev.forge()
    outsider = dev_key("flooder")
    junk = tuple(dev.transfer(outsider, addr(dev.users[0]), 1, nonce=i) for i in range(200))
    tip_slot = dev.chain.tip.slot
    order = _tip_round_order(dev)
    scheduled = order[(tip_slot + 1) % len(order)]
    not_scheduled = next(k for k in dev.keys.values() if k.public_key != scheduled)
    for key in (outsider, not_scheduled):
        for i in range(3):
            block = _side_block(
                dev, key, junk[i:], timestamp=dev.params.slot_time(tip_slot + 1 + i)
            )
            with pytest.raises(BlockRejectedError) as info:
                dev.chain.apply_block(block)
            assert info.value.reason == "wrong_delegate"
    assert dev.chain._side == {}  # nothing held in memory (a private field: what the attack grew)
    # the scheduled delegate's competing block for that slot is a legitimate side block
    honest = _side_block(dev, dev.keys[scheduled])
    assert dev.chain.apply_block(honest) and dev.chain.tip.block_id != honest.id


def test_a_side_block_breaking_a_branch_independent_rule_is_refused(dev: DevChain) -> None:
    for _ in range(dev.params.delegates_per_round):
        dev.forge()
    order = _tip_round_order(dev)
    key = dev.keys[order[(dev.chain.tip.slot + 1) % len(order)]]
    cases = {
        "wrong_reward": {"reward": 0},
        "stale_slot": {
            "timestamp": dev.chain.block_by_height(dev.chain.tip.height - 1).header.timestamp
        },
        "bad_payload_hash": {"payload_hash": bytes(32)},
        "bad_reveal": {"reveal": vrf.prove(key.seed, b"another input")},
        "wrong_height": {"height": dev.chain.tip.height + 5},
    }
    for reason, changes in cases.items():
        with pytest.raises(BlockRejectedError) as info:
            dev.chain.apply_block(_side_block(dev, key, **changes))
        assert info.value.reason == reason, reason


def test_side_blocks_in_memory_are_bounded_in_bytes(
    dev: DevChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Valid side blocks (each slot's scheduled delegate, on the tip's parent) with large
    payloads: the node keeps the highest that fit the byte budget, not a thousand 4 MiB blocks."""
    for _ in range(dev.params.delegates_per_round):
        dev.forge()
    monkeypatch.setattr(type(dev.chain), "SIDE_BLOCK_BYTES_KEPT", 3 * 40_000)
    payer = dev_key("payer")
    txs = tuple(dev.transfer(payer, addr(dev.users[0]), 1, nonce=n) for n in range(250))
    order, slot = _tip_round_order(dev), dev.chain.tip.slot
    for i in range(1, 7):
        key = dev.keys[order[(slot + i) % len(order)]]
        block = _side_block(dev, key, txs, timestamp=dev.params.slot_time(slot + i))
        assert 35_000 < block.header.payload_length <= 40_000
        assert dev.chain.apply_block(block)  # valid, kept while it fits
    kept = dev.chain._side.values()
    assert len(kept) == 3 and sum(b.header.payload_length for b in kept) <= 3 * 40_000


def test_a_partition_branch_that_elected_its_own_orders_is_still_adopted(
    make_dev_chain: Any,
) -> None:
    """No false refusal: two sides of a partition forge for several rounds (each side elects and
    shuffles its own orders); the shorter side takes the longer branch block by block, through
    side blocks whose generators its own orders never scheduled."""
    dev = make_dev_chain(n_delegates=4, per_round=3)
    common = dev.forge()
    small = Chain(ChainStore.memory(), dev.cfg)
    assert small.apply_block(common)
    keys = sorted(dev.keys)
    side_a = {k: dev.keys[k] for k in keys[:1]}
    side_b = {k: dev.keys[k] for k in keys[1:]}
    start = dev.now
    for now in range(start + 1, start + 40):
        small.forge_next(now, side_a)
        dev.chain.forge_next(now, side_b)
    assert dev.chain.tip.height > small.tip.height + 3 and dev.params.round_of(small.tip.height) > 1
    branch = [dev.chain.block_by_height(h) for h in range(2, dev.chain.tip.height + 1)]
    view = small.store_view()
    unscheduled_here = [
        b for b in branch
        if (order := round_order(view, dev.params.round_of(b.height)))
        and order[dev.params.slot_of(b.header.timestamp) % len(order)]
        != b.header.generator_public_key
    ]  # fmt: skip
    assert unscheduled_here  # the small side's own orders would have refused these
    for block in branch:
        small.apply_block(block)
    assert small.tip.block_id == dev.chain.tip.block_id
    assert small.store.full_state_digest() == dev.chain.store.full_state_digest()
