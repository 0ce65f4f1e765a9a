"""SPV-credited deposits and external-withdrawal obligations: deadlines and defaults."""

from __future__ import annotations

import pytest

from etm_bridge.errors import ExchangeError
from etm_bridge.exchange import obligations as O
from etm_bridge.exchange.reasons import Reason

DEST = b"\x03" * 33


def ob() -> O.Obligation:
    return O.new_obligation(1, "btc", 50_000, DEST, "etm1lp", height=100, deadline_blocks=10)


def pay(
    amount: int = 50_000, dest: bytes = DEST, asset: str = "btc", ref: int = 1
) -> O.VerifiedPayment:
    return O.VerifiedPayment(b"pay-1", asset, amount, dest, (ref,))


def reason(call: object) -> str:
    with pytest.raises(ExchangeError) as exc:
        call()  # type: ignore[operator]
    return exc.value.reason


def test_deposit_checks() -> None:
    dep = O.VerifiedDeposit(b"tx:0", "btc", 10, "etm1lp")
    O.check_deposit(dep, "btc", "etm1lp", set())
    assert reason(lambda: O.check_deposit(dep, "btc", "etm1lp", {b"tx:0"})) == (
        Reason.DEPOSIT_REPLAYED
    )
    assert reason(lambda: O.check_deposit(dep, "eth", "etm1lp", set())) == (
        Reason.DEPOSIT_WRONG_ASSET
    )
    assert reason(lambda: O.check_deposit(dep, "btc", "etm1thief", set())) == (
        Reason.DEPOSIT_NOT_OWNER
    )
    assert reason(lambda: O.VerifiedDeposit(b"", "btc", 10, "x")) == Reason.BAD_PARAMETER
    assert reason(lambda: O.VerifiedDeposit(b"t", "btc", 0, "x")) == Reason.BAD_AMOUNT


def test_payment_in_time_closes_the_obligation() -> None:
    paid = O.record_payment(ob(), pay(), height=110)
    assert paid.status is O.ObligationStatus.PAID and paid.payment_id == b"pay-1"
    assert not paid.open
    assert reason(lambda: O.record_payment(paid, pay(), 111)) == Reason.OBLIGATION_CLOSED


def test_payment_must_match_asset_destination_and_amount() -> None:
    assert reason(lambda: O.record_payment(ob(), pay(amount=49_999), 105)) == (
        Reason.PAYMENT_MISMATCH
    )
    assert reason(lambda: O.record_payment(ob(), pay(dest=b"\x02" * 33), 105)) == (
        Reason.PAYMENT_MISMATCH
    )
    assert reason(lambda: O.record_payment(ob(), pay(asset="eth"), 105)) == (
        Reason.PAYMENT_MISMATCH
    )
    assert reason(lambda: O.record_payment(ob(), pay(ref=2), 105)) == Reason.PAYMENT_MISMATCH


def test_missed_deadline_can_be_marked_defaulted_then_paid_late() -> None:
    assert reason(lambda: O.mark_default(ob(), 110)) == Reason.OBLIGATION_NOT_DUE
    defaulted = O.mark_default(ob(), 111)
    assert defaulted.status is O.ObligationStatus.DEFAULTED and defaulted.open
    assert reason(lambda: O.mark_default(defaulted, 112)) == Reason.OBLIGATION_CLOSED
    late = O.record_payment(defaulted, pay(), 120)
    assert late.status is O.ObligationStatus.PAID_LATE
    # paying after the deadline without anyone marking the default is also "late"
    assert O.record_payment(ob(), pay(), 111).status is O.ObligationStatus.PAID_LATE
