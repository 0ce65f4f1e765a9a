"""Fraud proofs and the slash split (design-14 section 6), on the fake k-of-n spec: a member's
signature over a spend no mandate covers is fraud naming that member; one over a mandated digest
is not; the split of a slashed bond is exact to the unit."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.chain.codec import U16, U32
from etm_bridge.chain.keys import dev_key
from etm_bridge.custody import fraud as fr
from etm_bridge.custody.records import Committee, CustodyUtxo, MandateKind, Member, UtxoStatus
from etm_bridge.custody.spec import SpendRequest
from etm_bridge.errors import CustodyError, ValidationError
from etm_bridge.testing import custody_fake as cf

pytestmark = pytest.mark.unit

SIGNERS = sorted((dev_key(f"fraud-member-{i}") for i in range(4)), key=lambda k: k.public_key)
KEYS = tuple(k.public_key for k in SIGNERS)
DELEGATES = tuple(bytes([i + 1]) * 32 for i in range(4))
COMMITTEE = Committee(0, DELEGATES, 3, 4, {"fake": KEYS}, 1, "genesis")
MEMBERS = {
    d: Member(d, d, {"fake": k.public_key}, 10_000) for d, k in zip(DELEGATES, SIGNERS, strict=True)
}
SPEC = cf.fake_custody_spec()
CFG = cf.FakeCustodyConfig()


def spend(committee: Committee = COMMITTEE, to: bytes = b"\x66" * 32) -> bytes:
    vault = SPEC.vault(committee, CFG)
    utxo = CustodyUtxo("fake", b"\x10" * 36, 90_000, 0, UtxoStatus.UNSPENT)
    req = SpendRequest(MandateKind.LP_WITHDRAW, b"m" * 32, 0, 0, committee, vault,
                       {"amount": 80_000, "destination": to.hex()}, 1)  # fmt: skip
    return SPEC.build(req, [utxo], CFG).spend


def fraud_of(signer_index: int, raw: bytes, key: bytes | None = None) -> fr.Fraud:
    sig = SIGNERS[signer_index].sign(SPEC.digests(raw)[0])
    body = U32.pack(len(raw)) + raw + U16.pack(0) + sig
    return fr.Fraud("fake", 0, key or KEYS[signer_index], body)


def judge(f: fr.Fraud, covered: frozenset[bytes] = frozenset(),
          members: dict[bytes, Member] = MEMBERS) -> bytes:  # fmt: skip
    return fr.judge(f, COMMITTEE, members, SPEC.fraud, lambda d: d in covered)


def reason(call: object) -> str:
    with pytest.raises(CustodyError) as exc:
        call()  # type: ignore[operator]
    return exc.value.reason


def test_attack_a_lone_member_signing_a_theft_is_proven_and_named() -> None:
    theft = spend(to=b"\xee" * 32)  # pays the thief; no mandate made it
    f = fraud_of(2, theft)
    assert fr.decode_fraud(f.encode()) == f
    assert judge(f) == DELEGATES[2]


def test_a_signature_over_a_mandated_digest_is_not_fraud() -> None:
    raw = spend()
    covered = frozenset(SPEC.digests(raw))
    assert reason(lambda: judge(fraud_of(1, raw), covered)) == "signature_mandated"


def test_the_key_must_be_an_unslashed_member_of_the_epoch() -> None:
    raw = spend()
    stranger = dev_key("stranger")
    sig = stranger.sign(SPEC.digests(raw)[0])
    body = U32.pack(len(raw)) + raw + U16.pack(0) + sig
    f = fr.Fraud("fake", 0, stranger.public_key, body)
    assert reason(lambda: judge(f)) == "not_custody_member"
    slashed = {**MEMBERS, DELEGATES[0]: replace(MEMBERS[DELEGATES[0]], slashed=True)}
    assert reason(lambda: judge(fraud_of(0, raw), members=slashed)) == "already_slashed"
    assert reason(lambda: fr.judge(fraud_of(0, raw), None, MEMBERS, SPEC.fraud,
                                   lambda d: False)) == "not_custody_member"  # fmt: skip


def test_a_members_personal_use_of_its_key_is_not_custody_fraud() -> None:
    """The member signs a spend of a 1-of-1 policy of its own key (its own money)."""
    mine = Committee(0, (DELEGATES[3],), 1, 1, {"fake": (KEYS[3],)}, 1, "genesis")
    assert reason(lambda: judge(fraud_of(3, spend(mine)))) == "not_custody_script"


def test_a_signature_that_is_not_the_accused_keys_clears_it() -> None:
    f = fraud_of(1, spend(), key=KEYS[0])  # member 1 signed, member 0 accused
    assert reason(lambda: judge(f)) == "bad_fraud_signature"


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x02\x04fake" + b"\x00" * 10, fraud_of(0, spend()).encode()[:-1],
     fraud_of(0, spend()).encode() + b"\x00",
     b"\x01\x04fake" + U32.pack(0) + b"\x20" + b"\x00" * 32 + U32.pack(fr.MAX_BODY + 1)],
)  # fmt: skip
def test_malformed_fraud_payloads(payload: bytes) -> None:
    with pytest.raises(ValidationError):
        fr.decode_fraud(payload)


def test_slash_split_examples() -> None:
    s = fr.slash_split(1_000_000, 50_000, 100_000, {"x": 300, "y": 100})
    assert s.reporter == 100_000 + 5_000
    assert dict(s.pools) == {"x": 675_000, "y": 225_000}
    assert s.burnt == 45_000 and s.total() == 1_050_000
    none = fr.slash_split(1_000, 0, 100_000, {})
    assert (none.reporter, dict(none.pools), none.burnt) == (100, {}, 900)
    empty = fr.slash_split(1_000, 0, 100_000, {"x": 0})
    assert dict(empty.pools) == {} and empty.burnt == 900


@given(
    bond=st.integers(0, 2**63), deposit=st.integers(0, 2**63), finder=st.integers(0, 1_000_000),
    reserves=st.dictionaries(st.sampled_from("abcde"), st.integers(0, 2**63), max_size=5),
)  # fmt: skip
def test_slash_split_is_exact_to_the_unit(
    bond: int, deposit: int, finder: int, reserves: dict[str, int]
) -> None:
    s = fr.slash_split(bond, deposit, finder, reserves)
    assert s.total() == bond + deposit
    assert s.reporter == bond * finder // 1_000_000 + deposit // 10
    assert all(v >= 0 for v in s.pools.values()) and set(s.pools) <= set(reserves)
    if any(reserves.values()):
        assert sum(s.pools.values()) == bond - bond * finder // 1_000_000
