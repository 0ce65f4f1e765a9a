"""Building and signing Handshake lock / claim / refund transactions (pure)."""

from __future__ import annotations

import pytest
from etm_bridge_handshake.codec import Output, decode_tx
from etm_bridge_handshake.script import HtlcScript, key_address, parse_marker
from etm_bridge_handshake.sighash import WalletKey, signature_hash, verify_signature
from etm_bridge_handshake.txbuild import (
    Coin,
    build_claim_tx,
    build_lock_tx,
    build_payment_tx,
    build_refund_tx,
    dust_threshold,
)

from etm_bridge.errors import DustError, InsufficientFundsError, ValidationError
from etm_bridge.hashlock import hashlock_of

US, THEM = WalletKey(b"\x01" * 32), WalletKey(b"\x02" * 32)
PREIMAGE = b"\x07" * 32
HTLC = HtlcScript(hashlock_of(PREIMAGE), THEM.pubkey, US.pubkey, 500)
COINS = [Coin("aa" * 32, 0, 3_000_000), Coin("bb" * 32, 1, 9_000_000)]


def test_lock_pays_htlc_marker_change_and_exactly_the_rate() -> None:
    tx, spent = build_lock_tx(US, COINS, HTLC, 5_000_000, 20)
    assert spent == [COINS[1]]  # largest first, one is enough
    assert [o.address for o in tx.outputs] == [HTLC.address, tx.outputs[1].address, US.address]
    assert parse_marker(tx).htlc(HTLC.hashlock) == HTLC  # type: ignore[union-attr]
    fee = 9_000_000 - sum(o.value for o in tx.outputs)
    assert fee == 20 * tx.vsize  # 65-byte signatures: the estimate is exact
    assert decode_tx(tx.encode()) == tx
    digest = signature_hash(tx, 0, US.p2pkh_script, 9_000_000, 1)
    assert verify_signature(US.pubkey, digest, tx.inputs[0].witness[0])


def test_change_that_would_be_dust_goes_to_the_fee() -> None:
    pay = [Output(1_000_000, key_address(THEM.pubkey))]
    with_change, _ = build_payment_tx(US, [Coin("cc" * 32, 0, 2_000_000)], pay, 20)
    assert len(with_change.outputs) == 2
    left = 100  # change below the 297-doo dust limit once the fee is paid
    coin = Coin("cc" * 32, 0, 1_000_000 + 20 * with_change.vsize + left)
    tx, _ = build_payment_tx(US, [coin], pay, 20)
    assert len(tx.outputs) == 1 and coin.value - tx.outputs[0].value >= 20 * tx.vsize
    assert dust_threshold(Output(0, US.address)) == 297


def test_too_few_coins_and_dust_outputs_are_named() -> None:
    with pytest.raises(InsufficientFundsError, match="fund its address"):
        build_lock_tx(US, COINS, HTLC, 12_000_000, 20)
    with pytest.raises(DustError, match="dust"):
        build_lock_tx(US, COINS, HTLC, 300, 20)
    with pytest.raises(ValidationError, match="at least 1"):
        build_lock_tx(US, COINS, HTLC, 1_000_000, 0)


def test_a_lock_refunding_to_someone_else_is_refused() -> None:
    other = HtlcScript(HTLC.hashlock, THEM.pubkey, THEM.pubkey, 500)
    with pytest.raises(ValidationError, match="own key"):
        build_lock_tx(US, COINS, other, 1_000_000, 20)


def test_claim_and_refund_forms() -> None:
    claim = build_claim_tx(THEM, "dd" * 32, 0, 1_000_000, HTLC, PREIMAGE, 20)
    refund = build_refund_tx(US, "dd" * 32, 0, 1_000_000, HTLC, 20)
    assert claim.locktime == 0 and refund.locktime == 500
    assert claim.inputs[0].witness[1:] == (PREIMAGE, b"\x01", HTLC.script)
    assert refund.inputs[0].witness[1:] == (b"", HTLC.script)
    assert refund.inputs[0].sequence == 0xFFFFFFFE
    for tx, key in ((claim, THEM), (refund, US)):
        digest = signature_hash(tx, 0, HTLC.script, 1_000_000, 1)
        assert verify_signature(key.pubkey, digest, tx.inputs[0].witness[0])
        assert 1_000_000 - tx.outputs[0].value == 20 * tx.vsize
    with pytest.raises(DustError, match="dust"):
        build_claim_tx(THEM, "dd" * 32, 0, 2_000, HTLC, PREIMAGE, 20)


def test_the_pool_withdrawal_floor_covers_dust_and_a_payments_fee() -> None:
    """Issue 11, item 6 on HNS pools: an obligation below dust plus a payment's fee could not be
    paid without overpaying (and a default halts the pool), so the floor is above both."""
    from etm_bridge.chains.registry import chain_registry
    from etm_bridge.exchange.obligations import withdrawal_floor

    floor = chain_registry().by_ticker("hns").exchange.withdrawal_floor
    assert withdrawal_floor("hns") == floor
    assert floor >= dust_threshold(Output(0, US.address)) + 170 * 50
