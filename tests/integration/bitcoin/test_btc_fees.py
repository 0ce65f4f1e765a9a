"""Fees on the real node: ``fee_estimate`` reports the node's estimate kept inside the configured
bounds, or the fallback when the node has none, with its source; and that rate is what locks,
claims and refunds pay.

Both nodes are covered by branching on what the node answers to ``estimatesmartfee 2`` (read
here directly): bcoin never estimates, nor does bitcoind on a young chain (-> the fallback);
bitcoind estimates once its blocks carry transactions (-> its estimate, bounded). On a node that
estimates, a floor above and a ceiling below its real answer show both bounds apply.
"""

from __future__ import annotations

import logging

import pytest
from btc_support import assert_pays_the_rate
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_bitcoin.fees import MAX_FEE_SAT_VB, MIN_FEE_SAT_VB
from etm_bridge_bitcoin.txbuild import sat_vb_from_estimate

from etm_bridge.adapter import HtlcTerms
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.preimages import new_preimage

FALLBACK_SAT_VB = 7  # not the default (2), so a fallback answer is recognisable
AMOUNT = 120_000


def _node_rate(adapter: BitcoinAdapter) -> int | None:
    """The node's own estimate in sat/vB (None when it has none), as the test reads it."""
    return sat_vb_from_estimate(adapter.rpc.call("estimatesmartfee", 2))


def test_the_estimate_is_the_nodes_rate_within_bounds_or_the_fallback(
    btc_party, caplog: pytest.LogCaptureFixture
) -> None:
    _, config = btc_party()
    us = BitcoinAdapter.from_config({**config, "fallback_fee_sat_vb": FALLBACK_SAT_VB})
    node_rate = _node_rate(us)
    fee = us.fee_estimate()
    if node_rate is None:  # no estimate: the configured fallback, whatever the bounds
        assert (fee.rate, fee.rate_unit, fee.source) == (FALLBACK_SAT_VB, "sat/vB", "fallback")
        pinned = {"min_fee_sat_vb": 3, "fallback_fee_sat_vb": 3, "max_fee_sat_vb": 3}
        assert BitcoinAdapter.from_config({**config, **pinned}).fee_estimate().rate == 3
        us.close()
        return
    expected = min(max(node_rate, MIN_FEE_SAT_VB), MAX_FEE_SAT_VB)
    assert (fee.rate, fee.rate_unit, fee.source) == (expected, "sat/vB", "node")
    floor = {"min_fee_sat_vb": node_rate + 1, "fallback_fee_sat_vb": node_rate + 1}
    raised = BitcoinAdapter.from_config({**config, **floor})
    with caplog.at_level(logging.WARNING, logger="etm_bridge_bitcoin.adapter"):
        assert raised.fee_estimate() == type(fee)(node_rate + 1, "sat/vB", "node")
    assert f"estimates {node_rate} sat/vB" in caplog.text  # a bounded estimate is reported
    if node_rate > 1:  # a node asking more than our ceiling gets the ceiling
        ceiling = {"max_fee_sat_vb": node_rate - 1, "fallback_fee_sat_vb": 1}
        capped = BitcoinAdapter.from_config({**config, **ceiling})
        assert capped.fee_estimate() == type(fee)(node_rate - 1, "sat/vB", "node")
        capped.close()
    raised.close()
    us.close()


def test_the_reported_rate_is_paid_by_lock_claim_and_refund(btc_party, bitcoin_node) -> None:
    """Each transaction pays the rate ``fee_estimate`` gives just before it (no block comes in
    between, so the node's estimate cannot move): the node's, bounded, or the fallback."""
    (_, us_config), (_, them_config) = btc_party(), btc_party()
    us = BitcoinAdapter.from_config({**us_config, "fallback_fee_sat_vb": FALLBACK_SAT_VB})
    them = BitcoinAdapter.from_config({**them_config, "fallback_fee_sat_vb": FALLBACK_SAT_VB})

    preimage = new_preimage()
    claimable = HtlcTerms(
        AMOUNT, hashlock_of(preimage), us.our_key(), them.our_key(), them.tip().height + 10
    )
    rate = them.fee_estimate().rate
    lock = them.lock(claimable)
    assert_pays_the_rate(them, lock.txid, rate)
    rate = us.fee_estimate().rate
    assert_pays_the_rate(us, us.claim(lock, preimage).txid, rate)

    refundable = HtlcTerms(
        AMOUNT, hashlock_of(new_preimage()), them.our_key(), us.our_key(), us.tip().height + 2
    )
    own = us.lock(refundable)
    bitcoin_node.mine(refundable.timelock_height - bitcoin_node.height())
    rate = us.fee_estimate().rate
    assert_pays_the_rate(us, us.refund(us.get_lock(own.lock_id)).txid, rate)
    us.close()
    them.close()
