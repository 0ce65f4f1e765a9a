"""State comes from the chain: a wiped data dir, the mempool, a block taken back (reorg).

The reorg test runs on its own throwaway node: bcoin's ``invalidateblock`` leaves its mempool
out of step with the chain ("Mempool/chain tip mismatch"), so that node cannot mine afterwards
(only the bitcoind branch of the test mines again).
"""

from __future__ import annotations

import secrets

from btc_support import adapter_config
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_bitcoin.index import load_index
from etm_bridge_regtest.throwaway import bitcoin_node_in

from etm_bridge.adapter import HtlcTerms, LockState
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.preimages import new_preimage

AMOUNT = 150_000


def _terms(locker, claimer, hashlock: bytes, blocks: int = 10) -> HtlcTerms:
    return HtlcTerms(
        amount=AMOUNT,
        hashlock=hashlock,
        claim_key=claimer.our_key(),
        refund_key=locker.our_key(),
        timelock_height=locker.tip().height + blocks,
    )


def test_adapter_with_an_empty_data_dir_finds_its_lock_and_refunds(
    btc_party, bitcoin_node, tmp_path
) -> None:
    (us, config), (them, _) = btc_party(), btc_party()
    terms = _terms(us, them, hashlock_of(new_preimage()), blocks=3)
    lock = us.lock(terms)
    bitcoin_node.mine(1)
    us.close()
    fresh = BitcoinAdapter.from_config({**config, "data_dir": str(tmp_path / "new")})
    [found] = fresh.find_locks(terms.hashlock)
    assert found.lock_id == lock.lock_id and found.terms == terms
    bitcoin_node.mine(terms.timelock_height - bitcoin_node.height())
    fresh.refund(found)
    bitcoin_node.mine(1)
    assert fresh.get_lock(lock.lock_id).state is LockState.REFUNDED
    assert fresh.balance() > 0


def test_unconfirmed_lock_and_claim_are_seen_in_the_mempool(btc_party, bitcoin_node) -> None:
    (us, _), (them, _) = btc_party(), btc_party()
    preimage = new_preimage()
    lock = them.lock(_terms(them, us, hashlock_of(preimage)))
    [pending] = us.find_locks(hashlock_of(preimage))
    assert pending.lock_id == lock.lock_id and pending.block_height is None
    assert us.confirmations(lock.lock_id) == 0
    us.claim(pending, preimage)  # spends the unconfirmed lock output
    assert them.find_preimage(them.get_lock(lock.lock_id)) == preimage  # before any block
    bitcoin_node.mine(1)
    assert them.get_lock(lock.lock_id).state is LockState.CLAIMED


def test_only_mined_transactions_are_persisted(btc_party, bitcoin_node) -> None:
    """An unconfirmed broadcast lives in the mempool view only: were the node to drop it
    (evicted for its fee, a restart without the mempool), our coins come back by themselves."""
    (us, config), (them, _) = btc_party(), btc_party()
    funded = us.balance()
    lock = us.lock(_terms(us, them, hashlock_of(new_preimage())))
    outpoint = lock.lock_id.rsplit(":", 1)[0]
    saved = load_index(us.index_path, config["birth_height"])
    assert saved.pending_spent == set() and outpoint not in saved.locks
    assert sum(value for value, _ in saved.coins.values()) == funded  # as the chain has it
    assert us.balance() < funded  # the view: coins our pending lock spends are not spendable
    assert us.get_lock(lock.lock_id).block_height is None
    bitcoin_node.mine(1)
    assert us.get_lock(lock.lock_id).block_height == bitcoin_node.height()
    saved = load_index(us.index_path, config["birth_height"])
    assert saved.locks[outpoint].height == bitcoin_node.height()


def test_a_block_taken_back_is_noticed_and_the_lock_followed(tmp_path) -> None:
    """``invalidateblock`` takes the lock's block back. What happens next is the node's choice,
    and the test follows whichever it makes: bitcoind puts the lock back into its mempool, so
    the adapters must still see it (pending, the funding coin still spent by it), see it mined
    again in the next block and claim it; bcoin drops it, so the lock is gone and the funding
    coin is back."""
    with bitcoin_node_in(tmp_path / "node", premine=True) as node:
        configs = [
            adapter_config(node, tmp_path / name, secrets.token_hex(32), node.height())
            for name in ("us", "them")
        ]
        us, them = (BitcoinAdapter.from_config(c) for c in configs)
        node.fund(them.address(), 1_000_000)
        preimage = new_preimage()
        hashlock = hashlock_of(preimage)
        lock = them.lock(_terms(them, us, hashlock))
        [block_hash] = node.mine(1)
        assert us.get_lock(lock.lock_id).block_height == node.height()
        balance_after_lock = them.balance()
        node.rpc.call("invalidateblock", block_hash)
        if lock.txid in node.rpc.call("getrawmempool"):  # back in the mempool: still followed
            [pending] = us.find_locks(hashlock)
            assert (pending.lock_id, pending.block_height) == (lock.lock_id, None)
            assert us.confirmations(lock.lock_id) == 0
            assert them.balance() == 0  # the funding coin stays spent, the change is pending
            node.mine(1, address=us.address())  # another coinbase: not the invalidated block
            assert us.get_lock(lock.lock_id).block_height == node.height()
            assert them.balance() == balance_after_lock  # the same change, mined again
            assert us.confirmations(lock.lock_id) == 1
            us.claim(us.get_lock(lock.lock_id), preimage)
            node.mine(1)
            assert them.get_lock(lock.lock_id).state is LockState.CLAIMED
            assert them.find_preimage(them.get_lock(lock.lock_id)) == preimage
        else:  # dropped with its block: no lock, the funding coin is back
            assert us.find_locks(hashlock) == []
            assert them.balance() == 1_000_000 != balance_after_lock
        us.close()
        them.close()
