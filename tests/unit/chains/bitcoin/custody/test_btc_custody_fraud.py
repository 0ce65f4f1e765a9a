"""The Bitcoin fraud body of tx 304 through the generic verdict (design-14 6.1), attacked."""

from __future__ import annotations

import pytest
from bitcoin.core import CTransaction
from bitcoin.core.script import SIGVERSION_WITNESS_V0, CScript, SignatureHash

from etm_bridge.chains.bitcoin.custody import build, ecdsa, scripts
from etm_bridge.chains.bitcoin.custody.fraud import encode_body
from etm_bridge.chains.bitcoin.custody.spec import SPEC
from etm_bridge.custody import fraud as custody_fraud
from etm_bridge.custody.records import Committee, Member
from etm_bridge.errors import CustodyError

SECRETS = tuple(bytes([0x30 + i]) * 32 for i in range(5))
BY_KEY = {ecdsa.pubkey(s): s for s in SECRETS}
KEYS = tuple(sorted(BY_KEY)[:4])
OUTSIDER = sorted(BY_KEY)[4]
DELEGATES = tuple(bytes([0xD0 + i]) * 32 for i in range(4))
COMMITTEE = Committee(3, DELEGATES, 3, 4, {"btc": KEYS}, 0, "genesis")
MEMBERS = {d: Member(d, d, {"btc": k}, 10**12) for d, k in zip(DELEGATES, KEYS, strict=True)}
POLICY = scripts.KeyPolicy(3, KEYS)
THIEF = KEYS[1]
VIN = build.vault_input(b"\x05" * 36, 200_000, POLICY)
MANDATED = build.pay_with_change(
    [VIN],
    [build.PlannedOutput(scripts.p2wpkh(OUTSIDER), 50_000)],
    scripts.p2wsh(POLICY.vault_script()),
    2,
)
THEFT = build.sweep([VIN], scripts.p2wpkh(THIEF), 2)
COVERED = frozenset(build.digests(MANDATED))


def _judge(body: bytes, key: bytes = THIEF, members: dict = MEMBERS) -> bytes:
    f = custody_fraud.Fraud("btc", 3, key, body)
    return custody_fraud.judge(f, COMMITTEE, members, SPEC.fraud, COVERED.__contains__)


def _reason(body: bytes, key: bytes = THIEF) -> str:
    with pytest.raises(CustodyError) as err:
        _judge(body, key)
    return err.value.reason


def _body(
    plan: build.SpendPlan,
    sig: bytes,
    script: bytes = POLICY.vault_script(),
    amount: int = 200_000,
    index: int = 0,
) -> bytes:
    return encode_body(build.unsigned_tx(plan), index, script, amount, sig)


def _sign(plan: build.SpendPlan, hash_type: int = ecdsa.SIGHASH_ALL, key: bytes = THIEF) -> bytes:
    digest = build.digests(plan, hash_type)[0]
    return ecdsa.sign(BY_KEY[key], digest, hash_type)


def test_a_theft_signature_is_fraud_and_the_mandated_one_is_not() -> None:
    assert _judge(_body(THEFT, _sign(THEFT))) == DELEGATES[1]
    assert _reason(_body(MANDATED, _sign(MANDATED))) == "signature_mandated"


def test_an_honest_share_cannot_be_reframed() -> None:
    """Malleating the honest signature (high S), restating the tx with a scriptSig, or
    relabelling its hash type: never fraud."""
    sig = _sign(MANDATED)
    der = sig[:-1]
    r_len = der[3]
    s = int.from_bytes(der[6 + r_len :], "big")
    body = b"\x02" + bytes([r_len]) + der[4 : 4 + r_len] + ecdsa._der_int(ecdsa.ORDER - s)
    high = b"\x30" + bytes([len(body)]) + body + b"\x01"
    assert _reason(_body(MANDATED, high)) == "signature_mandated"
    tx = CTransaction.deserialize(build.unsigned_tx(MANDATED))
    raw = tx.serialize()
    with_sig = raw[:41] + b"\x01\x51" + raw[42:]  # scriptSig OP_1 (not committed by BIP143)
    body_sig = encode_body(with_sig, 0, POLICY.vault_script(), 200_000, sig)
    assert _reason(body_sig) == "signature_mandated"
    assert _reason(_body(MANDATED, sig[:-1] + b"\x02")) == "bad_fraud_signature"
    assert _reason(_body(MANDATED, sig, amount=200_001)) == "bad_fraud_signature"


@pytest.mark.parametrize("hash_type", [0x02, 0x03, 0x81, 0x82, 0x83])
def test_any_other_hash_type_is_fraud_even_over_the_mandated_tx(hash_type: int) -> None:
    assert _judge(_body(MANDATED, _sign(MANDATED, hash_type))) == DELEGATES[1]


def test_custody_scripts_of_the_epoch_only() -> None:
    hashlock = b"\x09" * 32
    for script in (
        scripts.SwapInHtlc(hashlock, POLICY, OUTSIDER, 50).script,
        scripts.CounterHtlc(hashlock, OUTSIDER, POLICY, 50).script,
    ):
        plan = build.sweep(
            [
                build.PlannedInput(
                    b"\x06" * 36,
                    90_000,
                    script,
                    "htlc_claim" if b"\xae\x67" in script else "htlc_refund",
                )
            ],
            scripts.p2wpkh(THIEF),
            2,
        )
        assert _judge(_body(plan, _sign(plan), script, 90_000)) == DELEGATES[1]
    # personal use of the same key: a v1 HTLC, a P2WPKH script code, another committee's vault
    other = scripts.KeyPolicy(2, KEYS[:3])
    personal = (
        scripts.HtlcV1(hashlock, THIEF, OUTSIDER, 50).script,
        bytes.fromhex("76a914") + scripts.p2wpkh(THIEF)[2:] + bytes.fromhex("88ac"),
        other.vault_script(),
    )
    for script in personal:
        tx = build.unsigned_tx(THEFT)
        digest = SignatureHash(
            CScript(script), CTransaction.deserialize(tx), 0, 1, 200_000, SIGVERSION_WITNESS_V0
        )
        sig = ecdsa.sign(BY_KEY[THIEF], bytes(digest))
        assert _reason(encode_body(tx, 0, script, 200_000, sig)) == "not_custody_script"


def test_malformed_bodies_and_strangers() -> None:
    good = _body(THEFT, _sign(THEFT))
    assert _reason(good[:-1]) == "malformed_field"
    assert _reason(good + b"\x00") == "malformed_field"
    assert _reason(_body(THEFT, _sign(THEFT), index=1)) == "malformed_field"
    assert _reason(_body(THEFT, _sign(THEFT)[:-2] + b"\x01")) == "malformed_field"  # not DER
    tx = CTransaction.deserialize(build.unsigned_tx(THEFT))
    witness_tx = build.assemble(THEFT, {0: [b"\x01"]})
    assert tx.serialize() != witness_tx
    assert (
        _reason(encode_body(witness_tx, 0, POLICY.vault_script(), 200_000, _sign(THEFT)))
        == "malformed_field"
    )
    assert _reason(_body(THEFT, _sign(THEFT, key=KEYS[2]))) == "bad_fraud_signature"
    assert _reason(_body(THEFT, _sign(THEFT, key=OUTSIDER)), OUTSIDER) == "not_custody_member"
    slashed = {
        **MEMBERS,
        DELEGATES[1]: Member(DELEGATES[1], DELEGATES[1], {"btc": THIEF}, 0, slashed=True),
    }
    with pytest.raises(CustodyError, match="already_slashed"):
        _judge(_body(THEFT, _sign(THEFT)), THIEF, slashed)
