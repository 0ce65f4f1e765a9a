"""Attacks on users' v2 locks and the committee's submissions (Bitcoin CUSTODY), on the node.

Each test performs the attack with transactions the node accepts (or, for the last, refuses)
and shows the adapter is not fooled: a marker naming another policy, a right marker over a wrong
script, a flood of decoy markers naming the watched policy, a committee claim redirected away
from the vault, and a wallet spend pushed through ``custody_submit``.
"""

from __future__ import annotations

import secrets

import pytest
from btc_custody_kit import POLICY, SECRETS, assemble_claim
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_bitcoin.adapter import parse_lock_id
from etm_bridge_bitcoin.txbuild import build_swap_in_refund_tx
from etm_bridge_bitcoin.v2 import KeyPolicy, MarkerV2, SwapInHtlc, script_pubkey_of

from etm_bridge.adapter import HtlcTerms, LockState, SpendKind
from etm_bridge.chains.bitcoin.custody import ecdsa
from etm_bridge.chains.bitcoin.custody.build import vault_script_pubkey
from etm_bridge.chains.bitcoin.etm import verifier as bp
from etm_bridge.chains.bitcoin.spv.tx import parse_tx
from etm_bridge.errors import ChainError, LockNotFoundError, ValidationError
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.preimages import new_preimage

AMOUNT = 50_000
#: Another committee (the attacker's): 2 of 3 fresh keys.
OTHER = KeyPolicy.of(2, [ecdsa.pubkey(secrets.token_bytes(32)) for _ in range(3)])


def _v2_lock(us, hashlock: bytes, *, script_policy: KeyPolicy, marker: MarkerV2) -> str:
    """A lock transaction paying the swap-in script of ``script_policy`` with ``marker``."""
    htlc = SwapInHtlc(hashlock, script_policy, us.our_key(), marker.timelock)
    return us.pay([(script_pubkey_of(htlc), AMOUNT), (marker.script_pubkey(), 0)])


def _marker(us, policy: KeyPolicy, timelock: int) -> MarkerV2:
    return MarkerV2(1, us.our_key(), timelock, policy.hash())


def test_a_marker_naming_another_policy_hides_nothing_and_fakes_nothing(
    btc_party, bitcoin_node
) -> None:
    """The script pays our committee but the marker names the attacker's policy (and the
    reverse): neither is taken for a lock to either policy, whoever watches both."""
    (user, _), (committee, _) = btc_party(), btc_party()
    hashlock = hashlock_of(new_preimage())
    t = user.tip().height + 20
    _v2_lock(user, hashlock, script_policy=POLICY, marker=_marker(user, OTHER, t))
    _v2_lock(user, hashlock, script_policy=OTHER, marker=_marker(user, POLICY, t))
    bitcoin_node.mine(1)
    committee.watch_policy(POLICY.encode())
    committee.watch_policy(OTHER.encode())
    assert committee.find_locks(hashlock) == []
    assert hashlock not in committee.htlc_activity(user.tip().height, user.tip().height)


def test_the_right_marker_over_a_wrong_script_is_not_a_lock(btc_party, bitcoin_node) -> None:
    """The marker names our policy, key and T, the output pays a script with another T: the
    rebuilt script does not match the output, so the lock is not found (nor its terms faked)."""
    (user, _), (committee, _) = btc_party(), btc_party()
    hashlock = hashlock_of(new_preimage())
    t = user.tip().height + 20
    wrong = SwapInHtlc(hashlock, POLICY, user.our_key(), t + 1)
    marker = _marker(user, POLICY, t)
    user.pay([(script_pubkey_of(wrong), AMOUNT), (marker.script_pubkey(), 0)])
    bitcoin_node.mine(1)
    committee.watch_policy(POLICY.encode())
    assert committee.find_locks(hashlock) == []


def test_a_flood_of_decoy_markers_naming_the_policy_finds_only_the_real_lock(
    btc_party, bitcoin_node
) -> None:
    """Decoy transactions carrying our policy's marker over random P2WSH outputs (what anyone
    can post for a few hundred sat each) are candidates, never locks: the real one is found,
    with its terms, among them; ``htlc_activity`` reports its hashlock only."""
    (user, _), (committee, _) = btc_party(funding_sat=20_000_000, coins=4), btc_party()
    preimage = new_preimage()
    hashlock = hashlock_of(preimage)
    start = user.tip().height + 1
    t = user.tip().height + 20
    decoys = [(b"\x00\x20" + secrets.token_bytes(32), 330) for _ in range(40)]
    for batch in range(4):
        marker = _marker(user, POLICY, t + batch)
        user.pay([*decoys[batch * 10 : batch * 10 + 10], (marker.script_pubkey(), 0)])
        bitcoin_node.mine(1)
    terms = HtlcTerms(AMOUNT, hashlock, POLICY.encode(), user.our_key(), t)
    real = user.lock(terms)
    bitcoin_node.mine(1)
    committee.watch_policy(POLICY.encode())
    committee.watch_hashlock(hashlock)
    candidates = [k for k, lock in committee._view_with_mempool().locks.items() if lock.is_v2]
    assert len(candidates) == 41  # every decoy output is a candidate, each costs one hash
    (found,) = committee.find_locks(hashlock)
    assert found.lock_id == real.lock_id and found.terms == terms
    assert committee.htlc_activity(start, committee.tip().height) == {hashlock}


def test_a_committee_claim_redirected_away_from_the_vault_is_refused_by_the_chain(
    btc_party, bitcoin_node
) -> None:
    """The members signed a claim paying the vault; a relayer rewriting its output to itself
    (same witness) submits a transaction whose signatures do not cover it: the node refuses,
    the lock stays open, and the honest claim still goes through."""
    (user, _), (committee, _) = btc_party(), btc_party()
    preimage = new_preimage()
    t = user.tip().height + 20
    terms = HtlcTerms(AMOUNT, hashlock_of(preimage), POLICY.encode(), user.our_key(), t)
    lock = user.lock(terms)
    bitcoin_node.mine(1)
    lock = user.get_lock(lock.lock_id)
    committee.watch_policy(POLICY.encode())
    honest = assemble_claim(lock, preimage, SECRETS[:3])
    vault = vault_script_pubkey(POLICY)
    thief = committee.key.script_pubkey
    stolen = honest.replace(bytes([len(vault)]) + vault, bytes([len(thief)]) + thief)
    assert stolen != honest
    with pytest.raises(ChainError):
        committee.custody_submit(stolen)
    assert user.find_spend(user.get_lock(lock.lock_id)) is None
    committee.custody_submit(honest)
    bitcoin_node.mine(1)
    spend = user.find_spend(user.get_lock(lock.lock_id))
    assert spend is not None and spend.kind is SpendKind.CLAIM and spend.preimage == preimage
    height = user.tip().height  # the committee's v2 claim reveals its hashlock to a scan
    assert user.htlc_activity(height, height) == {terms.hashlock}


def test_a_wallet_spend_is_not_a_committee_spend(btc_party, bitcoin_node) -> None:
    """A user's own v1 claim (valid, signed) pushed through custody_submit is refused before
    the node sees it: no input spends a committee script of a watched policy."""
    (user, _), (other, _) = btc_party(), btc_party()
    preimage = new_preimage()
    t = other.tip().height + 20
    terms = HtlcTerms(AMOUNT, hashlock_of(preimage), user.our_key(), other.our_key(), t)
    lock = other.lock(terms)
    bitcoin_node.mine(1)
    user.watch_policy(POLICY.encode())
    spend = user.claim(user.get_lock(lock.lock_id), preimage)
    raw = bytes.fromhex(user.rpc.call("getrawtransaction", spend.txid, 0))
    with pytest.raises(ValidationError, match="committee"):
        user.custody_submit(raw)


def test_a_users_refund_of_a_policy_lock_is_not_a_committee_spend(btc_party, bitcoin_node) -> None:
    """Attack (x7a): the user's own refund of a swap-in v2 (valid, signed, past T) pushed
    through custody_submit. It spends a v2 script of the watched policy, but through the
    user's branch: refused before the node sees it; the same refund by ``refund`` is mined."""
    user, _ = btc_party()
    t = user.tip().height + 2
    terms = HtlcTerms(AMOUNT, hashlock_of(new_preimage()), POLICY.encode(), user.our_key(), t)
    lock = user.lock(terms)
    bitcoin_node.mine(t - user.tip().height)
    txid, vout, _ = parse_lock_id(lock.lock_id)
    htlc = SwapInHtlc(terms.hashlock, POLICY, user.our_key(), t)
    raw = build_swap_in_refund_tx(user.key, txid, vout, AMOUNT, htlc, 2).serialize()
    with pytest.raises(ValidationError, match="committee side"):
        user.custody_submit(raw)
    assert user.get_lock(lock.lock_id).state is LockState.OPEN
    user.refund(user.get_lock(lock.lock_id))
    bitcoin_node.mine(1)
    assert user.get_lock(lock.lock_id).state is LockState.REFUNDED


def test_the_adapters_policy_lock_is_what_the_etm_verifier_reads(btc_party, bitcoin_node) -> None:
    """The swap-in lock the adapter makes carries exactly the marker v2 ETM's verifier demands,
    and its ``xchg_swap_in`` proof (``lock_proof``) names the v2 witness script, so the swap
    engine proves a policy lock as it proves any other."""
    user, _ = btc_party()
    t = user.tip().height + 20
    terms = HtlcTerms(AMOUNT, hashlock_of(new_preimage()), POLICY.encode(), user.our_key(), t)
    lock = user.lock(terms)
    bitcoin_node.mine(1)
    lock = user.get_lock(lock.lock_id)
    htlc = SwapInHtlc(terms.hashlock, POLICY, user.our_key(), t)
    proof = user.inclusion_proof(lock.lock_id)
    bp.require_policy_marker(parse_tx(proof.leaf), bp.policy_lock(htlc.script))
    decoded = bp.BtcProof.decode(bp.lock_proof(lock, proof))
    assert decoded.witness_script == htlc.script and decoded.vout == 0


def test_a_restarted_user_finds_its_policy_lock_once_told_the_policy_and_refunds_it(
    btc_party, bitcoin_node
) -> None:
    """Policies are not persisted (the index is a cache of the chain): after a restart the
    user's v2 lock is unknown until the policy is watched again (by ``watch_policy`` or by
    giving the adapter the lock's terms), then found and refunded at its timelock."""
    user, config = btc_party()
    t = user.tip().height + 3
    terms = HtlcTerms(AMOUNT, hashlock_of(new_preimage()), POLICY.encode(), user.our_key(), t)
    lock = user.lock(terms)
    bitcoin_node.mine(1)
    restarted = BitcoinAdapter.from_config(config)
    try:
        with pytest.raises(LockNotFoundError):
            restarted.get_lock(lock.lock_id)
        assert restarted.find_locks(terms.hashlock) == []
        restarted.watch_policy(POLICY.encode())
        found = restarted.get_lock(lock.lock_id)
        assert found.terms == terms
        bitcoin_node.mine(t - restarted.tip().height)
        spend = restarted.refund(found)
        bitcoin_node.mine(1)
        assert spend.kind is SpendKind.REFUND
        assert restarted.get_lock(lock.lock_id).state is LockState.REFUNDED
    finally:
        restarted.close()
