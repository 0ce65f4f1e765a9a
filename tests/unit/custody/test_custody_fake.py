"""The fake UTXO custody spec (``etm_bridge.testing.custody_fake``): a 3-of-4 ed25519 vault on
the FakeChain behaves like a CHECKMULTISIG vault: 3 signatures in key order spend, 2 do not,
out-of-order signatures do not, and an outcome proof needs a validly signed spend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from etm_bridge.chain.codec import U32
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.custody.records import Committee, CustodyUtxo, MandateKind, Reason, UtxoStatus
from etm_bridge.custody.spec import CustodyModel, FraudContext, SpendRequest
from etm_bridge.errors import ConfigError, CustodyError, InvalidTransactionError
from etm_bridge.testing import custody_fake as cf

pytestmark = pytest.mark.unit

SIGNERS = sorted((dev_key(f"member-{i}") for i in range(4)), key=lambda k: k.public_key)
KEYS = tuple(k.public_key for k in SIGNERS)
COMMITTEE = Committee(0, KEYS, 3, 4, {"fake": KEYS}, 1, "genesis")
CFG = cf.FakeCustodyConfig("fake", fee_rate=1)
SPEC = cf.fake_custody_spec()


@pytest.fixture
def ledger() -> Iterator[cf.FakeCustodyLedger]:
    yield cf.FakeCustodyLedger.named("custody-fake-test")
    cf.FakeCustodyLedger.forget("custody-fake-test")
    cf.FakeChain.forget("custody-fake-test")


def withdrawal(ledger: cf.FakeCustodyLedger, amount: int = 40_000) -> tuple[bytes, list[bytes]]:
    vault = SPEC.vault(COMMITTEE, CFG)
    utxos = [
        CustodyUtxo("fake", ledger.pay(vault.destination, a), a, 0, UtxoStatus.UNSPENT)
        for a in (30_000, 50_000)
    ]
    req = SpendRequest(
        MandateKind.LP_WITHDRAW, b"m" * 32, 0, 0, COMMITTEE, vault,
        {"amount": amount, "destination": (b"\x77" * 32).hex()}, 1,
    )  # fmt: skip
    built = SPEC.build(req, utxos, CFG)
    assert built.inputs == tuple(sorted(u.outpoint for u in utxos))
    return built.spend, list(SPEC.digests(built.spend))


def sign(spend_digests: list[bytes], signers: list[SigningKey]) -> dict[int, list[bytes]]:
    return {i: [k.sign(d) for k in signers] for i, d in enumerate(spend_digests)}


def test_three_of_four_in_key_order_spend_and_pay_exactly(ledger: cf.FakeCustodyLedger) -> None:
    spend, digests = withdrawal(ledger)
    signed = SPEC.assemble(spend, sign(digests, SIGNERS[:3]), {})
    tid = ledger.submit(signed)
    assert tid == SPEC.txid(spend)
    fee = cf.spend_fee(1, 2, 2)
    outs = cf.decode_spend(spend).outputs
    assert outs[0] == (b"\x77" * 32, 40_000)
    assert outs[1][1] == 80_000 - 40_000 - fee  # change to the vault
    outcome = SPEC.outcome(None, ledger.proof(tid), None)
    assert outcome.txid == tid and len(outcome.spent) == 2 and len(outcome.created) == 2


def test_two_signatures_or_wrong_order_or_a_stranger_do_not_spend(
    ledger: cf.FakeCustodyLedger,
) -> None:
    spend, digests = withdrawal(ledger)
    stranger = dev_key("stranger")
    attempts = [
        SIGNERS[:2],  # 2 of 4
        [SIGNERS[2], SIGNERS[1], SIGNERS[0]],  # out of key order
        [SIGNERS[0], SIGNERS[1], stranger],  # a non-member
        [SIGNERS[0], SIGNERS[0], SIGNERS[1]],  # one member twice
    ]
    for signers in attempts:
        signed = SPEC.assemble(spend, sign(digests, signers), {})
        with pytest.raises(InvalidTransactionError):
            ledger.submit(signed)
        with pytest.raises(CustodyError) as exc:
            SPEC.outcome(None, U32.pack(1) + signed, None)
        assert exc.value.reason == Reason.OUTCOME_MISMATCH
    assert ledger.spent == {}


def test_a_lone_members_signature_is_a_fraud_claim_naming_it(ledger: cf.FakeCustodyLedger) -> None:
    spend, digests = withdrawal(ledger)
    thief = SIGNERS[1]
    body = U32.pack(len(spend)) + spend + (0).to_bytes(2, "big") + thief.sign(digests[0])
    claim = SPEC.fraud(body, FraudContext("fake", COMMITTEE, thief.public_key))
    assert claim.digest == digests[0] and claim.custody_script and claim.key == thief.public_key
    with pytest.raises(CustodyError) as exc:  # the signature is not the accused key's
        SPEC.fraud(body, FraudContext("fake", COMMITTEE, SIGNERS[0].public_key))
    assert exc.value.reason == Reason.BAD_FRAUD_SIGNATURE


def test_the_spec_is_a_utxo_model_spec_and_refuses_account_kinds() -> None:
    assert SPEC.model is CustodyModel.UTXO and SPEC.key_len == 32
    assert SPEC.sort_keys([KEYS[2], KEYS[0]]) == (KEYS[0], KEYS[2])
    with pytest.raises(ConfigError, match="cannot implement"):
        cf.fake_custody_spec().__class__(
            **{**SPEC.__dict__, "kinds": frozenset({MandateKind.VAULT_ROTATION})}
        )
