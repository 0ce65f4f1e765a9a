"""Native ETM HTLC rules: claim with the preimage before expiry, refund after; each once."""

from __future__ import annotations

import pytest

from etm_bridge.errors import HtlcError
from etm_bridge.exchange import htlc as H
from etm_bridge.exchange.reasons import Reason
from etm_bridge.hashlock import hashlock_of

PREIMAGE = bytes(range(32))
HASH = hashlock_of(PREIMAGE)
ID = b"\x07" * 32


def lock(expiry: int = 100, height: int = 10) -> H.Htlc:
    return H.new_lock(ID, "etm1sender", "etm1recipient", 5_000, HASH, expiry, height)


def reason(call: object) -> str:
    with pytest.raises(HtlcError) as exc:
        call()  # type: ignore[operator]
    return exc.value.reason


def test_claim_with_preimage_before_expiry_records_it() -> None:
    claimed = H.claim(lock(), PREIMAGE, 100)  # the expiry block itself still allows a claim
    assert claimed.status is H.HtlcStatus.CLAIMED
    assert claimed.preimage == PREIMAGE
    assert claimed.recipient == "etm1recipient"


def test_refund_after_expiry() -> None:
    refunded = H.refund(lock(), 101)
    assert refunded.status is H.HtlcStatus.REFUNDED and refunded.sender == "etm1sender"


def test_bad_locks_are_rejected() -> None:
    assert reason(lambda: lock(expiry=10, height=10)) == Reason.EXPIRY_IN_PAST
    assert reason(lambda: H.new_lock(ID, "a", "b", 1, b"\x00" * 31, 100, 1)) == Reason.BAD_HASHLOCK
    assert reason(lambda: H.new_lock(ID, "a", "b", 0, HASH, 100, 1)) == Reason.BAD_AMOUNT
    assert reason(lambda: H.new_lock(b"x", "a", "b", 1, HASH, 100, 1)) == Reason.BAD_PARAMETER


def test_wrong_or_malformed_preimage_is_rejected() -> None:
    assert reason(lambda: H.claim(lock(), b"\x01" * 32, 50)) == Reason.WRONG_PREIMAGE
    assert reason(lambda: H.claim(lock(), PREIMAGE + b"\x00", 50)) == Reason.BAD_PREIMAGE
    assert reason(lambda: H.claim(lock(), PREIMAGE[:31], 50)) == Reason.BAD_PREIMAGE


def test_claim_after_expiry_is_rejected() -> None:
    assert reason(lambda: H.claim(lock(), PREIMAGE, 101)) == Reason.HTLC_EXPIRED


def test_early_refund_is_rejected() -> None:
    assert reason(lambda: H.refund(lock(), 100)) == Reason.EARLY_REFUND


def test_double_claim_claim_after_refund_and_refund_after_claim_are_rejected() -> None:
    claimed = H.claim(lock(), PREIMAGE, 50)
    refunded = H.refund(lock(), 200)
    assert reason(lambda: H.claim(claimed, PREIMAGE, 60)) == Reason.ALREADY_CLAIMED
    assert reason(lambda: H.refund(claimed, 200)) == Reason.ALREADY_CLAIMED
    assert reason(lambda: H.claim(refunded, PREIMAGE, 60)) == Reason.ALREADY_REFUNDED
    assert reason(lambda: H.refund(refunded, 300)) == Reason.ALREADY_REFUNDED
