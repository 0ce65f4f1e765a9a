"""htlc_activity on anvil: the preimage hashes of the HTLC's Locked / Claimed / Refunded events
in a block range (one eth_getLogs), so the swap watcher examines only the swaps a block touched."""

from __future__ import annotations

import pytest

from etm_bridge.adapter import HtlcTerms
from etm_bridge.errors import ValidationError
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.preimages import new_preimage


def _terms(us, them, hashlock: bytes, blocks: int) -> HtlcTerms:
    return HtlcTerms(10**15, hashlock, them.our_key(), us.our_key(), us.tip().height + blocks)


def _quiet(eth_mine, adapter, blocks: int) -> tuple[int, int]:
    start = adapter.tip().height + 1
    eth_mine(blocks)
    return start, adapter.tip().height


def test_lock_and_claim_are_reported_in_their_blocks_and_quiet_blocks_are_empty(
    adapters, parties, eth_mine
) -> None:
    us, them = (adapters(i) for i in parties)
    preimage = new_preimage()
    terms = _terms(us, them, hashlock_of(preimage), blocks=50)
    lock = us.lock(terms)
    assert lock.block_height is not None
    assert them.htlc_activity(lock.block_height, lock.block_height) == {terms.hashlock}
    quiet = _quiet(eth_mine, us, 3)
    assert them.htlc_activity(*quiet) == set()
    spend = them.claim(them.get_lock(lock.lock_id), preimage)
    assert spend.block_height is not None
    assert us.htlc_activity(spend.block_height, spend.block_height) == {terms.hashlock}
    assert us.htlc_activity(lock.block_height, spend.block_height) == {terms.hashlock}
    assert us.htlc_activity(*quiet) == set()


def test_a_refund_is_reported_and_two_swaps_in_one_range_are_both_seen(
    adapters, parties, eth_mine
) -> None:
    us, them = (adapters(i) for i in parties)
    first, second = hashlock_of(new_preimage()), hashlock_of(new_preimage())
    start = us.tip().height + 1
    lock = us.lock(_terms(us, them, first, blocks=3))
    us.lock(_terms(us, them, second, blocks=100))
    assert them.htlc_activity(start, us.tip().height) == {first, second}
    eth_mine(3)
    refund = us.refund(us.get_lock(lock.lock_id))
    assert refund.block_height is not None
    assert them.htlc_activity(refund.block_height, refund.block_height) == {first}


def test_ranges_beyond_the_tip_or_before_the_contract_are_answered_and_bad_ones_refused(
    adapters, parties
) -> None:
    us = adapters(parties[0])
    tip = us.tip().height
    assert us.htlc_activity(tip + 1, tip + 10) == set()  # not mined yet: nothing happened
    assert us.htlc_activity(0, 0) == set()  # before the contract existed
    with pytest.raises(ValidationError, match="start_height"):
        us.htlc_activity(-1, tip)
