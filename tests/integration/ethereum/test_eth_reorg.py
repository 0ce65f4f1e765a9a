"""State comes from the chain: a lock whose block is reorged away is gone for every query, and
the nonce it used is handed out again (the persisted nonce of a dropped tx is not trusted)."""

from __future__ import annotations

import pytest

from etm_bridge.adapter import HtlcTerms
from etm_bridge.chains.ethereum.spv.rlp import to_int
from etm_bridge.errors import LockNotFoundError
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.preimages import new_preimage


def test_reorged_lock_disappears_and_its_nonce_is_reused(anvil_node, adapters, parties):
    us, them = (adapters(i) for i in parties)
    terms = HtlcTerms(
        amount=10**15,
        hashlock=hashlock_of(new_preimage()),
        claim_key=them.our_key(),
        refund_key=us.our_key(),
        timelock_height=us.tip().height + 10,
    )
    lock = us.lock(terms)
    lock_nonce = to_int(us.node.transaction("0x" + lock.txid)["nonce"], "nonce")
    assert lock.block_height == us.tip().height  # the lock is alone in the newest block
    anvil_node.rpc.call("anvil_reorg", 1, [])
    assert them.find_locks(terms.hashlock) == []
    with pytest.raises(LockNotFoundError):
        them.get_lock(lock.lock_id)
    relock = us.lock(terms)
    assert relock.lock_id == lock.lock_id
    assert to_int(us.node.transaction("0x" + relock.txid)["nonce"], "nonce") == lock_nonce
