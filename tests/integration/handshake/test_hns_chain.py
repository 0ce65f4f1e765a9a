"""The Handshake adapter's reading of the real chain: our codec and Merkle tree against hsd's
own blocks, inclusion proofs of every transaction of a busy block, and a reorg."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from etm_bridge_handshake import HandshakeAdapter
from etm_bridge_handshake.proofs import (
    MERKLE_ROOT,
    block_inclusion_proof,
    merkle_root,
    parse_block,
    verify_handshake_merkle_proof,
)
from etm_bridge_regtest.hsd import HsdNode

from etm_bridge.adapter import HtlcTerms
from etm_bridge.errors import LockNotFoundError, RPCAlreadyInChainError
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.preimages import new_preimage

Party = Callable[..., tuple[HandshakeAdapter, dict]]


def test_blocks_parse_and_every_transaction_proves(hns_party: Party, hsd_node: HsdNode) -> None:
    us, _ = hns_party()
    them, _ = hns_party()
    for _ in range(4):  # wallet payments, a lock and its change: a block of several txs
        hsd_node.fund(us.address(), 1_000_000, confirm=False)
    terms = HtlcTerms(1_000_000, hashlock_of(new_preimage()), them.our_key(), us.our_key(),
                      us.tip().height + 10)  # fmt: skip
    lock = us.lock(terms)
    [block_hash] = hsd_node.mine(1)
    raw = bytes.fromhex(hsd_node.rpc.call("getblock", block_hash, False))
    header, txs = parse_block(raw)
    verbose = hsd_node.rpc.call("getblock", block_hash, True)
    assert [t.txid_hex for t in txs] == verbose["tx"]
    assert len(txs) >= 6 and lock.txid in verbose["tx"]
    assert merkle_root([t.txid for t in txs]) == header[MERKLE_ROOT]
    assert bytes.fromhex(verbose["merkleroot"]) == header[MERKLE_ROOT]
    [lock_tx] = [t for t in txs if t.txid_hex == lock.txid]
    with pytest.raises(RPCAlreadyInChainError) as info:  # as bitcoind: -27, already in a block
        us.node.broadcast(lock_tx)
    assert info.value.code == -27
    for tx in txs:
        assert tx.encode() in raw
        proof = block_inclusion_proof(raw, verbose["height"], tx.txid_hex)
        verify_handshake_merkle_proof(proof)


def test_a_reorg_takes_the_lock_away_and_gives_the_coins_back(
    hns_party: Party, hsd_node: HsdNode
) -> None:
    """The index is a cache of the chain: a block taken back by a reorg takes its lock with it
    (hsd drops the block's transactions rather than returning them to its mempool), and the
    coin the lock spent is ours again, so locking again works."""
    us, _ = hns_party()
    them, _ = hns_party()
    terms = HtlcTerms(1_000_000, hashlock_of(new_preimage()), them.our_key(), us.our_key(),
                      us.tip().height + 10)  # fmt: skip
    before = us.balance()
    lock = us.lock(terms)
    [block] = hsd_node.mine(1)
    assert them.get_lock(lock.lock_id).block_height is not None
    assert us.balance() < before
    hsd_node.rpc.call("invalidateblock", block)
    hsd_node.mine(2)  # a longer chain without the lock
    with pytest.raises(LockNotFoundError):
        them.get_lock(lock.lock_id)
    assert them.find_locks(terms.hashlock) == []
    assert us.balance() == before
    again = us.lock(terms)
    hsd_node.mine(1)
    assert [found.lock_id for found in them.find_locks(terms.hashlock)] == [again.lock_id]


def test_htlc_activity_reports_locks_and_spends_by_height(
    hns_party: Party, hsd_node: HsdNode
) -> None:
    """The swap watcher's question, as for Bitcoin: which hashlocks did these blocks touch?"""
    us, _ = hns_party()
    them, _ = hns_party()
    preimage = new_preimage()
    hashlock = hashlock_of(preimage)
    us.watch_hashlock(hashlock)
    start = us.tip().height
    terms = HtlcTerms(1_000_000, hashlock, us.our_key(), them.our_key(), start + 10)
    lock = them.lock(terms)
    assert hashlock in us.htlc_activity(start, start)  # unconfirmed, at the tip
    hsd_node.mine(1)
    assert us.htlc_activity(start + 1, start + 1) == {hashlock}
    assert us.htlc_activity(start, start) == set()
    us.claim(us.get_lock(lock.lock_id), preimage)
    hsd_node.mine(1)
    assert us.htlc_activity(start + 2, start + 2) == {hashlock}
    assert them.htlc_activity(start + 2, start + 2) == {hashlock}  # spends reveal the script
