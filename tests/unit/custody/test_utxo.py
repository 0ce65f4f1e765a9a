"""The vault output ledger's rules (design-14 sections 2.2-2.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.custody import utxo as ux
from etm_bridge.custody.records import CustodyUtxo, UtxoStatus
from etm_bridge.errors import CustodyError

pytestmark = pytest.mark.unit

U = UtxoStatus


def out(n: int, amount: int, epoch: int = 1, status: U = U.UNSPENT) -> CustodyUtxo:
    return CustodyUtxo("x", bytes([n]) * 32 + b"\x00" * 4, amount, epoch, status)


def fee(k: int) -> int:
    return 100 * k


def test_selection_is_greedy_by_amount_then_outpoint_and_sorted_for_the_spend() -> None:
    cands = [
        out(5, 300),
        out(2, 500),
        out(3, 500),
        out(4, 9_999, epoch=0),
        out(6, 800, status=U.RESERVED),
    ]
    got = ux.select_inputs(cands, 1, 700, fee, 50)
    assert got is not None and [u.outpoint[0] for u in got] == [2, 3]  # 500 + 500 >= 700 + 200
    assert ux.select_inputs(cands, 1, 1_000, fee, 50) is not None  # 1,300 >= 1,000 + 300
    assert ux.select_inputs(cands, 1, 1_001, fee, 50) is None  # 1,300 < 1,001 + 300
    assert ux.select_inputs(cands, 1, 300, fee, 1) is not None
    assert ux.select_inputs(cands, 1, 900, fee, 1) is None  # capped at max_inputs


def test_a_retiring_vaults_outputs_are_never_selected() -> None:
    assert ux.select_inputs([out(1, 10**9, epoch=0)], 1, 1, fee, 50) is None


@given(st.lists(st.tuples(st.integers(0, 255), st.integers(1, 10**6), st.integers(0, 1)),
                unique_by=lambda t: t[0], max_size=20),
       st.integers(0, 5 * 10**6))  # fmt: skip
def test_selection_is_deterministic_and_covers(
    raw: list[tuple[int, int, int]], target: int
) -> None:
    cands = [out(n, a, epoch=e) for n, a, e in raw]
    got = ux.select_inputs(cands, 1, target, fee, 50)
    assert got == ux.select_inputs(list(reversed(cands)), 1, target, fee, 50)
    if got is not None:
        assert sum(u.amount for u in got) >= target + fee(len(got))
        assert all(u.epoch == 1 for u in got)
    else:
        usable = sum(a for _, a, e in raw if e == 1)
        assert usable < target + fee(max(1, sum(1 for _, _, e in raw if e == 1)))


def test_status_steps() -> None:
    m = b"m" * 32
    reserved = ux.step(out(1, 5), U.RESERVED, m)
    assert reserved.mandate == m
    assert ux.step(reserved, U.SPENT, m).status is U.SPENT
    assert ux.step(reserved, U.STOLEN).status is U.STOLEN
    with pytest.raises(CustodyError, match="another mandate"):
        ux.step(reserved, U.SPENT, b"n" * 32)
    for status, new in [(U.UNSPENT, U.SPENT), (U.SPENT, U.UNSPENT), (U.STOLEN, U.RESERVED),
                        (U.SPENT, U.STOLEN)]:  # fmt: skip
        with pytest.raises(CustodyError):
            ux.step(out(1, 5, status=status), new, m)
    with pytest.raises(CustodyError):
        ux.step(out(1, 5), U.RESERVED)
