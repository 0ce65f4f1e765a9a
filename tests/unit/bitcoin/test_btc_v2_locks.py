"""Users' v2 locks in the Bitcoin adapter (pure parts): terms to templates, the index's v2
candidates and their binding to a watched policy, spends of either branch, committee scripts."""

from __future__ import annotations

import pytest
from bitcoin.core import COutPoint, CScript, CTransaction, CTxIn, CTxOut, lx
from etm_bridge_bitcoin.adapter import _spend_of
from etm_bridge_bitcoin.custody import committee_policy, committee_spend_policy
from etm_bridge_bitcoin.index import FORMAT_VERSION, ChainIndex, outpoint_key, txid_hex
from etm_bridge_bitcoin.script import HtlcScript
from etm_bridge_bitcoin.txbuild import (
    WalletKey,
    build_counter_claim_tx,
    build_lock_tx,
    build_swap_in_refund_tx,
    build_user_claim_tx,
    build_user_refund_tx,
)
from etm_bridge_bitcoin.v2 import (
    CounterHtlc,
    KeyPolicy,
    MarkerV2,
    SwapInHtlc,
    htlc_of_terms,
    parse_marker_v2,
)

from etm_bridge.adapter import HtlcTerms, SpendKind
from etm_bridge.chains.bitcoin.custody import ecdsa
from etm_bridge.chains.bitcoin.custody.scripts import (
    counter_refund_witness,
    swap_in_claim_witness,
    vault_witness,
)
from etm_bridge.errors import ValidationError
from etm_bridge.hashlock import hashlock_of
from etm_bridge.utxo.index import SpendRecord

pytestmark = pytest.mark.unit

US = WalletKey(b"\x0a" * 32)
PREIMAGE = b"\x42" * 32
H = hashlock_of(PREIMAGE)
POLICY = KeyPolicy.of(3, [ecdsa.pubkey(bytes([0x30 + i]) * 32) for i in range(4)])
OTHER = KeyPolicy.of(2, [ecdsa.pubkey(bytes([0x50 + i]) * 32) for i in range(3)])


def _terms(claim: bytes, refund: bytes) -> HtlcTerms:
    return HtlcTerms(100_000, H, claim, refund, 300)


def test_terms_name_their_template_by_which_key_is_a_policy() -> None:
    assert htlc_of_terms(_terms(US.pubkey, US.pubkey)) == HtlcScript(H, US.pubkey, US.pubkey, 300)
    assert htlc_of_terms(_terms(POLICY.encode(), US.pubkey)) == SwapInHtlc(
        H, POLICY, US.pubkey, 300
    )
    assert htlc_of_terms(_terms(US.pubkey, POLICY.encode())) == CounterHtlc(
        H, US.pubkey, POLICY, 300
    )


@pytest.mark.parametrize(
    ("claim", "refund", "says"),
    [
        (POLICY.encode(), POLICY.encode(), "both key policies"),
        (POLICY.encode()[:-1], US.pubkey, "key policy of 4 keys"),
        (POLICY.encode(), US.pubkey[:32], "33-byte compressed"),
        (US.pubkey, b"\x04" * 65, "33 bytes"),
    ],
)
def test_malformed_policy_terms_get_one_clear_error(claim: bytes, refund: bytes, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        htlc_of_terms(_terms(claim, refund))


def _funded_index() -> ChainIndex:
    index = ChainIndex(birth_height=100)
    funding = CTransaction(
        [CTxIn(COutPoint(lx("ee" * 32), 0))], [CTxOut(500_000, CScript(US.script_pubkey))]
    )
    index.apply_tx(funding, 101, US.script_pubkey)
    return index


def test_a_v2_lock_is_a_candidate_until_its_policy_is_watched() -> None:
    index = _funded_index()
    htlc = SwapInHtlc(H, POLICY, US.pubkey, 300)
    tx, _ = build_lock_tx(US, index.spendable(), htlc, 200_000, 2)
    assert parse_marker_v2(bytes(tx.vout[1].scriptPubKey)) == MarkerV2.of(htlc)
    index.apply_tx(tx, 102, US.script_pubkey)
    lock = index.locks[outpoint_key(txid_hex(tx), 0)]
    assert lock.is_v2 and not lock.bound and lock.htlc(H) is None
    restored = ChainIndex.from_json(index.to_json()).locks[outpoint_key(txid_hex(tx), 0)]
    assert restored == lock and index.to_json()["version"] == FORMAT_VERSION == 4
    lock.policy_hex = OTHER.encode().hex()  # a policy other than the marker's: refused
    with pytest.raises(ValidationError, match="policy hash"):
        lock.htlc(H)
    lock.policy_hex = POLICY.encode().hex()
    assert lock.htlc(H) == htlc and lock.htlc(b"\x00" * 32) is None
    assert lock.marker.claim_pubkey == POLICY.encode()
    assert lock.marker.refund_pubkey == US.pubkey


def test_spends_of_v2_locks_are_read_as_claims_or_refunds() -> None:
    counter = CounterHtlc(H, US.pubkey, POLICY, 300)
    swap_in = SwapInHtlc(H, POLICY, US.pubkey, 300)
    claim = build_counter_claim_tx(US, "aa" * 32, 0, 100_000, counter, PREIMAGE, 2)
    refund = build_swap_in_refund_tx(US, "aa" * 32, 1, 100_000, swap_in, 2)
    assert refund.nLockTime == 300 and refund.vin[0].nSequence == 0xFFFFFFFE
    committee_refund = counter_refund_witness([b"\x30" * 71] * 3, counter)
    witnesses = [
        list(claim.wit.vtxinwit[0].scriptWitness),
        list(refund.wit.vtxinwit[0].scriptWitness),
        committee_refund,
    ]
    index = ChainIndex(birth_height=0)
    for n, witness in enumerate(witnesses):
        index.spends[f"aa:{n}"] = SpendRecord(f"{n:064x}", 5, [bytes(w).hex() for w in witness])
    kinds = [_spend_of(index, f"aa:{n}", f"x:{n}", H) for n in range(3)]
    assert [(s.kind, s.preimage) for s in kinds if s] == [
        (SpendKind.CLAIM, PREIMAGE),
        (SpendKind.REFUND, None),
        (SpendKind.REFUND, None),
    ]


def test_a_wallet_key_claims_only_its_own_side() -> None:
    swap_in = SwapInHtlc(H, POLICY, US.pubkey, 300)
    counter = CounterHtlc(H, US.pubkey, POLICY, 300)
    with pytest.raises(ValidationError, match="committee key policy"):
        build_user_claim_tx(US, ("aa" * 32, 0, 100_000), swap_in, PREIMAGE, 2)
    with pytest.raises(ValidationError, match="committee key policy"):
        build_user_refund_tx(US, ("aa" * 32, 0, 100_000), counter, 2)


def test_committee_scripts_are_the_vault_and_the_v2_committee_sides() -> None:
    assert committee_policy(POLICY.vault_script()) == POLICY
    assert committee_policy(SwapInHtlc(H, POLICY, US.pubkey, 300).script) == POLICY
    assert committee_policy(CounterHtlc(H, US.pubkey, POLICY, 300).script) == POLICY
    assert committee_policy(HtlcScript(H, US.pubkey, US.pubkey, 300).script) is None
    assert committee_policy(b"\x51") is None


def test_only_the_committee_branch_of_a_v2_lock_is_a_committee_spend() -> None:
    """Attack (x7a): custody_submit took any input whose witness script was a v2 lock as a
    committee spend, so the user's own refund of a swap-in v2 and claim of a counter v2 (the
    user's branches) went through the committee's submission path. The selector under the
    script decides: 0x01 (claim) for a swap-in v2, empty (refund) for a counter v2."""
    swap_in = SwapInHtlc(H, POLICY, US.pubkey, 300)
    counter = CounterHtlc(H, US.pubkey, POLICY, 300)
    sigs = [b"\x30" * 71] * 3
    user_refund = build_swap_in_refund_tx(US, "aa" * 32, 0, 100_000, swap_in, 2)
    user_claim = build_counter_claim_tx(US, "aa" * 32, 0, 100_000, counter, PREIMAGE, 2)
    for tx in (user_refund, user_claim):
        assert committee_spend_policy(list(tx.wit.vtxinwit[0].scriptWitness)) is None
    assert committee_spend_policy(swap_in_claim_witness(sigs, PREIMAGE, swap_in)) == POLICY
    assert committee_spend_policy(counter_refund_witness(sigs, counter)) == POLICY
    assert committee_spend_policy(vault_witness(sigs, POLICY.vault_script())) == POLICY
    wrong_branch = [*swap_in_claim_witness(sigs, PREIMAGE, swap_in)[:-2], b"", swap_in.script]
    assert committee_spend_policy(wrong_branch) is None
    assert committee_spend_policy([swap_in.script]) is None
