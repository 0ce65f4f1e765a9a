"""CommitteeVault on anvil: who may move the money (signature rule, replay, epochs, rotation).

Each test deploys a fresh vault (3-of-4) beside the session's EtherSwapHTLC and funds it with
ether; the members only sign EIP-712 data, an executor who is not a member submits. Every
refusal is checked by the custom error the contract names. The digests computed in Python
(:mod:`etm_bridge_ethereum.committee_vault_eip712`) are pinned to the contract's ``hash*`` views
and to eth_account, and the committed vectors (``contracts/ethereum/committee_vault_vectors.json``,
incl. the malicious-member case kept for the fraud-proof tests) are replayed on a vault deployed
at their recorded address.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from committee_vault_world import (
    CANDIDATES,
    ETH,
    FAR,
    MEMBERS,
    NEWCOMER,
    OUTSIDER,
    SALT,
    World,
    address20,
    fresh,
    make_world,
    reverts,
)
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak
from etm_bridge_ethereum.committee_vault import CommitteeVaultClient, deploy_committee_vault
from etm_bridge_ethereum.committee_vault_eip712 import (
    DOMAIN_TYPE,
    SECP256K1_ORDER,
    CounterLock,
    Payout,
    Rotate,
    VaultDomain,
    digest,
    order_signatures,
    parse_fraud_body,
    recover_signer,
    sign,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etm_bridge.errors import ValidationError

ROOT = Path(__file__).resolve().parents[3]
VECTORS = json.loads((ROOT / "contracts/ethereum/committee_vault_vectors.json").read_text())


@pytest.fixture
def world(anvil_node: Any, htlc: Any, tmp_path: Path) -> Iterator[World]:
    w = make_world(anvil_node, htlc.address, tmp_path)
    yield w
    w.client.close()


# ---- digests: Python == contract == eth_account --------------------------------------------

words = st.binary(min_size=32, max_size=32)
addresses = st.binary(min_size=20, max_size=20)
u64 = st.integers(min_value=0, max_value=2**64 - 1)
u256 = st.integers(min_value=0, max_value=2**256 - 1)
structs = st.one_of(
    st.builds(CounterLock, words, u64, words, addresses, u256, addresses, u256, u64),
    st.builds(Payout, words, u64, addresses, u256, addresses, u64),
    st.builds(
        Rotate, words, u64, u64, st.lists(addresses, max_size=15).map(tuple),
        st.integers(min_value=0, max_value=255),
    ),
)  # fmt: skip


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(s=structs)
def test_python_digest_equals_the_contracts(world: World, s: Any) -> None:
    assert world.client.contract_digest(s) == digest(world.client.domain, s)


def test_type_hashes_and_domain_are_the_design_strings(world: World) -> None:
    client = world.client
    for view, text in [
        ("DOMAIN_TYPEHASH", DOMAIN_TYPE),
        ("COUNTER_LOCK_TYPEHASH", VECTORS["type_strings"]["CounterLock"]),
        ("PAYOUT_TYPEHASH", VECTORS["type_strings"]["Payout"]),
        ("ROTATE_TYPEHASH", VECTORS["type_strings"]["Rotate"]),
    ]:
        assert client.view(view) == keccak(text=text), view
    assert client.view("domainSeparator") == client.domain.separator()
    assert client.domain.salt == SALT and client.view("version") == 1
    assert (client.view("epoch"), client.view("threshold")) == (0, 3)
    assert client.signers() == tuple(address20(k) for k in MEMBERS)
    assert client.view("htlc") == world.htlc.lower()


# ---- the signature rule -----------------------------------------------------------------------


def test_three_of_four_pays_and_the_mandate_is_marked_executed(world: World) -> None:
    to = world.payee
    p = world.payout(ETH, to)
    assert world.client.view("executed", p.mandate_id) is False
    paid = world.client.execute(p, world.sigs(p))
    assert world.balance(to) == ETH
    assert world.client.view("executed", p.mandate_id) is True
    log = world.anvil.wait_for_receipt(paid.tx_hash)["logs"][paid.log_index]
    assert log["topics"][1] == "0x" + p.mandate_id.hex()
    assert log["data"][2:66] == digest(world.client.domain, p).hex()  # what ETM matches


def test_every_three_of_the_four_members_may_sign(world: World) -> None:
    for skip in range(4):
        keys = [k for i, k in enumerate(MEMBERS) if i != skip]
        p = world.payout(ETH // 10, world.payee)
        world.client.execute(p, world.sigs(p, keys))
    assert world.balance(world.payee) == 4 * ETH // 10


def test_two_signatures_are_refused_and_nothing_moves(world: World) -> None:
    p = world.payout(ETH, world.payee)
    with reverts("TooFewSignatures") as info:
        world.client.execute(p, world.sigs(p)[:2])
    assert "TooFewSignatures(2, 3)" in str(info.value)
    with reverts("TooFewSignatures"):
        world.client.execute(p, [])
    assert world.balance(world.payee) == 0
    assert world.client.view("executed", p.mandate_id) is False  # a refusal burns no mandate


def test_unsorted_and_duplicate_signers_are_refused(world: World) -> None:
    p = world.payout(ETH, world.payee)
    a, b, c = world.sigs(p)
    for bad in ([b, a, c], [a, c, b], [a, a, b, c], [a, b, b, c]):
        with reverts("SignersNotAscending"):
            world.client.execute(p, bad)
    world.client.execute(p, [a, b, c])


def test_a_non_member_signature_is_refused(world: World) -> None:
    p = world.payout(ETH, world.payee)
    for keys in ([*MEMBERS[:2], OUTSIDER], [*MEMBERS[:3], OUTSIDER], [NEWCOMER, *MEMBERS[:3]]):
        stranger = next(a for a in sorted(map(address20, keys)) if a not in map(address20, MEMBERS))
        with reverts("NotASigner") as info:
            world.client.execute(p, world.sigs(p, keys))
        assert stranger.hex() in str(info.value).lower()
    assert world.balance(world.payee) == 0


def test_malformed_signatures_are_refused_by_contract_and_python(world: World) -> None:
    p = world.payout(ETH, world.payee)
    good = world.sigs(p)
    first = good[0]
    s = int.from_bytes(first[32:64], "big")
    twin = first[:32] + (SECP256K1_ORDER - s).to_bytes(32, "big") + bytes([55 - first[64]])
    dig = digest(world.client.domain, p)
    assert Account._recover_hash(dig, signature=twin) == Account.from_key(MEMBERS[0]).address
    for bad in (first[:64], first + b"\x00", first[:64] + b"\x00", first[:64] + b"\x01", twin):
        with reverts("BadSignature") as info:
            world.client.execute(p, [bad, *good[1:]])
        assert "BadSignature(0)" in str(info.value)
        with pytest.raises(ValidationError):
            recover_signer(dig, bad)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(r=st.binary(min_size=32, max_size=32), s=st.integers(1, SECP256K1_ORDER // 2),
       v=st.sampled_from([27, 28]))  # fmt: skip
def test_python_recovery_agrees_with_ecrecover_on_random_signatures(
    world: World, r: bytes, s: int, v: int
) -> None:
    """Consensus: the signer ETM recovers is the one the contract recovers (or both refuse)."""
    p = Payout(b"\x01" * 32, 0, bytes(20), 1, b"\x5e" * 20, FAR)
    sig = r + s.to_bytes(32, "big") + bytes([v])
    try:
        signer = recover_signer(digest(world.client.domain, p), sig)
    except ValidationError:
        with reverts("BadSignature"):
            world.client.execute(p, [sig])
        return
    with reverts("NotASigner") as info:  # a random key is no member
        world.client.execute(p, [sig])
    assert signer.hex() in str(info.value).lower()


def test_replay_of_a_mandate_is_refused_across_revisions_and_kinds(world: World) -> None:
    p = world.payout(ETH, world.payee)
    world.client.execute(p, world.sigs(p))
    with reverts("AlreadyExecuted"):
        world.client.execute(p, world.sigs(p))
    revision = Payout(p.mandate_id, 0, p.token, p.amount, p.to, FAR - 1)  # a re-issued revision
    with reverts("AlreadyExecuted"):
        world.client.execute(revision, world.sigs(revision))
    lock = world.counter_lock(ETH, world.payee, world.block() + 50, mandate_id=p.mandate_id)
    with reverts("AlreadyExecuted"):
        world.client.execute(lock, world.sigs(lock))
    assert world.balance(world.payee) == ETH


def test_an_expired_mandate_is_refused_and_the_deadline_second_still_counts(world: World) -> None:
    latest = int(world.anvil.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    p = world.payout(ETH, world.payee, deadline=latest - 1)
    with reverts("Expired"):
        world.client.execute(p, world.sigs(p))
    on_time = world.payout(ETH, world.payee, deadline=latest + 100)
    world.anvil.rpc.call("evm_setNextBlockTimestamp", hex(latest + 100))  # == deadline
    world.client.execute(on_time, world.sigs(on_time), gas=300_000)
    assert world.balance(world.payee) == ETH


def test_a_signature_for_another_vault_is_refused(world: World, anvil_node: Any) -> None:
    """The domain names the vault (and the chain and ETM domain): a signature for a twin vault
    of the same committee recovers to a stranger here."""
    twin = make_world(anvil_node, world.htlc, world.tmp / "twin", funding_wei=0)
    p = world.payout(ETH, world.payee)
    with reverts("NotASigner"):
        world.client.execute(p, twin.sigs(p))
    twin.client.close()


def test_a_signature_for_another_chain_or_etm_domain_is_refused(world: World) -> None:
    """The same committee signing the same payout for chain id 1 (mainnet replay) or for
    another ETM deployment (salt): over another digest, each recovers to a stranger here."""
    here = world.client.domain
    p = world.payout(ETH, world.payee)
    for elsewhere in (
        VaultDomain(1, here.vault, here.salt),
        VaultDomain(here.chain_id + 1, here.vault, here.salt),
        VaultDomain(here.chain_id, here.vault, keccak(text="another ETM chain")),
    ):
        foreign = [sign(k, elsewhere, p) for k in MEMBERS[:3]]
        ordered = list(order_signatures(digest(elsewhere, p), foreign))
        with reverts("NotASigner"):
            world.client.execute(p, ordered)
    assert world.balance(world.payee) == 0
    assert world.client.view("executed", p.mandate_id) is False
    world.client.execute(p, world.sigs(p))  # the same members, signing for this vault
    assert world.balance(world.payee) == ETH


# ---- rotation ---------------------------------------------------------------------------------


def test_rotation_needs_the_current_set_then_old_signatures_are_refused(world: World) -> None:
    new_set = CANDIDATES[1:]  # member 0 leaves, the newcomer joins
    r = world.rotate(new_set)
    with reverts("NotASigner"):  # the incoming set cannot rotate itself in
        world.client.execute(r, world.sigs(r, new_set[1:]))
    with reverts("NotASigner"):
        world.client.execute(r, world.sigs(r, [*MEMBERS[1:3], OUTSIDER]))
    with reverts("TooFewSignatures"):
        world.client.execute(r, world.sigs(r, MEMBERS[:2]))
    old = world.payout(ETH, world.payee)  # signed at epoch 0, executed after the rotation
    old_sigs = world.sigs(old)
    rotated = world.client.execute(r, world.sigs(r))
    assert world.client.view("epoch") == 1 and world.client.view("threshold") == 3
    assert world.client.signers() == tuple(address20(k) for k in new_set)
    assert world.client.view("isSigner", Account.from_key(MEMBERS[0]).address) is False
    assert world.client.view("isSigner", Account.from_key(NEWCOMER).address) is True
    assert rotated.event == "Rotated"
    with reverts("NotCurrentEpoch") as info:
        world.client.execute(old, old_sigs)
    assert "NotCurrentEpoch(0, 1)" in str(info.value)
    world.members, world.epoch = new_set, 1
    leaver = world.payout(ETH, world.payee)
    with reverts("NotASigner"):  # the member who left signs an epoch-1 payout
        world.client.execute(leaver, world.sigs(leaver, [MEMBERS[0], *new_set[:2]]))
    with reverts("EpochNotAfter"):  # the same rotation again
        world.client.execute(r, world.sigs(r, MEMBERS[:3]))
    again = Rotate(r.mandate_id, 1, 2, r.new_signers, 3)  # its id, signed by the new set
    with reverts("AlreadyExecuted"):
        world.client.execute(again, world.sigs(again))
    fresh_payout = world.payout(ETH, world.payee)
    world.client.execute(fresh_payout, world.sigs(fresh_payout))  # the new set pays
    assert world.balance(world.payee) == ETH


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: (s[1], s[0], *s[2:]),  # unsorted
        lambda s: (s[0], s[0], *s[2:]),  # duplicate
        lambda s: (bytes(20), *s[1:]),  # zero address
        lambda s: (),  # empty
        lambda s: tuple(sorted(keccak(text=f"x{i}")[:20] for i in range(16))),  # 16 > 15
    ],
    ids=["unsorted", "duplicate", "zero", "empty", "sixteen"],
)
def test_a_malformed_new_set_is_refused_even_when_properly_signed(world: World, mutate) -> None:
    base = world.rotate(CANDIDATES[1:])
    new = mutate(base.new_signers)
    m = 2 * len(new) // 3 + 1 if new else 1
    r = Rotate(base.mandate_id, 0, 1, new, m)
    with reverts("BadSignerSet"):
        world.client.execute(r, world.sigs(r))


def test_wrong_threshold_and_a_stale_new_epoch_are_refused(world: World) -> None:
    base = world.rotate(CANDIDATES[1:])
    for m in (2, 4):
        r = Rotate(base.mandate_id, 0, 1, base.new_signers, m)
        with reverts("BadSignerSet"):
            world.client.execute(r, world.sigs(r))
    for new_epoch, error in ((0, "EpochNotAfter"), (2**64 - 1, "BadSignerSet")):
        r = Rotate(base.mandate_id, 0, new_epoch, base.new_signers, 3)
        with reverts(error):
            world.client.execute(r, world.sigs(r))
    jump = Rotate(base.mandate_id, 0, 7, base.new_signers, 3)  # epochs may skip (ETM u32)
    world.client.execute(jump, world.sigs(jump))
    assert world.client.view("epoch") == 7


def test_the_constructor_refuses_a_bad_set_domain_or_htlc(world: World, anvil_node: Any) -> None:
    key, _ = fresh(anvil_node, "committee vault tests: deployer")
    members = [address20(k) for k in MEMBERS]
    with pytest.raises(ValidationError):  # Python refuses before sending
        deploy_committee_vault(anvil_node.rpc_url, key, world.tmp / "d", world.htlc, SALT,
                               [*members, members[0]])  # fmt: skip
    with pytest.raises(ValidationError):
        deploy_committee_vault(anvil_node.rpc_url, key, world.tmp / "d", world.htlc, bytes(32),
                               members)  # fmt: skip
    from etm_bridge_ethereum import artifacts

    code = bytes.fromhex(artifacts.load("CommitteeVault").bytecode[2:])
    htlc = world.htlc
    cases = [
        ((htlc, SALT, members[::-1], 3), "BadSignerSet"),
        ((htlc, SALT, members, 2), "BadSignerSet"),
        ((htlc, bytes(32), members, 3), "InvalidDomain"),
        ("0x" + "00" * 19 + "01", "InvalidAddress"),  # no code at the HTLC address
    ]
    for args, error in cases:
        if isinstance(args, str):
            args = (args, SALT, members, 3)
        data = code + encode(["address", "bytes32", "address[]", "uint8"], list(args))
        with reverts(error):
            world.client.sender.estimate_gas(None, data, 0, "deploy CommitteeVault")


def test_a_client_refuses_an_address_without_the_vault_code(world: World) -> None:
    from etm_bridge.errors import ChainError

    with pytest.raises(ChainError, match="not the CommitteeVault"):
        CommitteeVaultClient(world.anvil.rpc_url, OUTSIDER, world.tmp / "o", world.htlc)


# ---- the committed vectors, incl. the malicious member's signature --------------------------


def test_vectors_replay_on_a_vault_at_their_address_and_theft_alone_moves_nothing(
    anvil_node: Any, htlc: Any, tmp_path: Path
) -> None:
    domain = VECTORS["domain"]
    key = "0x" + keccak(text=domain["deployer_key_seed"]).hex()
    anvil_node.rpc.call("anvil_setBalance", domain["deployer"], hex(100 * ETH))
    assert (
        int(anvil_node.rpc.call("eth_getTransactionCount", domain["deployer"], "latest"), 16) == 0
    )
    members = [bytes.fromhex(a[2:]) for a in VECTORS["epoch0_signers"]]
    salt = bytes.fromhex(domain["salt"][2:])
    vault = deploy_committee_vault(anvil_node.rpc_url, key, tmp_path, htlc.address, salt, members)
    assert vault.address == domain["verifyingContract"] and anvil_node.chain_id == domain["chainId"]
    client = CommitteeVaultClient(anvil_node.rpc_url, key, tmp_path, vault.address, 30)
    try:
        assert client.view("domainSeparator").hex() == VECTORS["domain_separator"][2:]
        client.deposit(b"\x01" * 20, 2 * ETH)
        fraud = VECTORS["fraud"]
        theft, signature = parse_fraud_body(bytes.fromhex(fraud["fraud_body"][2:]))
        assert client.contract_digest(theft).hex() == fraud["case"]["digest"][2:]
        signer = recover_signer(client.contract_digest(theft), signature)
        assert "0x" + signer.hex() == fraud["signer"].lower()
        assert client.view("isSigner", fraud["signer"]) is True  # a member, signing alone
        with reverts("TooFewSignatures") as info:
            client.execute(theft, [signature])
        assert "TooFewSignatures(1, 3)" in str(info.value)
        with reverts("SignersNotAscending"):  # repeating it does not make a quorum
            client.execute(theft, [signature] * 3)
        assert anvil_node.balance_wei(vault.address) == 2 * ETH  # nothing moved
        assert client.view("executed", theft.mandate_id) is False
        for case in VECTORS["cases"]:  # the mandated structs execute with their signatures
            kind = {"CounterLock": CounterLock, "Payout": Payout, "Rotate": Rotate}[case["kind"]]
            s = kind.abi_decode(bytes.fromhex(case["abi_encoded"][2:]))
            assert client.contract_digest(s).hex() == case["digest"][2:]
            client.execute(s, [bytes.fromhex(x[2:]) for x in case["signatures"]])
        assert client.view("epoch") == 1
    finally:
        client.close()
