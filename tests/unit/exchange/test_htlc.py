"""Native ETM HTLC rules: claim with the preimage before expiry (height and deadline), refund
after either; each once."""

from __future__ import annotations

import pytest

from etm_bridge.errors import HtlcError
from etm_bridge.exchange import htlc as H
from etm_bridge.exchange.reasons import Reason
from etm_bridge.hashlock import hashlock_of

PREIMAGE = bytes(range(32))
HASH = hashlock_of(PREIMAGE)
ID = b"\x07" * 32
T0 = 5_000  # the lock's block time (ETM epoch)
BLOCK_S = 10
DEADLINE = T0 + (100 - 10) * BLOCK_S  # the nominal time of expiry height 100


def lock(expiry: int = 100, height: int = 10, **kw: int) -> H.Htlc:
    return H.new_lock(
        ID, "etm1sender", "etm1recipient", 5_000, HASH, expiry, height,
        timestamp=T0, block_time_s=BLOCK_S, **kw,
    )  # fmt: skip


def at(height: int) -> int:
    """The timestamp of ``height`` on a chain that missed no slot."""
    return T0 + (height - 10) * BLOCK_S


def reason(call: object) -> str:
    with pytest.raises(HtlcError) as exc:
        call()  # type: ignore[operator]
    return exc.value.reason


def test_claim_with_preimage_before_expiry_records_it() -> None:
    claimed = H.claim(lock(), PREIMAGE, 100, at(100))  # the expiry block still allows a claim
    assert claimed.status is H.HtlcStatus.CLAIMED
    assert claimed.preimage == PREIMAGE
    assert claimed.recipient == "etm1recipient"


def test_deadline_is_the_nominal_time_of_the_expiry_height_unless_given() -> None:
    assert lock().deadline_s == DEADLINE == at(100)
    assert lock(deadline_s=T0 + 60).deadline_s == T0 + 60
    assert reason(lambda: lock(deadline_s=T0)) == Reason.EXPIRY_IN_PAST


def test_refund_after_expiry() -> None:
    refunded = H.refund(lock(), 101, at(101))
    assert refunded.status is H.HtlcStatus.REFUNDED and refunded.sender == "etm1sender"


def test_bad_locks_are_rejected() -> None:
    def make(htlc_id: bytes, amount: int, hashlock: bytes) -> H.Htlc:
        return H.new_lock(htlc_id, "a", "b", amount, hashlock, 100, 1, timestamp=0, block_time_s=1)

    assert reason(lambda: lock(expiry=10, height=10)) == Reason.EXPIRY_IN_PAST
    assert reason(lambda: make(ID, 1, b"\x00" * 31)) == Reason.BAD_HASHLOCK
    assert reason(lambda: make(ID, 0, HASH)) == Reason.BAD_AMOUNT
    assert reason(lambda: make(b"x", 1, HASH)) == Reason.BAD_PARAMETER


def test_wrong_or_malformed_preimage_is_rejected() -> None:
    assert reason(lambda: H.claim(lock(), b"\x01" * 32, 50, at(50))) == Reason.WRONG_PREIMAGE
    assert reason(lambda: H.claim(lock(), PREIMAGE + b"\x00", 50, at(50))) == Reason.BAD_PREIMAGE
    assert reason(lambda: H.claim(lock(), PREIMAGE[:31], 50, at(50))) == Reason.BAD_PREIMAGE


def test_claim_after_expiry_is_rejected() -> None:
    assert reason(lambda: H.claim(lock(), PREIMAGE, 101, at(101))) == Reason.HTLC_EXPIRED


def test_early_refund_is_rejected() -> None:
    assert reason(lambda: H.refund(lock(), 100, at(100))) == Reason.EARLY_REFUND


def test_a_halted_chain_cannot_stretch_the_lock() -> None:
    """Attack 4 of issue 11: the chain stops at height 20 and resumes 7 h later. Heights froze,
    so by height the lock would still run 80 blocks; by time it ended at DEADLINE."""
    resumed = T0 + 7 * 3600
    assert resumed > DEADLINE
    assert reason(lambda: H.claim(lock(), PREIMAGE, 21, resumed)) == Reason.HTLC_EXPIRED
    assert H.refund(lock(), 21, resumed).status is H.HtlcStatus.REFUNDED
    # the deadline itself still allows a claim, one second later only a refund
    assert H.claim(lock(), PREIMAGE, 21, DEADLINE).status is H.HtlcStatus.CLAIMED
    assert reason(lambda: H.refund(lock(), 21, DEADLINE)) == Reason.EARLY_REFUND
    assert reason(lambda: H.claim(lock(), PREIMAGE, 21, DEADLINE + 1)) == Reason.HTLC_EXPIRED


def test_whichever_comes_first_ends_a_claim() -> None:
    late_deadline = lock(deadline_s=T0 + 10**6)  # height expiry comes first
    assert reason(lambda: H.claim(late_deadline, PREIMAGE, 101, at(101))) == Reason.HTLC_EXPIRED
    assert H.refund(late_deadline, 101, at(101)).status is H.HtlcStatus.REFUNDED


def test_a_record_without_deadline_keeps_the_height_rule() -> None:
    old = H.Htlc(ID, "a", "b", 1, HASH, 100)  # stored before deadlines existed
    assert old.deadline_s == 0
    assert H.claim(old, PREIMAGE, 100, 10**9).status is H.HtlcStatus.CLAIMED
    assert reason(lambda: H.refund(old, 100, 10**9)) == Reason.EARLY_REFUND


def test_double_claim_claim_after_refund_and_refund_after_claim_are_rejected() -> None:
    claimed = H.claim(lock(), PREIMAGE, 50, at(50))
    refunded = H.refund(lock(), 200, at(200))
    assert reason(lambda: H.claim(claimed, PREIMAGE, 60, at(60))) == Reason.ALREADY_CLAIMED
    assert reason(lambda: H.refund(claimed, 200, at(200))) == Reason.ALREADY_CLAIMED
    assert reason(lambda: H.claim(refunded, PREIMAGE, 60, at(60))) == Reason.ALREADY_REFUNDED
    assert reason(lambda: H.refund(refunded, 300, at(300))) == Reason.ALREADY_REFUNDED
