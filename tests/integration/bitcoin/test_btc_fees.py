"""Fees on the real node: the documented fallback rate is what locks, claims and refunds pay.

The regtest node has no fee estimate (bcoin never has one; bitcoind has none on a young chain),
so ``fee_estimate`` answers the configured ``fallback_fee_sat_vb`` with ``source="fallback"``,
and each transaction pays exactly that rate times its virtual size (signatures of 71-73 bytes:
the size is measured with a worst-case dummy signature, so the real fee rate is at least it).
"""

from __future__ import annotations

from bitcoin.core import CTransaction
from btc_kernel import spent_outputs
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_bitcoin.txbuild import vsize

from etm_bridge.adapter import HtlcTerms
from etm_bridge.hashlock import hashlock_of, new_preimage

RATE_SAT_VB = 7
AMOUNT = 120_000


def _mempool_tx(adapter, txid: str) -> CTransaction:
    return CTransaction.deserialize(bytes.fromhex(adapter.rpc.call("getrawtransaction", txid, 0)))


def _fee_paid(adapter, tx: CTransaction) -> int:
    spent = sum(amount for amount, _ in spent_outputs(adapter.rpc, tx))
    return spent - sum(out.nValue for out in tx.vout)


def _assert_pays_the_rate(adapter, txid: str) -> None:
    tx = _mempool_tx(adapter, txid)
    fee, size = _fee_paid(adapter, tx), vsize(tx)
    # the fee was computed on the same tx with 73-byte dummy signatures: at most 2 bytes larger
    # per signature, so the paid rate is the configured one, never less
    assert RATE_SAT_VB * size <= fee <= RATE_SAT_VB * (size + len(tx.vin))


def test_fallback_rate_is_reported_and_paid_by_lock_claim_and_refund(btc_party, bitcoin_node):
    (_, us_config), (_, them_config) = btc_party(), btc_party()
    us = BitcoinAdapter.from_config({**us_config, "fallback_fee_sat_vb": RATE_SAT_VB})
    them = BitcoinAdapter.from_config({**them_config, "fallback_fee_sat_vb": RATE_SAT_VB})
    fee = us.fee_estimate()
    assert (fee.rate, fee.rate_unit, fee.source) == (RATE_SAT_VB, "sat/vB", "fallback")

    preimage = new_preimage()
    claimable = HtlcTerms(
        AMOUNT, hashlock_of(preimage), us.our_key(), them.our_key(), them.tip().height + 10
    )
    lock = them.lock(claimable)
    _assert_pays_the_rate(them, lock.txid)
    _assert_pays_the_rate(us, us.claim(lock, preimage).txid)

    refundable = HtlcTerms(
        AMOUNT, hashlock_of(new_preimage()), them.our_key(), us.our_key(), us.tip().height + 2
    )
    own = us.lock(refundable)
    bitcoin_node.mine(refundable.timelock_height - bitcoin_node.height())
    _assert_pays_the_rate(us, us.refund(us.get_lock(own.lock_id)).txid)
    us.close()
    them.close()
