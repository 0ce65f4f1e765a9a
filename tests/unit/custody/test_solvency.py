"""Solvency per pool (design-14 section 9): exact shortfalls, the account model's grace, the
halt and the automatic resume."""

from __future__ import annotations

import pytest

from etm_bridge.custody import accounting as ac
from etm_bridge.custody import solvency as sv
from etm_bridge.custody.records import SolvencyStatus as St
from etm_bridge.custody.spec import CustodyModel
from etm_bridge.errors import ExchangeError

pytestmark = pytest.mark.unit

UTXO, ACCOUNT = CustodyModel.UTXO, CustodyModel.ACCOUNT
HONEST = ac.deposit_proven(ac.Books(), 1_000_000)


def test_honest_books_are_ok_and_open() -> None:
    s = sv.assess(HONEST, 5, None, UTXO, 3)
    assert (s.status, s.assets, s.liabilities, s.shortfall) == (St.OK, 10**6, 10**6, 0)
    sv.check_flow("x", s)


def test_a_theft_halts_a_utxo_pool_at_once_with_the_reason_and_resumes_when_covered() -> None:
    robbed = ac.stolen(HONEST, 50_000)
    s = sv.assess(robbed, 212, None, UTXO, 3, cause="outpoint ab..:0 stolen")
    assert (s.status, s.shortfall, s.since_round) == (St.INSOLVENT, 50_000, 212)
    with pytest.raises(ExchangeError) as exc:
        sv.check_flow("x", s)
    assert exc.value.reason == "pool_insolvent"
    assert "shortfall 50000 x since round 212 (outpoint ab..:0 stolen)" in str(exc.value)
    later = sv.assess(robbed, 215, s, UTXO, 3)
    assert later.status is St.INSOLVENT and later.since_round == 212
    healed = ac.inflow_unowned(robbed, 50_000)  # a donation proven to the vault
    assert sv.assess(healed, 216, later, UTXO, 3).status is St.OK


def test_an_account_pool_waits_the_grace_before_halting() -> None:
    gap = ac.stolen(HONEST, 7)  # looks like a payout executed, not proven yet
    first = sv.assess(gap, 10, None, ACCOUNT, 2)
    assert first.status is St.SHORTFALL_PENDING and first.since_round == 10
    sv.check_flow("x", first)  # still open during the grace
    second = sv.assess(gap, 11, first, ACCOUNT, 2)
    assert second.status is St.SHORTFALL_PENDING
    third = sv.assess(gap, 12, second, ACCOUNT, 2)
    assert third.status is St.INSOLVENT and third.since_round == 10
    assert sv.assess(HONEST, 13, third, ACCOUNT, 2).status is St.OK
    stale = sv.assess(HONEST, 13, None, ACCOUNT, 2, balance_fresh=False)
    assert stale.status is St.UNKNOWN
