"""Plain payments from the adapter's own coins (pool deposits with an OP_RETURN tag use them)."""

from __future__ import annotations

import pytest
from btc_support import assert_pays_the_rate

from etm_bridge.errors import DustError, InsufficientFundsError

TAG = b"\x6a\x04ETMD"  # OP_RETURN "ETMD"


def test_payment_with_a_tag_reaches_the_payee_and_is_mined(btc_party, bitcoin_node) -> None:
    (us, _), (them, _) = btc_party(), btc_party()
    before_us, before_them = us.balance(), them.balance()
    rate = us.fee_estimate().rate  # the node's bounded estimate, or the fallback (bcoin)
    txid = us.pay([(them.key.script_pubkey, 60_000), (TAG, 0)])
    assert txid in bitcoin_node.rpc.call("getrawmempool")
    fee = assert_pays_the_rate(us, txid, rate)
    assert us.balance() < before_us - 60_000  # the spent coins left at once (mempool view)
    bitcoin_node.mine(1)
    assert them.balance() == before_them + 60_000
    assert us.balance() == before_us - 60_000 - fee


def test_dust_and_unaffordable_payments_are_refused_before_broadcast(btc_party) -> None:
    us, _ = btc_party()
    with pytest.raises(DustError):
        us.pay([(us.key.script_pubkey, 100)])
    with pytest.raises(InsufficientFundsError):
        us.pay([(us.key.script_pubkey, us.balance())])
