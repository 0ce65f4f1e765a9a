"""htlc_activity on the regtest node: the hashlocks a range of blocks (and the mempool) touched.

The swap watcher relies on it to examine only the swaps a new block concerns, so it must never
miss a lock, claim or refund of a watched hashlock, and must report nothing for quiet blocks.
"""

from __future__ import annotations

import pytest

from etm_bridge.adapter import HtlcTerms
from etm_bridge.errors import ValidationError
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.preimages import new_preimage

AMOUNT = 150_000


def _terms(locker, claimer, hashlock: bytes, blocks: int = 10) -> HtlcTerms:
    return HtlcTerms(
        AMOUNT, hashlock, claimer.our_key(), locker.our_key(), locker.tip().height + blocks
    )


def _mine_quiet(bitcoin_node, blocks: int) -> tuple[int, int]:
    """Mine ``blocks`` blocks holding only their coinbase; returns their height range."""
    assert bitcoin_node.rpc.call("getrawmempool") == []
    start = bitcoin_node.height() + 1
    bitcoin_node.mine(blocks)
    return start, bitcoin_node.height()


def test_a_lock_and_its_claim_are_reported_in_their_blocks_and_quiet_blocks_are_empty(
    btc_party, bitcoin_node
) -> None:
    (us, _), (them, _) = btc_party(), btc_party()
    preimage = new_preimage()
    terms = _terms(us, them, hashlock_of(preimage))
    them.watch_hashlock(terms.hashlock)  # the counterparty's watcher follows this swap
    before = bitcoin_node.height()
    lock = us.lock(terms)
    assert them.htlc_activity(before + 1, before) == {terms.hashlock}  # in the mempool
    bitcoin_node.mine(1)
    lock_height = bitcoin_node.height()
    assert them.htlc_activity(lock_height, lock_height) == {terms.hashlock}
    assert us.htlc_activity(lock_height, lock_height) == set()  # never told to watch it
    quiet = _mine_quiet(bitcoin_node, 2)
    assert them.htlc_activity(*quiet) == set()
    [found] = them.find_locks(terms.hashlock)
    them.claim(found, preimage)
    assert us.htlc_activity(quiet[1] + 1, quiet[1]) == {terms.hashlock}  # claim in the mempool
    bitcoin_node.mine(1)
    claim_height = bitcoin_node.height()
    # a claim reveals its script (and the preimage): reported even where nobody watches
    assert us.htlc_activity(claim_height, claim_height) == {terms.hashlock}
    assert them.htlc_activity(lock_height, claim_height) == {terms.hashlock}
    assert them.htlc_activity(*quiet) == set()
    assert lock.lock_id == found.lock_id


def test_a_refund_is_reported_and_other_hashlocks_stay_out(btc_party, bitcoin_node) -> None:
    (us, _), (them, _) = btc_party(), btc_party()
    mine, other = hashlock_of(new_preimage()), hashlock_of(new_preimage())
    terms = _terms(us, them, mine, blocks=3)
    lock = us.lock(terms)
    them.watch_hashlock(other)  # watches another swap only
    bitcoin_node.mine(1)
    lock_height = bitcoin_node.height()
    assert them.htlc_activity(lock_height, lock_height) == set()
    them.watch_hashlock(mine)  # a lock already scanned is matched against it too
    assert them.htlc_activity(lock_height, lock_height) == {mine}
    bitcoin_node.mine(terms.timelock_height - bitcoin_node.height())
    us.refund(lock)
    bitcoin_node.mine(1)
    refund_height = bitcoin_node.height()
    assert us.htlc_activity(refund_height, refund_height) == {mine}


def test_blocks_below_the_birth_height_are_refused(btc_party) -> None:
    us, config = btc_party()
    with pytest.raises(ValidationError, match="birth height"):
        us.htlc_activity(config["birth_height"] - 1, us.tip().height)
