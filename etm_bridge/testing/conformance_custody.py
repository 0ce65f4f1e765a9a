"""The conformance suite's CUSTODY section: users' locks to a committee key policy.

Runs when the adapter declares :attr:`~etm_bridge.adapter.Capability.CUSTODY` and the harness
gives a :class:`~etm_bridge.testing.conformance_kit.CustodyKit` (a test committee: its policy,
its members' secrets and the chain's assembler). It plays the user (``harness.adapter``) and
the committee's side (``harness.counterparty``, which watches the policy and submits what the
members signed): a swap-in lock to the policy found by ``watch_policy`` and claimed by m
signatures (submitted, seen pending and mined, proven, submitted twice), fewer than m refused
by the chain, the user's refund refused before T and accepted after, a counter lock (refund
side the policy) claimed by the user with the preimage and a wrong preimage refused, and a
spend of nothing the committee holds refused by ``custody_submit``.
"""

from __future__ import annotations

import pytest

from etm_bridge.adapter import Capability, HtlcLock, HtlcTerms, LockState, SpendKind
from etm_bridge.errors import (
    CapabilityError,
    ChainError,
    HashlockError,
    TimelockError,
    ValidationError,
)
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.conformance_kit import ConformanceHarness, CustodyKit, mine_to
from etm_bridge.testing.preimages import new_preimage


def _kit(h: ConformanceHarness) -> CustodyKit:
    if not h.adapter.supports(Capability.CUSTODY):
        pytest.skip("custody: not declared")
    if h.custody is None:
        pytest.skip("custody: the harness gives no test committee")
    return h.custody


def _policy_lock(
    h: ConformanceHarness, kit: CustodyKit, hashlock: bytes, *, swap_in: bool
) -> HtlcLock:
    """A lock mined one block ago: by the user to the policy (swap-in), or by the counterparty
    to the user with the policy as refund key (counter)."""
    locker = h.adapter if swap_in else h.counterparty
    terms = HtlcTerms(
        amount=h.amount,
        hashlock=hashlock,
        claim_key=kit.policy if swap_in else h.adapter.our_key(),
        refund_key=h.adapter.our_key() if swap_in else kit.policy,
        timelock_height=locker.tip().height + h.timelock_blocks,
        asset_id=h.asset_id,
    )
    lock = locker.lock(terms)
    h.mine(1)
    return locker.get_lock(lock.lock_id)


class CustodySection:
    """The ``test_custody_*`` cases (mixed into AdapterConformance; needs its ``harness``)."""

    def test_custody_swap_in_lock_is_found_by_its_policy_and_claimed_by_m_signatures(
        self, harness: ConformanceHarness
    ) -> None:
        h, kit, user, committee = harness, _kit(harness), harness.adapter, harness.counterparty
        preimage = new_preimage()
        hashlock = hashlock_of(preimage)
        lock = _policy_lock(h, kit, hashlock, swap_in=True)
        assert lock.terms.claim_key == kit.policy and lock.terms.refund_key == user.our_key()
        assert committee.find_locks(hashlock) == []  # its marker names a policy not watched
        committee.watch_policy(kit.policy)
        found = committee.find_locks(hashlock)
        assert [(f.lock_id, f.terms) for f in found] == [(lock.lock_id, lock.terms)]
        since = committee.tip().height
        with pytest.raises(ChainError):  # m - 1 signatures: the chain refuses
            committee.custody_submit(kit.claim(lock, preimage, kit.secrets[: kit.m - 1]))
        raw = kit.claim(lock, preimage, kit.secrets[: kit.m])
        ref = committee.custody_submit(raw)
        assert committee.custody_status(ref).block_height is None
        pending = committee.custody_spends([kit.outpoint(lock)], since)
        assert [(s.txid, s.block_height, s.spent) for s in pending] == [
            (ref, None, (kit.outpoint(lock),))
        ]
        h.mine(1)
        status = committee.custody_status(ref)
        assert status.block_height is not None and status.confirmations == 1
        mined = committee.custody_spends([kit.outpoint(lock)], since)
        assert [(s.txid, s.block_height) for s in mined] == [(ref, status.block_height)]
        assert committee.custody_submit(raw) == ref  # already in the chain: success
        proof = committee.custody_outcome_proof(ref, 0)
        assert proof.item == 0 and proof.block_height == status.block_height
        h.verify_proof(proof)
        spend = user.find_spend(user.get_lock(lock.lock_id))  # the user sees the claim
        assert spend is not None and spend.kind is SpendKind.CLAIM and spend.preimage == preimage

    def test_custody_user_refund_is_refused_before_the_timelock_and_accepted_after(
        self, harness: ConformanceHarness
    ) -> None:
        h, kit, user = harness, _kit(harness), harness.adapter
        lock = _policy_lock(h, kit, hashlock_of(new_preimage()), swap_in=True)
        mine_to(h, lock.terms.timelock_height - 1)
        with pytest.raises(TimelockError):
            user.refund(lock)
        with pytest.raises(ChainError):
            user.refund(lock, unsafe_skip_checks=True)
        with pytest.raises(ValidationError):  # the committee claims it, not the user's key
            user.claim(lock, new_preimage(), unsafe_skip_checks=True)
        h.mine(1)
        spend = user.refund(lock)
        h.mine(1)
        assert spend.kind is SpendKind.REFUND
        assert user.get_lock(lock.lock_id).state is LockState.REFUNDED

    def test_custody_counter_lock_is_claimed_by_the_user_with_the_preimage(
        self, harness: ConformanceHarness
    ) -> None:
        h, kit, user = harness, _kit(harness), harness.adapter
        preimage = new_preimage()
        hashlock = hashlock_of(preimage)
        lock = _policy_lock(h, kit, hashlock, swap_in=False)
        user.watch_policy(kit.policy)
        (found,) = user.find_locks(hashlock)
        assert found.terms == lock.terms and found.terms.refund_key == kit.policy
        wrong = new_preimage()
        with pytest.raises(HashlockError):
            user.claim(found, wrong)
        with pytest.raises(ChainError):
            user.claim(found, wrong, unsafe_skip_checks=True)
        with pytest.raises(ValidationError):  # the committee refunds it, not the user's key
            user.refund(found, unsafe_skip_checks=True)
        before = user.balance(h.asset_id)
        user.claim(found, preimage)
        h.mine(1)
        spend = user.find_spend(user.get_lock(lock.lock_id))
        assert spend is not None and spend.kind is SpendKind.CLAIM and spend.preimage == preimage
        assert 0 < user.balance(h.asset_id) - before < h.amount

    def test_custody_submit_refuses_a_spend_of_no_watched_policy(
        self, harness: ConformanceHarness
    ) -> None:
        """A committee spend is refused by an adapter not watching its policy, before the node
        sees it: custody_submit sends committee spends only."""
        h, kit = harness, _kit(harness)
        preimage = new_preimage()
        lock = _policy_lock(h, kit, hashlock_of(preimage), swap_in=True)
        stranger = h.reopen()
        try:
            with pytest.raises(ValidationError, match="watched"):
                stranger.custody_submit(kit.claim(lock, preimage, kit.secrets[: kit.m]))
            with pytest.raises(ValidationError):
                stranger.custody_submit(b"\x00not a transaction")
        finally:
            stranger.close()

    def test_undeclared_custody_refuses(self, harness: ConformanceHarness) -> None:
        us = harness.adapter
        if us.supports(Capability.CUSTODY):
            pytest.skip("custody: declared")
        with pytest.raises(CapabilityError):
            us.custody_submit(b"")
