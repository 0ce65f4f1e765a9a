"""The adapter conformance suite: one set of tests every chain adapter runs unchanged.

Like the web3 library's module test suites: subclass :class:`AdapterConformance` in your
adapter's tests and provide a pytest fixture named ``harness`` returning a
:class:`ConformanceHarness`::

    class TestMyChain(AdapterConformance):
        @pytest.fixture
        def harness(self, my_node) -> ConformanceHarness:
            ...

The harness gives the adapter under test, a funded counterparty adapter on the same chain, a
way to mine blocks and a way to re-create the adapter from its config (a restart). The suite
plays both sides of a swap leg with them and checks the chain's own rules (wrong preimage,
early refund, 31/33-byte preimages, double claim are rejected by the *chain*: the adapter is
told ``unsafe_skip_checks=True``), the local checks and the typed lock check.

Then one section per optional capability (:class:`~etm_bridge.adapter.Capability`,
:mod:`etm_bridge.testing.conformance_capabilities`): it runs when the adapter declares the
capability (and checks that an undeclared one refuses), else it is skipped; CUSTODY's section
is :mod:`etm_bridge.testing.conformance_custody` (the harness gives a test committee).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from etm_bridge.adapter import LockState, SpendKind
from etm_bridge.errors import (
    ChainError,
    HashlockError,
    LockMismatchError,
    LockNotFoundError,
    TimelockError,
    ValidationError,
)
from etm_bridge.hashlock import hashlock_of, sha256
from etm_bridge.testing.conformance_capabilities import CapabilitySections
from etm_bridge.testing.conformance_custody import CustodySection
from etm_bridge.testing.conformance_kit import (
    ConformanceHarness,
    lock_and_mine,
    mine_to,
    terms_for,
)
from etm_bridge.testing.preimages import new_preimage

__all__ = ["AdapterConformance", "ConformanceHarness", "lock_and_mine", "mine_to", "terms_for"]


class AdapterConformance(CapabilitySections, CustodySection):
    """Subclass and provide a ``harness`` fixture (see the module docstring)."""

    # --- identity ---------------------------------------------------------------------------

    def test_info_key_kind_matches_our_key(self, harness: ConformanceHarness) -> None:
        info = harness.adapter.info()
        assert len(harness.adapter.our_key()) == info.key_kind.length
        assert harness.adapter.our_key() != harness.counterparty.our_key()

    def test_tip_and_headers_advance_with_mining(self, harness: ConformanceHarness) -> None:
        before = harness.adapter.tip()
        harness.mine(2)
        after = harness.adapter.tip()
        assert after.height == before.height + 2
        headers = harness.adapter.headers(before.height, 3)
        assert len(headers) == 3 and len(set(headers)) == 3
        assert harness.adapter.headers(after.height + 1, 5) == []

    def test_finalized_height_is_none_or_at_most_the_tip(self, harness: ConformanceHarness) -> None:
        """Optional finality (ETM): None, or a height no block above which is final yet."""
        final = harness.adapter.finalized_height()
        assert final is None or 0 <= final <= harness.adapter.tip().height

    def test_recent_block_time_is_none_or_positive(self, harness: ConformanceHarness) -> None:
        """Optional block-rate observation (proof-of-work chains off regtest): None, or > 0 s."""
        harness.mine(2)
        spacing = harness.adapter.recent_block_time_s()
        assert spacing is None or (isinstance(spacing, int) and spacing > 0)

    def test_fee_estimate_is_positive_with_a_source(self, harness: ConformanceHarness) -> None:
        fee = harness.adapter.fee_estimate()
        assert fee.rate > 0 and fee.source in ("node", "fallback", "user")

    # --- the happy paths --------------------------------------------------------------------

    def test_lock_then_claim_reveals_preimage(self, harness: ConformanceHarness) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        preimage = new_preimage()
        lock = lock_and_mine(h, them, terms_for(h, them, us, hashlock_of(preimage)))
        assert lock.state is LockState.OPEN and lock.block_height is not None
        assert [found.lock_id for found in us.find_locks(hashlock_of(preimage))] == [lock.lock_id]
        assert us.find_preimage(lock) is None
        balance_before = us.balance(h.asset_id)
        us.claim(lock, preimage)
        h.mine(1)
        assert us.get_lock(lock.lock_id).state is LockState.CLAIMED
        assert them.find_preimage(them.get_lock(lock.lock_id)) == preimage
        gained = us.balance(h.asset_id) - balance_before
        assert 0 < gained <= h.amount

    def test_refund_after_timelock_but_not_one_block_early(
        self, harness: ConformanceHarness
    ) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        lock = lock_and_mine(h, us, terms_for(h, us, them, hashlock_of(new_preimage())))
        mine_to(h, lock.terms.timelock_height - 1)
        with pytest.raises(TimelockError):
            us.refund(lock)
        with pytest.raises(ChainError):
            us.refund(lock, unsafe_skip_checks=True)
        h.mine(1)
        spend = us.refund(lock)
        h.mine(1)
        assert spend.preimage is None
        assert us.get_lock(lock.lock_id).state is LockState.REFUNDED
        assert them.find_preimage(them.get_lock(lock.lock_id)) is None

    # --- the chain's own rules --------------------------------------------------------------

    def test_wrong_preimage_is_rejected(self, harness: ConformanceHarness) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        lock = lock_and_mine(h, them, terms_for(h, them, us, hashlock_of(new_preimage())))
        wrong = new_preimage()
        with pytest.raises(HashlockError):
            us.claim(lock, wrong)
        with pytest.raises(ChainError):
            us.claim(lock, wrong, unsafe_skip_checks=True)
        assert us.get_lock(lock.lock_id).state is LockState.OPEN

    @pytest.mark.parametrize("length", [31, 33])
    def test_preimage_of_wrong_length_is_rejected(
        self, harness: ConformanceHarness, length: int
    ) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        bad_preimage = bytes(range(1, length + 1))
        lock = lock_and_mine(h, them, terms_for(h, them, us, sha256(bad_preimage)))
        with pytest.raises(HashlockError):
            us.claim(lock, bad_preimage)
        with pytest.raises(ChainError):
            us.claim(lock, bad_preimage, unsafe_skip_checks=True)

    def test_claim_twice_is_rejected(self, harness: ConformanceHarness) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        preimage = new_preimage()
        lock = lock_and_mine(h, them, terms_for(h, them, us, hashlock_of(preimage)))
        us.claim(lock, preimage)
        h.mine(1)
        with pytest.raises(ChainError):
            us.claim(lock, preimage, unsafe_skip_checks=True)

    # --- observation, proofs, restart -------------------------------------------------------

    def test_confirmations_count_blocks(self, harness: ConformanceHarness) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        lock = lock_and_mine(h, them, terms_for(h, them, us, hashlock_of(new_preimage())))
        first = us.confirmations(lock.lock_id)
        h.mine(2)
        assert first >= 1 and us.confirmations(lock.lock_id) == first + 2

    def test_unknown_lock_is_not_found(self, harness: ConformanceHarness) -> None:
        with pytest.raises(LockNotFoundError):
            harness.adapter.get_lock(harness.unknown_lock_id)
        assert harness.adapter.find_locks(hashlock_of(new_preimage())) == []

    def test_find_locks_refuses_a_hashlock_that_is_not_32_bytes(
        self, harness: ConformanceHarness
    ) -> None:
        for bad in (b"\x01" * 31, b"\x01" * 33):
            with pytest.raises(HashlockError):
                harness.adapter.find_locks(bad)

    def test_restarted_adapter_finds_the_lock_and_claims(self, harness: ConformanceHarness) -> None:
        h, them = harness, harness.counterparty
        preimage = new_preimage()
        lock = lock_and_mine(h, them, terms_for(h, them, h.adapter, hashlock_of(preimage)))
        h.adapter.close()
        restarted = h.reopen()
        found = restarted.find_locks(hashlock_of(preimage))
        assert [f.lock_id for f in found] == [lock.lock_id]
        assert found[0].terms == lock.terms
        restarted.claim(found[0], preimage)
        h.mine(1)
        assert them.find_preimage(them.get_lock(lock.lock_id)) == preimage

    def test_restarted_adapter_refunds_its_own_lock(self, harness: ConformanceHarness) -> None:
        h, them = harness, harness.counterparty
        lock = lock_and_mine(
            h, h.adapter, terms_for(h, h.adapter, them, hashlock_of(new_preimage()))
        )
        h.adapter.close()
        restarted = h.reopen()
        [found] = restarted.find_locks(lock.terms.hashlock)
        assert found.lock_id == lock.lock_id and found.state is LockState.OPEN
        mine_to(h, lock.terms.timelock_height, via=restarted)
        restarted.refund(found)
        h.mine(1)
        assert restarted.get_lock(lock.lock_id).state is LockState.REFUNDED
        assert them.find_preimage(them.get_lock(lock.lock_id)) is None

    def test_claim_sent_before_a_restart_is_seen_after_it(
        self, harness: ConformanceHarness
    ) -> None:
        h, them = harness, harness.counterparty
        preimage = new_preimage()
        lock = lock_and_mine(h, them, terms_for(h, them, h.adapter, hashlock_of(preimage)))
        sent = h.adapter.claim(lock, preimage)
        h.adapter.close()
        restarted = h.reopen()  # before the claim is mined (where the chain has a mempool)
        spend = restarted.find_spend(restarted.get_lock(lock.lock_id))
        assert spend is not None and spend.txid == sent.txid
        assert spend.kind is SpendKind.CLAIM and spend.preimage == preimage
        h.mine(1)
        assert restarted.get_lock(lock.lock_id).state is LockState.CLAIMED

    # --- local validation and the typed lock check ------------------------------------------

    def test_lock_with_keys_of_the_wrong_kind_is_refused(self, harness: ConformanceHarness) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        terms = terms_for(h, us, them, hashlock_of(new_preimage()))
        with pytest.raises(ValidationError):
            us.lock(replace(terms, claim_key=terms.claim_key + b"\x00"))

    def test_check_lock_reports_typed_reasons(self, harness: ConformanceHarness) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        expected = terms_for(h, them, us, hashlock_of(new_preimage()))
        lock = lock_and_mine(h, them, expected)
        now = us.tip().height
        us.check_lock(lock, expected, 1, now)
        cases = {
            "wrong_amount": (replace(expected, amount=expected.amount + 1), 1),
            "wrong_hashlock": (replace(expected, hashlock=hashlock_of(new_preimage())), 1),
            "wrong_claim_key": (replace(expected, claim_key=them.our_key()), 1),
            "wrong_refund_key": (replace(expected, refund_key=us.our_key()), 1),
            "timelock_too_short": (
                replace(expected, timelock_height=expected.timelock_height + 1),
                1,
            ),
            "not_confirmed": (expected, 1000),
        }
        for reason, (want, confirmations) in cases.items():
            with pytest.raises(LockMismatchError) as info:
                us.check_lock(lock, want, confirmations, now)
            assert info.value.reason == reason

    def test_lock_paying_the_wrong_key_is_detected(self, harness: ConformanceHarness) -> None:
        h, us, them = harness, harness.adapter, harness.counterparty
        expected = terms_for(h, them, us, hashlock_of(new_preimage()))
        wrong = replace(expected, claim_key=them.our_key(), amount=expected.amount - 1)
        lock = lock_and_mine(h, them, wrong)
        seen = us.find_locks(expected.hashlock)
        assert [s.lock_id for s in seen] == [lock.lock_id]
        with pytest.raises(LockMismatchError) as info:
            us.check_lock(seen[0], expected, 1, us.tip().height)
        assert info.value.reason == "wrong_amount"
