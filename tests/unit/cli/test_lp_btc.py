"""The Bitcoin deposit payment of ``lp deposit``: its outputs, built by the adapter's payment
builder (what ``BitcoinAdapter.pay`` signs), must be what the exchange's verifier accepts, and it
must never pay less fee than its rate or burn change."""

from __future__ import annotations

import pytest
from bitcoin.core import CScript, CTransaction, CTxOut
from bitcoin.core.key import CPubKey
from bitcoin.core.script import SIGHASH_ALL, SIGVERSION_WITNESS_V0, SignatureHash
from etm_bridge_bitcoin.deposits import check_payment, deposit_outputs, op_return_script
from etm_bridge_bitcoin.script import p2pkh_script_code
from etm_bridge_bitcoin.txbuild import DUST_P2WPKH_SAT, Utxo, WalletKey, build_payment_tx, vsize

from etm_bridge.chains.bitcoin.etm.verifier import DEPOSIT_TAG, BtcProof, p2wpkh, tagged_data
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof
from etm_bridge.chains.bitcoin.spv.tx import parse_tx
from etm_bridge.errors import DustError, InsufficientFundsError, ValidationError

KEY = WalletKey(b"\x01" * 32)
POOL = p2wpkh(WalletKey(b"\x02" * 32).pubkey)
OWNER = bytes(range(20))
COINS = [Utxo("aa" * 32, 0, 40_000), Utxo("bb" * 32, 1, 2_000_000), Utxo("cc" * 32, 0, 900)]


def build_tagged_payment(
    key: WalletKey, coins: list[Utxo], to: bytes, amount_sat: int, data: bytes, rate: int
) -> CTransaction:
    """What ``pay_tagged`` has the adapter sign for these coins and fee rate."""
    outs = [
        CTxOut(value, CScript(script)) for script, value in deposit_outputs(to, amount_sat, data)
    ]
    tx, _spent = build_payment_tx(key, coins, outs, rate)
    return tx


def _fee(tx: CTransaction, coins: list[Utxo]) -> int:
    spent = {(c.txid_hex, c.vout): c.value_sat for c in coins}
    total_in = sum(spent[(i.prevout.hash[::-1].hex(), i.prevout.n)] for i in tx.vin)
    return total_in - sum(o.nValue for o in tx.vout)


def test_the_payment_carries_the_pool_output_and_exactly_one_owner_tag() -> None:
    tx = build_tagged_payment(KEY, COINS, POOL, 1_000_000, DEPOSIT_TAG + OWNER, 3)
    assert bytes(tx.vout[0].scriptPubKey) == POOL and tx.vout[0].nValue == 1_000_000
    assert bytes(tx.vout[1].scriptPubKey) == op_return_script(DEPOSIT_TAG + OWNER)
    parsed = parse_tx(tx.serialize())
    assert tagged_data(parsed, DEPOSIT_TAG, 20) == OWNER
    assert bytes(tx.vout[2].scriptPubKey) == KEY.script_pubkey  # change back to us
    assert [i.prevout.n for i in tx.vin] == [1]  # the largest coin covers it alone
    assert 3 * vsize(tx) <= _fee(tx, COINS) <= 3 * vsize(tx) + 3  # worst-case signatures


def test_every_input_signature_verifies() -> None:
    tx = build_tagged_payment(KEY, COINS, POOL, 2_010_000, DEPOSIT_TAG + OWNER, 2)
    assert len(tx.vin) == 2
    values = {c.txid_hex: c.value_sat for c in COINS}
    for index, txin in enumerate(tx.vin):
        witness = list(tx.wit.vtxinwit[index].scriptWitness.stack)
        value = values[txin.prevout.hash[::-1].hex()]
        code = CScript(p2pkh_script_code(KEY.pubkey))
        sighash = SignatureHash(code, tx, index, SIGHASH_ALL, value, SIGVERSION_WITNESS_V0)
        assert witness[1] == KEY.pubkey and witness[0][-1] == SIGHASH_ALL
        assert CPubKey(KEY.pubkey).verify(sighash, witness[0][:-1])


def test_change_that_would_be_dust_goes_to_the_fee() -> None:
    coin = [Utxo("dd" * 32, 0, 100_000)]
    no_change = build_tagged_payment(KEY, coin, POOL, 100_000 - 400, DEPOSIT_TAG + OWNER, 1)
    assert len(no_change.vout) == 2 and _fee(no_change, coin) == 400


def test_dust_and_unaffordable_payments_are_refused() -> None:
    with pytest.raises(DustError):
        build_tagged_payment(KEY, COINS, POOL, DUST_P2WPKH_SAT - 1, DEPOSIT_TAG + OWNER, 1)
    with pytest.raises(InsufficientFundsError, match="fund its address"):
        build_tagged_payment(KEY, COINS, POOL, 2_940_900, DEPOSIT_TAG + OWNER, 1)
    with pytest.raises(InsufficientFundsError):
        build_tagged_payment(KEY, [], POOL, 10_000, DEPOSIT_TAG + OWNER, 1)


def test_a_resumed_payment_must_match_amount_pool_and_owner() -> None:
    tx = build_tagged_payment(KEY, COINS, POOL, 1_000_000, DEPOSIT_TAG + OWNER, 3)
    proof = BtcProof(BitcoinTxProof(tx.serialize(), b"\x00" * 32, 1, 2, (b"\x11" * 32,)), 0)
    check_payment(proof, POOL, 1_000_000, DEPOSIT_TAG + OWNER)
    with pytest.raises(ValidationError, match="does not pay 999999 sat"):
        check_payment(proof, POOL, 999_999, DEPOSIT_TAG + OWNER)
    with pytest.raises(ValidationError, match="does not pay"):
        check_payment(proof, KEY.script_pubkey, 1_000_000, DEPOSIT_TAG + OWNER)
    with pytest.raises(ValidationError, match="owner tag"):
        check_payment(proof, POOL, 1_000_000, DEPOSIT_TAG + bytes(20))
