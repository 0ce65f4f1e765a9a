"""The conformance suite's sections, one per optional adapter capability.

Each ``test_<capability>_...`` runs when the adapter under test declares the capability in
``CAPABILITIES`` and is skipped ("not declared") otherwise; a few check that an undeclared
capability refuses (:class:`~etm_bridge.errors.CapabilityError`) instead of half-working.
:class:`~etm_bridge.testing.conformance.AdapterConformance` inherits them all.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from etm_bridge.adapter import Capability, ChainAdapter, LockState, Payment, SpendKind
from etm_bridge.errors import CapabilityError, ChainError, ProofError, ValidationError
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.conformance_kit import (
    ConformanceHarness,
    lock_and_mine,
    mine_to,
    terms_for,
)
from etm_bridge.testing.preimages import new_preimage


def need(adapter: ChainAdapter, capability: Capability) -> None:
    """Skip the calling test unless ``adapter`` declares ``capability``."""
    if not adapter.supports(capability):
        pytest.skip(f"{capability.value}: not declared")


def _payment(h: ConformanceHarness, to: ChainAdapter) -> Payment:
    need(h.adapter, Capability.PAYMENTS)
    if h.payment is None:
        pytest.skip("payments: the harness gives no payment")
    return h.payment(to)


class CapabilitySections:
    """The capability sections (mixed into AdapterConformance; needs its ``harness``)."""

    # --- claims: only the claim key, or anyone (CLAIMS_BY_ANYONE) ---------------------------

    def test_only_the_claim_key_can_claim(self, harness: ConformanceHarness) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        if us.supports(Capability.CLAIMS_BY_ANYONE):
            pytest.skip("claims_by_anyone: a claim by another key is valid (next test)")
        preimage = new_preimage()
        lock = lock_and_mine(h, us, terms_for(h, us, them, hashlock_of(preimage)))
        with pytest.raises(ChainError):
            us.claim(lock, preimage, unsafe_skip_checks=True)

    def test_claims_by_anyone_pay_the_claim_key(self, harness: ConformanceHarness) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        need(us, Capability.CLAIMS_BY_ANYONE)
        preimage = new_preimage()
        lock = lock_and_mine(h, us, terms_for(h, us, them, hashlock_of(preimage)))
        before = them.balance(h.asset_id)
        us.claim(lock, preimage, unsafe_skip_checks=True)  # we claim the lock paying them
        h.mine(1)
        assert them.get_lock(lock.lock_id).state is LockState.CLAIMED
        assert them.balance(h.asset_id) - before == h.amount  # the claim key got it, not us
        assert them.find_preimage(them.get_lock(lock.lock_id)) == preimage

    # --- INCLUSION_PROOFS -------------------------------------------------------------------

    def test_inclusion_proof_verifies_and_tampering_fails(
        self, harness: ConformanceHarness
    ) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        need(us, Capability.INCLUSION_PROOFS)
        lock = lock_and_mine(h, them, terms_for(h, them, us, hashlock_of(new_preimage())))
        proof = us.inclusion_proof(lock.lock_id)
        h.verify_proof(proof)
        assert proof.block_height == lock.block_height
        assert us.headers(proof.block_height, 1) == [proof.header]
        tampered = replace(proof, leaf=proof.leaf[:-1] + bytes([proof.leaf[-1] ^ 1]))
        with pytest.raises(ProofError):
            h.verify_proof(tampered)

    def test_undeclared_inclusion_proofs_refuse(self, harness: ConformanceHarness) -> None:
        h, us = harness, harness.adapter
        if us.supports(Capability.INCLUSION_PROOFS):
            pytest.skip("inclusion_proofs: declared")
        lock = lock_and_mine(h, us, terms_for(h, us, h.counterparty, hashlock_of(new_preimage())))
        with pytest.raises(CapabilityError):
            us.inclusion_proof(lock.lock_id)

    # --- HTLC_ACTIVITY (and WATCH_HASHLOCK) -------------------------------------------------

    def test_htlc_activity_reports_locks_claims_and_refunds(
        self, harness: ConformanceHarness
    ) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        need(us, Capability.HTLC_ACTIVITY)
        preimage = new_preimage()
        claimed, refunded = hashlock_of(preimage), hashlock_of(new_preimage())
        for hashlock in (claimed, refunded):
            us.watch_hashlock(hashlock)  # a no-op unless the adapter declares WATCH_HASHLOCK
        lock = lock_and_mine(h, them, terms_for(h, them, us, claimed))
        own = lock_and_mine(h, us, terms_for(h, us, them, refunded))
        assert lock.block_height is not None and own.block_height is not None
        assert claimed in (us.htlc_activity(lock.block_height, lock.block_height) or set())
        us.claim(lock, preimage)
        h.mine(1)
        spend = us.find_spend(us.get_lock(lock.lock_id))
        assert spend is not None and spend.block_height is not None
        assert claimed in (us.htlc_activity(spend.block_height, spend.block_height) or set())
        mine_to(h, own.terms.timelock_height)
        us.refund(us.get_lock(own.lock_id))
        h.mine(1)
        back = us.find_spend(us.get_lock(own.lock_id))
        assert back is not None and back.block_height is not None
        assert refunded in (us.htlc_activity(back.block_height, back.block_height) or set())
        h.mine(1)
        quiet = us.tip().height
        assert not (us.htlc_activity(quiet, quiet) or set()) & {claimed, refunded}

    def test_undeclared_htlc_activity_says_none(self, harness: ConformanceHarness) -> None:
        us = harness.adapter
        if us.supports(Capability.HTLC_ACTIVITY):
            pytest.skip("htlc_activity: declared")
        assert us.htlc_activity(0, us.tip().height) is None

    # --- PAYMENTS ---------------------------------------------------------------------------

    def test_payment_reaches_its_destination_and_confirms(
        self, harness: ConformanceHarness
    ) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        payment = _payment(h, them)
        since = us.tip().height
        before = them.balance()
        txid = us.pay([payment])
        h.mine(1)
        status = us.payment_status(txid, since_height=since)
        assert status.block_height is not None and status.block_height > since
        assert status.confirmations >= 1  # (a chain that mines each transaction: 2 here)
        h.mine(2)
        later = us.payment_status(txid, since_height=since)
        assert (later.block_height, later.confirmations) == (
            status.block_height,
            status.confirmations + 2,
        )
        assert them.balance() - before == payment.amount

    def test_payment_proof_verifies_and_tampering_fails(self, harness: ConformanceHarness) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        payment = _payment(h, them)
        since = us.tip().height
        txid = us.pay([payment])
        h.mine(1)
        proof = us.payment_proof(txid, payment)
        h.verify_proof(proof)
        assert proof.block_height == us.payment_status(txid, since_height=since).block_height
        assert us.headers(proof.block_height, 1) == [proof.header]
        tampered = replace(proof, leaf=proof.leaf[:-1] + bytes([proof.leaf[-1] ^ 1]))
        with pytest.raises(ProofError):
            h.verify_proof(tampered)

    def test_undeclared_payments_refuse(self, harness: ConformanceHarness) -> None:
        us = harness.adapter
        if us.supports(Capability.PAYMENTS):
            pytest.skip("payments: declared")
        with pytest.raises(CapabilityError):
            us.pay([Payment(harness.counterparty.our_key(), harness.amount)])

    # --- WATCH_ONLY_BALANCE -----------------------------------------------------------------

    def test_balance_of_reads_a_key_without_its_secret(self, harness: ConformanceHarness) -> None:
        h, us = harness, harness.adapter
        need(us, Capability.WATCH_ONLY_BALANCE)
        if h.watch_config is None:
            pytest.skip("watch_only_balance: the harness gives no watch_config")
        h.mine(1)
        assert type(us).balance_of(h.watch_config, us.our_key()) == us.balance()
        other = h.counterparty
        assert type(us).balance_of(h.watch_config, other.our_key()) == other.balance()

    # --- FEE_BUMPS --------------------------------------------------------------------------

    def test_fee_bumps_raise_an_unconfirmed_claim_within_the_ceiling(
        self, harness: ConformanceHarness
    ) -> None:
        """Our unconfirmed claim is re-issued at a higher rate (by the adapter's preferred
        method), a rate above its ceiling is refused, and what confirms is our claim, paying us
        (the amount less fees: nothing went anywhere else)."""
        h, us, them = harness, harness.adapter, harness.counterparty
        need(us, Capability.FEE_BUMPS)
        preimage = new_preimage()
        lock = lock_and_mine(h, them, terms_for(h, them, us, hashlock_of(preimage)))
        lock = us.get_lock(lock.lock_id)
        before = us.balance(h.asset_id)
        us.claim(lock, preimage)
        spend = us.find_spend(lock)
        assert spend is not None and spend.block_height is None
        fee = us.spend_fee(lock, spend)
        assert fee.txid == spend.txid and fee.value == h.amount and fee.methods
        assert 1 <= fee.rate <= fee.ceiling and fee.fee < h.amount
        with pytest.raises(ValidationError):
            us.bump_spend(lock, spend, fee.ceiling + 1, fee.methods[0])
        if fee.rate < fee.ceiling:
            target = min(fee.rate + 2, fee.ceiling)
            spend = us.bump_spend(lock, spend, target, fee.methods[0])
            assert us.spend_fee(lock, spend).rate >= target
        h.mine(1)
        mined = us.find_spend(us.get_lock(lock.lock_id))
        assert mined is not None and mined.kind is SpendKind.CLAIM
        assert mined.preimage == preimage and mined.block_height is not None
        received = us.balance(h.asset_id) - before
        assert 0 < received < h.amount

    def test_undeclared_fee_bumps_refuse(self, harness: ConformanceHarness) -> None:
        us = harness.adapter
        if us.supports(Capability.FEE_BUMPS):
            pytest.skip("fee_bumps: declared")
        with pytest.raises(CapabilityError):  # refused before the arguments are looked at
            us.spend_fee(None, None)  # type: ignore[arg-type]
