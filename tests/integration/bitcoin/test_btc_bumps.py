"""Fee bumps (the FEE_BUMPS capability) and the user's own rate (``fee_rate_sat_vb``, what
``--fee-rate`` sets) on the real node, bcoin or Bitcoin Core.

A claim paid at 1 sat/vB is kept out of blocks by the test's fee-market miner (fee_market.py:
blocks holding only packages paying >= 5 sat/vB); the adapter bumps it (replacement on Core, a
CPFP child on bcoin) and the next such block mines it. What bcoin really does with a
replacement is checked here: it refuses it (-26), which is why the adapter uses CPFP there.
"""

from __future__ import annotations

import pytest
from btc_support import assert_pays_the_rate, mempool_tx
from etm_bridge_bitcoin import BitcoinAdapter
from fee_market import mine_above, package_rate

from etm_bridge.adapter import BumpMethod, HtlcTerms, SpendKind
from etm_bridge.errors import ConfigError, InsufficientFundsError, RPCError, ValidationError
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.preimages import new_preimage

AMOUNT = 200_000
MARKET = 5  # sat/vB: what the test's blocks demand


def _pair(btc_party, **ours):
    (_, us_config), (_, them_config) = btc_party(), btc_party()
    us = BitcoinAdapter.from_config({**us_config, "fee_rate_sat_vb": 1, **ours})
    them = BitcoinAdapter.from_config({**them_config, "fee_rate_sat_vb": 10})
    return us, them


def _claim_out_of_blocks(us, them, bitcoin_node):
    preimage = new_preimage()
    terms = HtlcTerms(
        AMOUNT, hashlock_of(preimage), us.our_key(), them.our_key(), them.tip().height + 30
    )
    lock = them.lock(terms)
    assert lock.txid in mine_above(bitcoin_node, MARKET)  # the lock pays 10: mined
    lock = us.get_lock(lock.lock_id)
    claim = us.claim(lock, preimage)
    assert claim.txid not in mine_above(bitcoin_node, MARKET)  # 1 sat/vB: left out
    assert us.find_spend(lock).block_height is None
    return lock, us.find_spend(lock)


def test_a_claim_left_out_of_blocks_is_bumped_and_mined(btc_party, bitcoin_node) -> None:
    us, them = _pair(btc_party)
    lock, claim = _claim_out_of_blocks(us, them, bitcoin_node)
    fee = us.spend_fee(lock, claim)
    assert (fee.rate, fee.estimate, fee.value) == (1, 1, AMOUNT)
    replaces = bitcoin_node.kind == "bitcoind"
    assert fee.methods == (
        (BumpMethod.REPLACE, BumpMethod.CPFP) if replaces else (BumpMethod.CPFP,)
    )
    if not replaces:  # what bcoin does with a replacement: refuses it (no BIP125)
        with pytest.raises(RPCError) as info:
            us.bump_spend(lock, claim, 8, BumpMethod.REPLACE)
        assert info.value.code == -26
    bumped = us.bump_spend(lock, claim, 8, fee.methods[0])
    assert package_rate(bitcoin_node, bumped.txid) >= 8
    assert us.spend_fee(lock, bumped).rate >= 8
    for txid in [bumped.txid, *map(str, us.rpc.call("getmempooldescendants", bumped.txid))]:
        tx = mempool_tx(us, txid)  # every revision and child pays our key alone
        assert {bytes(o.scriptPubKey) for o in tx.vout} == {us.key.script_pubkey}
    mined = mine_above(bitcoin_node, MARKET)
    assert bumped.txid in mined
    spend = us.find_spend(lock)
    assert spend.kind is SpendKind.CLAIM and spend.txid == bumped.txid
    assert spend.block_height is not None
    us.close()
    them.close()


def test_attack_a_bump_above_the_ceiling_is_refused_and_nothing_is_sent(
    btc_party, bitcoin_node
) -> None:
    us, them = _pair(btc_party, max_fee_sat_vb=6)
    lock, claim = _claim_out_of_blocks(us, them, bitcoin_node)
    before = set(bitcoin_node.rpc.call("getrawmempool"))
    for method in BumpMethod:
        with pytest.raises(ValidationError, match="above max_fee_sat_vb"):
            us.bump_spend(lock, claim, 7, method)
    assert set(bitcoin_node.rpc.call("getrawmempool")) == before
    assert us.spend_fee(lock, claim).ceiling == 6
    bitcoin_node.mine(1)  # leave no low-fee claim behind for other tests
    us.close()
    them.close()


def test_attack_bumping_a_spend_that_pays_someone_else_is_refused(btc_party, bitcoin_node) -> None:
    """``them`` claims a lock of theirs; we are asked to bump that claim: whatever the method,
    no transaction of ours spends or replaces it (a bump never pays anyone but its spend's
    own destination, and only ours are bumped)."""
    us, them = _pair(btc_party)
    preimage = new_preimage()
    terms = HtlcTerms(
        AMOUNT, hashlock_of(preimage), them.our_key(), us.our_key(), us.tip().height + 30
    )
    lock = us.lock(terms)  # pays 1 sat/vB: mine it normally
    bitcoin_node.mine(1)
    lock = them.get_lock(lock.lock_id)
    their_claim = them.claim(lock, preimage)
    before = set(bitcoin_node.rpc.call("getrawmempool"))
    for method in BumpMethod:
        with pytest.raises(ValidationError, match="does not pay our key"):
            us.bump_spend(lock, their_claim, 20, method)
    assert set(bitcoin_node.rpc.call("getrawmempool")) == before
    bitcoin_node.mine(1)
    us.close()
    them.close()


def test_attack_our_wallet_never_spends_a_claim_it_may_have_to_bump(
    btc_party, bitcoin_node
) -> None:
    """Review x6b. Our claim is unconfirmed; a new lock of ours needs more than our confirmed
    coins. The wallet spent the claim's unconfirmed output in that lock: the claim then had a
    descendant paying someone else, so it could no longer be bumped (``does not pay our key``)
    and a replacement would have evicted our own lock, while from its timelock the other side
    may refund over it. Now the outputs of our pending claims and refunds (and of their CPFP
    children) are not spendable until mined: the lock is refused and the claim stays ours to
    bump, then and after a bump."""
    us, them = _pair(btc_party)
    lock, claim = _claim_out_of_blocks(us, them, bitcoin_node)
    confirmed = us._view_with_mempool().confirmed_balance()  # our funding, less the fee paid
    more = confirmed + AMOUNT // 2  # only the claim's output could make up the difference
    greedy = HtlcTerms(
        more, hashlock_of(new_preimage()), them.our_key(), us.our_key(), us.tip().height + 30
    )
    with pytest.raises(InsufficientFundsError):
        us.lock(greedy)
    fee = us.spend_fee(lock, claim)  # still ours alone to bump
    bumped = us.bump_spend(lock, claim, 8, fee.methods[0])
    with pytest.raises(InsufficientFundsError):  # nor the bumped revision's (or child's) output
        us.lock(greedy)
    assert us.spend_fee(lock, bumped).rate >= 8
    assert bumped.txid in mine_above(bitcoin_node, MARKET)
    us.close()
    them.close()


def test_the_users_rate_is_paid_and_refused_above_the_ceiling_or_below_relay(
    btc_party, bitcoin_node
) -> None:
    (_, config), (them, _) = btc_party(), btc_party()
    us = BitcoinAdapter.from_config({**config, "fee_rate_sat_vb": 9})
    assert (us.fee_estimate().rate, us.fee_estimate().source) == (9, "user")
    assert_pays_the_rate(us, us.pay([(them.key.script_pubkey, 50_000)]), 9)
    with pytest.raises(ConfigError, match="above the ceiling max_fee_sat_vb"):
        BitcoinAdapter.from_config({**config, "fee_rate_sat_vb": 11, "max_fee_sat_vb": 10})
    floor = us.relay_minimum_sat_vb()
    low = BitcoinAdapter.from_config({**config, "fee_rate_sat_vb": floor})
    assert low.fee_estimate().rate == floor  # the relay minimum itself is fine
    bitcoin_node.mine(1)
    us.close()
    low.close()
