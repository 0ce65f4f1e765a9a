"""Transaction building: signed vectors, fee math, coin selection, dust, kernel verification."""

from __future__ import annotations

import json
from pathlib import Path

import pbk
import pytest
from bitcoin.core import CScript, CTransaction, CTxOut
from etm_bridge_bitcoin.script import HtlcScript, parse_marker
from etm_bridge_bitcoin.txbuild import (
    DUST_P2WPKH_SAT,
    SEQUENCE_NON_FINAL,
    SEQUENCE_RBF,
    Utxo,
    WalletKey,
    build_claim_tx,
    build_lock_tx,
    build_payment_tx,
    build_refund_tx,
    dust_threshold_sat,
    fee_for,
    sat_vb_from_estimate,
    vsize,
)

from etm_bridge.errors import DustError, InsufficientFundsError, ValidationError
from etm_bridge.hashlock import hashlock_of

ROOT = Path(__file__).resolve().parents[3]
VECTORS = json.loads((ROOT / "contracts" / "bitcoin" / "htlc_vectors.json").read_text())
CLAIM_KEY = WalletKey(bytes.fromhex(VECTORS["claim_secret"]))
REFUND_KEY = WalletKey(bytes.fromhex(VECTORS["refund_secret"]))
PREIMAGE = bytes.fromhex(VECTORS["preimage"])
FUNDING = (VECTORS["funding"]["txid"], VECTORS["funding"]["vout"], VECTORS["funding"]["value_sat"])
RATE = VECTORS["fee_rate_sat_vb"]
FLAGS = (
    pbk.ScriptVerificationFlags.P2SH
    | pbk.ScriptVerificationFlags.DERSIG
    | pbk.ScriptVerificationFlags.NULLDUMMY
    | pbk.ScriptVerificationFlags.CHECKLOCKTIMEVERIFY
    | pbk.ScriptVerificationFlags.CHECKSEQUENCEVERIFY
    | pbk.ScriptVerificationFlags.WITNESS
)


def _htlc(height: int = 500) -> HtlcScript:
    return HtlcScript(hashlock_of(PREIMAGE), CLAIM_KEY.pubkey, REFUND_KEY.pubkey, height)


def _kernel_ok(tx: CTransaction, amount: int, script_pubkey: bytes, index: int = 0) -> bool:
    spk = pbk.ScriptPubkey(script_pubkey)
    return bool(spk.verify(amount, pbk.Transaction(tx.serialize()), None, index, FLAGS))


def _without_signature(tx: CTransaction) -> tuple[bytes, list[bytes]]:
    """(stripped tx, witness items but the first): all of a spend except its ECDSA signature,
    which python-bitcoinlib makes with a random nonce (OpenSSL), so it differs on every run."""
    stripped = CTransaction(tx.vin, tx.vout, tx.nLockTime, tx.nVersion).serialize()
    return stripped, list(tx.wit.vtxinwit[0].scriptWitness)[1:]


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: str(c["timelock_height"]))
def test_claim_and_refund_match_the_vectors_up_to_the_signature(case: dict) -> None:
    htlc = _htlc(case["timelock_height"])
    claim = build_claim_tx(CLAIM_KEY, *FUNDING, htlc, PREIMAGE, RATE)
    refund = build_refund_tx(REFUND_KEY, *FUNDING, htlc, RATE)
    for built, key in ((claim, "claim_tx"), (refund, "refund_tx")):
        vector = CTransaction.deserialize(bytes.fromhex(case[key]))
        assert _without_signature(built) == _without_signature(vector), key


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: str(c["timelock_height"]))
def test_vector_spends_pass_libbitcoinkernel(case: dict) -> None:
    spk = bytes.fromhex(case["script_pubkey"])
    for key in ("claim_tx", "refund_tx"):
        tx = CTransaction.deserialize(bytes.fromhex(case[key]))
        assert _kernel_ok(tx, FUNDING[2], spk), key


def test_kernel_rejects_wrong_preimage_wrong_key_and_wrong_amount() -> None:
    htlc = _htlc()
    wrong_preimage = build_claim_tx(CLAIM_KEY, *FUNDING, htlc, b"\x09" * 32, RATE)
    wrong_key = build_claim_tx(REFUND_KEY, *FUNDING, htlc, PREIMAGE, RATE)
    good = build_claim_tx(CLAIM_KEY, *FUNDING, htlc, PREIMAGE, RATE)
    assert not _kernel_ok(wrong_preimage, FUNDING[2], htlc.script_pubkey)
    assert not _kernel_ok(wrong_key, FUNDING[2], htlc.script_pubkey)
    assert not _kernel_ok(good, FUNDING[2] + 1, htlc.script_pubkey)  # BIP143 commits to it


def test_refund_has_htlc_locktime_and_non_final_sequence() -> None:
    refund = build_refund_tx(REFUND_KEY, *FUNDING, _htlc(777), RATE)
    claim = build_claim_tx(CLAIM_KEY, *FUNDING, _htlc(777), PREIMAGE, RATE)
    assert refund.nLockTime == 777 and claim.nLockTime == 0
    assert refund.vin[0].nSequence == SEQUENCE_NON_FINAL
    assert claim.vin[0].nSequence == SEQUENCE_RBF  # a claim stays replaceable (BIP125)


def test_fee_is_rate_times_vsize_of_the_worst_case_tx() -> None:
    claim = build_claim_tx(CLAIM_KEY, *FUNDING, _htlc(), PREIMAGE, 10)
    fee = FUNDING[2] - claim.vout[0].nValue
    # measured on 73-byte dummy signatures: at most 1 vB more than the real transaction
    assert vsize(claim) * 10 <= fee <= (vsize(claim) + 1) * 10
    with pytest.raises(ValidationError, match="at least 1 sat/vB"):
        fee_for(claim, 0)


def test_fee_larger_than_the_output_is_a_clear_error() -> None:
    with pytest.raises(DustError, match=r"fee \d+ sat is larger than the locked 1000 sat"):
        build_claim_tx(CLAIM_KEY, FUNDING[0], 0, 1_000, _htlc(), PREIMAGE, 10)


def test_output_below_dust_after_fee_is_a_clear_error() -> None:
    amount = 140 * 2 + DUST_P2WPKH_SAT - 10
    with pytest.raises(DustError, match="dust limit"):
        build_claim_tx(CLAIM_KEY, FUNDING[0], 0, amount, _htlc(), PREIMAGE, 2)


def test_lock_tx_pays_htlc_then_marker_then_change() -> None:
    coins = [Utxo("aa" * 32, 0, 60_000), Utxo("bb" * 32, 1, 50_000), Utxo("cc" * 32, 2, 900)]
    tx, spent = build_lock_tx(REFUND_KEY, coins, _htlc(), 80_000, RATE)
    assert [c.value_sat for c in spent] == [60_000, 50_000]  # largest first, no more
    assert bytes(tx.vout[0].scriptPubKey) == _htlc().script_pubkey
    assert tx.vout[0].nValue == 80_000
    assert parse_marker(bytes(tx.vout[1].scriptPubKey)) is not None and tx.vout[1].nValue == 0
    change = tx.vout[2].nValue
    assert 110_000 - 80_000 - change == fee_for(tx, RATE) or change > 0
    for index, coin in enumerate(spent):
        assert _kernel_ok(tx, coin.value_sat, REFUND_KEY.script_pubkey, index)


def test_lock_drops_dust_change_into_the_fee() -> None:
    tx, _ = build_lock_tx(REFUND_KEY, [Utxo("aa" * 32, 0, 80_700)], _htlc(), 80_000, RATE)
    assert len(tx.vout) == 2  # no change output


def test_lock_refuses_dust_and_insufficient_funds() -> None:
    with pytest.raises(DustError, match="dust"):
        build_lock_tx(REFUND_KEY, [Utxo("aa" * 32, 0, 10_000)], _htlc(), 329, RATE)
    with pytest.raises(InsufficientFundsError, match="needs more than the 10000 sat"):
        build_lock_tx(REFUND_KEY, [Utxo("aa" * 32, 0, 10_000)], _htlc(), 10_000, RATE)


def test_wallet_key_must_be_32_bytes() -> None:
    with pytest.raises(ValidationError, match="32 bytes"):
        WalletKey(b"\x01" * 31)


@pytest.mark.parametrize(
    ("reply", "sat_vb"),
    [
        ({"feerate": 0.00012345, "blocks": 2}, 13),  # Core: 12.345 sat/vB, rounded up
        ({"feerate": 0.00001, "blocks": 2}, 1),  # Core's 1 sat/vB floor
        ({"feerate": 1e-06, "blocks": 2}, 1),  # below 1 sat/vB (Core 29+ relays 0.1): 1
        ({"feerate": 0.0002, "blocks": 6}, 20),
        ({"fee": 0.00005, "blocks": 2}, 5),  # bcoin names the same BTC/kvB value "fee"
    ],
)
def test_node_fee_estimate_is_btc_per_kvb_converted_to_sat_vb(reply: dict, sat_vb: int) -> None:
    assert sat_vb_from_estimate(reply) == sat_vb


@pytest.mark.parametrize(
    "reply",
    [
        {"errors": ["Insufficient data or no feerate found"], "blocks": 0},  # Core, no data
        {"fee": -1, "blocks": 0},  # bcoin, no data
        {"feerate": 0, "blocks": 2},
        {"feerate": "nan", "blocks": 2},
        {"feerate": True},
        {"feerate": None},
        None,
        [],
    ],
)
def test_no_node_estimate_means_the_fallback(reply: object) -> None:
    assert sat_vb_from_estimate(reply) is None


@pytest.mark.parametrize(
    ("script_pubkey", "dust_sat"),
    [
        (REFUND_KEY.script_pubkey, 294),  # P2WPKH: Core's well-known limits
        (b"\x00\x20" + b"\x11" * 32, 330),  # P2WSH
        (b"\x51\x20" + b"\x11" * 32, 330),  # P2TR
        (b"\x76\xa9\x14" + b"\x11" * 20 + b"\x88\xac", 546),  # P2PKH
        (b"\xa9\x14" + b"\x11" * 20 + b"\x87", 540),  # P2SH
        (b"\x6a\x04ETMD", 0),  # OP_RETURN: never dust
    ],
)
def test_dust_threshold_is_bitcoin_cores(script_pubkey: bytes, dust_sat: int) -> None:
    assert dust_threshold_sat(script_pubkey) == dust_sat


def test_payment_keeps_the_output_order_and_appends_change() -> None:
    to = CTxOut(50_000, CScript(CLAIM_KEY.script_pubkey))
    tag = CTxOut(0, CScript(b"\x6a\x04ETMD"))
    coins = [Utxo("aa" * 32, 0, 30_000), Utxo("bb" * 32, 1, 40_000)]
    tx, spent = build_payment_tx(REFUND_KEY, coins, [to, tag], RATE)
    assert [o.nValue for o in tx.vout[:2]] == [50_000, 0]
    assert bytes(tx.vout[2].scriptPubKey) == REFUND_KEY.script_pubkey  # change, last
    assert 70_000 - sum(o.nValue for o in tx.vout) >= fee_for(tx, RATE)
    for index, coin in enumerate(spent):
        assert _kernel_ok(tx, coin.value_sat, REFUND_KEY.script_pubkey, index)


def test_payment_refuses_a_dust_output_by_index() -> None:
    outs = [
        CTxOut(50_000, CScript(CLAIM_KEY.script_pubkey)),
        CTxOut(293, CScript(CLAIM_KEY.script_pubkey)),
    ]
    with pytest.raises(DustError, match=r"output 1 of 293 sat is dust \(minimum 294"):
        build_payment_tx(REFUND_KEY, [Utxo("aa" * 32, 0, 90_000)], outs, RATE)
