"""Custody key registration, tx 300 (design-14 section 1.4), with each attack performed.

Proofs of possession go through the real binding schemes of the chain profiles (Bitcoin
signed message, EIP-191 personal_sign)."""

from __future__ import annotations

import pytest
from custody_world import CHAINS, DOMAIN, NETWORK, delegate, registration, view

from etm_bridge.custody import registration as rg
from etm_bridge.custody.records import Member, Reason
from etm_bridge.errors import CustodyError, ValidationError

pytestmark = pytest.mark.unit

ALICE, BOB = delegate("alice"), delegate("bob")


def refused(reason: Reason, p: rg.Register, v: rg.RegistrationView) -> CustodyError:
    with pytest.raises(CustodyError) as exc:
        rg.check_registration(p, v)
    assert exc.value.reason == reason, exc.value
    return exc.value


def test_a_valid_registration_makes_a_member() -> None:
    p = registration(ALICE)
    assert rg.decode_register(p.encode()) == p
    member = rg.check_registration(p, view(ALICE))
    assert member == Member(ALICE.pk, ALICE.agent.public_key, ALICE.custody, 5_000, False, 7)


def test_the_pop_message_names_network_domain_delegate_agent_and_keys() -> None:
    msg = rg.pop_message(NETWORK, DOMAIN, ALICE.pk, ALICE.agent.public_key, ALICE.custody)
    lines = msg.split("\n")
    assert lines[0] == "etm-bridge custody key v1"
    assert lines[1] == "ETM network: 0x45544d01"
    assert lines[2] == f"custody domain: {DOMAIN.hex()}"
    assert lines[3] == f"delegate: {ALICE.pk.hex()}"
    assert lines[5] == f"keys: btc={ALICE.custody['btc'].hex()};eth={ALICE.custody['eth'].hex()}"


def test_attack_registering_another_delegates_key_is_refused() -> None:
    """Mallory (a delegate) registers Bob's Bitcoin key with Bob's proof, as if Bob had signed
    for Mallory (he did not: the message names Mallory): refused bad_pop. Even with a proof Bob
    really made for Mallory's message, the key is Bob's already: key_registered."""
    mallory = delegate("mallory")
    copied = registration(mallory, keys_from={"btc": "bob"})  # Bob's secret signs Mallory's msg
    owner = {("btc", BOB.custody["btc"]): BOB.pk}
    err = refused(Reason.KEY_REGISTERED, copied,
                  view(mallory, key_owner=lambda t, k: owner.get((t, k))))  # fmt: skip
    assert BOB.pk.hex() in err.detail
    # Bob's own proof (made for Bob's registration) replayed in Mallory's: bad_pop
    bobs = registration(BOB)
    stolen = rg.Register(mallory.agent.public_key, registration(mallory).agent_pop, 5_000,
                         {**mallory.custody, "btc": BOB.custody["btc"]},
                         {**registration(mallory).pops, "btc": bobs.pops["btc"]})  # fmt: skip
    refused(Reason.BAD_POP, stolen, view(mallory))


def test_attack_a_proof_of_possession_for_the_wrong_key_is_refused() -> None:
    good = registration(ALICE)
    wrong_key = rg.Register(good.agent, good.agent_pop, good.bond,
                            {**good.keys, "eth": BOB.custody["eth"]}, good.pops)  # fmt: skip
    refused(Reason.BAD_POP, wrong_key, view(ALICE))
    garbage = rg.Register(good.agent, good.agent_pop, good.bond, good.keys,
                          {**good.pops, "btc": b"\x1f" + b"\x00" * 64})  # fmt: skip
    refused(Reason.BAD_POP, garbage, view(ALICE))


@pytest.mark.parametrize("field", ["network_id", "domain", "delegate", "agent"])
def test_attack_a_proof_made_for_another_chain_domain_delegate_or_agent(field: str) -> None:
    other = {"network_id": NETWORK + 1, "domain": b"\xee" * 32, "delegate": BOB.pk,
             "agent": BOB.agent.public_key}[field]  # fmt: skip
    refused(Reason.BAD_POP, registration(ALICE, **{field: other}), view(ALICE))


def test_the_agent_must_sign_too() -> None:
    p = registration(ALICE)
    forged = rg.Register(p.agent, BOB.agent.sign(b"x" * 32), p.bond, p.keys, p.pops)
    refused(Reason.BAD_POP, forged, view(ALICE))


def test_an_agent_of_another_delegate_is_refused() -> None:
    refused(Reason.KEY_REGISTERED, registration(ALICE),
            view(ALICE, agent_owner=lambda a: BOB.pk))  # fmt: skip


def test_sender_must_be_an_unslashed_delegate_and_keys_the_right_length() -> None:
    refused(Reason.UNKNOWN_DELEGATE, registration(ALICE), view(ALICE, is_delegate=False))
    refused(Reason.DELEGATE_SLASHED, registration(ALICE), view(ALICE, delegate_slashed=True))
    p = registration(ALICE)
    short = rg.Register(p.agent, p.agent_pop, p.bond, {**p.keys, "btc": p.keys["btc"][:32]},
                        p.pops)  # fmt: skip
    refused(Reason.BAD_CUSTODY_KEY, short, view(ALICE))
    only_one = rg.Register(p.agent, p.agent_pop, p.bond, {"btc": p.keys["btc"]},
                           {"btc": p.pops["btc"]})  # fmt: skip
    refused(Reason.MALFORMED_FIELD, only_one, view(ALICE))


def test_a_serving_member_cannot_change_keys_but_may_re_register_the_same() -> None:
    serving = view(ALICE, serving=True, current=BOB.member(bond=100))  # other keys on record
    refused(Reason.KEYS_LOCKED, registration(ALICE), serving)
    same = view(ALICE, serving=True, current=ALICE.member(bond=100))
    member = rg.check_registration(registration(ALICE, bond=0), same)
    assert member.bond == 100  # a re-registration adds its bond (0 here)


def test_the_bond_must_be_in_the_balance() -> None:
    refused(Reason.INSUFFICIENT_BALANCE, registration(ALICE, bond=11), view(ALICE, balance=10))


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x02" + b"\x00" * 120, b"\x01" + b"\x00" * 104 + b"\x00",
     registration(ALICE).encode() + b"\x00", registration(ALICE).encode()[:-1]],
)  # fmt: skip
def test_malformed_payloads_are_refused_by_the_decoder(payload: bytes) -> None:
    with pytest.raises(ValidationError):
        rg.decode_register(payload)


def test_a_ticker_named_twice_is_malformed() -> None:
    raw = registration(ALICE).encode()
    header, entries = raw[:105], raw[106:]  # version, agent, agent_pop, bond | count | entries
    assert raw[105] == len(CHAINS)
    btc_len = 1 + 3 + 1 + 33 + 1 + entries[1 + 3 + 1 + 33]
    assert entries[1:4] == b"btc"
    with pytest.raises(ValidationError, match="named twice"):
        rg.decode_register(header + bytes([3]) + entries + entries[:btc_len])
