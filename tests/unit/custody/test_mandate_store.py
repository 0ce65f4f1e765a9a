"""Mandates in state over the fake 3-of-4 vault (design-14 sections 2.2, 2.5, 4.2): a mandate's
digests are covered, so its signers are not fraudulent while a theft's signer is; the assembled
spend proves the mandate once, moves its inputs to spent and its change into the vault; another
spend does not prove it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from etm_bridge.chain.codec import U16, U32
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import build_registry
from etm_bridge.chain.state import EmptyBackend, State
from etm_bridge.custody import fraud as fr
from etm_bridge.custody import mandate_store as ms
from etm_bridge.custody import records as cr
from etm_bridge.custody.records import MandateKind, MandateStatus, UtxoStatus
from etm_bridge.errors import CustodyError
from etm_bridge.testing import custody_fake as cf

pytestmark = pytest.mark.unit

SIGNERS = sorted((dev_key(f"store-member-{i}") for i in range(4)), key=lambda k: k.public_key)
KEYS = tuple(k.public_key for k in SIGNERS)
DELEGATES = tuple(bytes([i + 1]) * 32 for i in range(4))
COMMITTEE = cr.Committee(0, DELEGATES, 3, 4, {"fake": KEYS}, 1, "genesis")
MEMBERS = {d: cr.Member(d, d, {"fake": k}, 10_000) for d, k in zip(DELEGATES, KEYS, strict=True)}
SPEC = cf.fake_custody_spec()
CFG = cf.FakeCustodyConfig()
VAULT = cf.vault(COMMITTEE, CFG)


@pytest.fixture
def chain() -> Iterator[cf.FakeCustodyLedger]:
    yield cf.FakeCustodyLedger.named("mandate-store")
    cf.FakeCustodyLedger.forget("mandate-store")
    cf.FakeChain.forget("mandate-store")


def state_with_outputs(chain: cf.FakeCustodyLedger) -> tuple[State, list[cr.CustodyUtxo]]:
    registry = build_registry(ChainParams(tx_plugins=("custody_fake_plugin",)))
    s = State(EmptyBackend(), registry.table_names)
    outs = []
    for amount in (70_000, 50_000):
        op = chain.pay(VAULT.destination, amount)
        u = cr.CustodyUtxo("fake", op, amount, 0, UtxoStatus.UNSPENT)
        ms.put_utxo(s, u)
        outs.append(u)
    return s, outs


def withdrawal(s: State, inputs: list[cr.CustodyUtxo], source: bytes = b"w" * 32) -> cr.Mandate:
    terms = {"amount": 60_000, "destination": (b"\x77" * 32).hex()}
    req = ms.vault_request(MandateKind.LP_WITHDRAW, "fake", source, COMMITTEE, VAULT, terms, 1)
    return ms.open_mandate(s, SPEC, CFG, req, "fake", "fake", source, inputs, 10, 5_000)


def fraud(spend: bytes, i: int) -> fr.Fraud:
    body = U32.pack(len(spend)) + spend + U16.pack(0) + SIGNERS[i].sign(cf.digests(spend)[0])
    return fr.Fraud("fake", 0, KEYS[i], body)


def judge(s: State, f: fr.Fraud) -> bytes:
    return fr.judge(f, COMMITTEE, MEMBERS, SPEC.fraud, lambda d: s.get(cr.COVERED, d) is not None)


def test_a_mandate_covers_its_digests_and_reserves_its_inputs(chain: cf.FakeCustodyLedger) -> None:
    s, outs = state_with_outputs(chain)
    m = withdrawal(s, outs)
    assert m.status is MandateStatus.OPEN and ms.get_mandate(s, m.id) == m
    rev = m.revisions[0]
    assert len(rev.digests) == 2 and rev.txid == SPEC.txid(rev.spend)
    for i, digest in enumerate(rev.digests):
        assert s.get(cr.COVERED, digest) == m.id + U16.pack(0) + U16.pack(i)
    assert all(ms.get_utxo(s, "fake", u.outpoint).status is UtxoStatus.RESERVED for u in outs)  # type: ignore[union-attr]
    # a member signing the mandated spend is not fraud; signing a theft is
    with pytest.raises(CustodyError, match="signature_mandated"):
        judge(s, fraud(rev.spend, 1))
    to_thief = {"amount": 60_000, "destination": (b"\xee" * 32).hex()}
    theft_req = ms.vault_request(
        MandateKind.LP_WITHDRAW, "fake", b"t" * 32, COMMITTEE, VAULT, to_thief, 1
    )
    theft = cf.build(theft_req, outs, CFG).spend
    assert judge(s, fraud(theft, 1)) == DELEGATES[1]
    # the same purpose again, or another mandate over the reserved outputs: refused
    with pytest.raises(CustodyError, match="exists already"):
        withdrawal(s, outs)
    with pytest.raises(CustodyError):
        withdrawal(s, outs, source=b"x" * 32)


def test_the_assembled_spend_proves_the_mandate_once(chain: cf.FakeCustodyLedger) -> None:
    s, outs = state_with_outputs(chain)
    m = withdrawal(s, outs)
    rev = m.revisions[0]
    sigs = {i: [k.sign(d) for k in SIGNERS[:3]] for i, d in enumerate(rev.digests)}
    tid = chain.submit(SPEC.assemble(rev.spend, sigs, {}))
    outcome = SPEC.outcome(None, chain.proof(tid), None)
    done = ms.prove_mandate(s, SPEC, m.id, outcome, {VAULT.destination: 0}, 12)
    assert done.status is MandateStatus.PROVEN and done.proven is not None
    assert all(ms.get_utxo(s, "fake", u.outpoint).status is UtxoStatus.SPENT for u in outs)  # type: ignore[union-attr]
    change = [o for o in outcome.created if o.destination == VAULT.destination]
    assert len(change) == 1
    kept = ms.get_utxo(s, "fake", change[0].outpoint)
    assert kept is not None and kept.status is UtxoStatus.UNSPENT
    assert kept.amount == 120_000 - 60_000 - rev.fee
    assert s.get(cr.OPEN, cr.ticker_key("fake", m.id)) is None
    with pytest.raises(CustodyError) as exc:
        ms.prove_mandate(s, SPEC, m.id, outcome, {VAULT.destination: 0}, 13)
    assert exc.value.reason == "outcome_replayed"


def test_another_spend_does_not_prove_a_mandate(chain: cf.FakeCustodyLedger) -> None:
    s, outs = state_with_outputs(chain)
    m = withdrawal(s, outs[:1])
    other_req = ms.vault_request(MandateKind.ROTATION_SWEEP, "fake", b"o" * 32, COMMITTEE, VAULT,
                                 {}, 1)  # fmt: skip
    other = cf.build(other_req, outs[1:], CFG).spend
    sigs = {0: [k.sign(cf.digests(other)[0]) for k in SIGNERS[:3]]}
    tid = chain.submit(SPEC.assemble(other, sigs, {}))
    outcome = SPEC.outcome(None, chain.proof(tid), None)
    with pytest.raises(CustodyError) as exc:
        ms.prove_mandate(s, SPEC, m.id, outcome, {VAULT.destination: 0}, 12)
    assert exc.value.reason == "outcome_mismatch"
    with pytest.raises(CustodyError) as exc:
        ms.prove_mandate(s, SPEC, b"\x00" * 32, outcome, {}, 12)
    assert exc.value.reason == "unknown_mandate"
