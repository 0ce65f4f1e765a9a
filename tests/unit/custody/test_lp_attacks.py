"""Attacks on LP money in a committee pool's vault (206, 207, 302) that the first round of tests
did not perform: each test performs one and names the rule that stops it. The world (state,
the real Bitcoin ``CustodySpec``, the port) is :mod:`test_lp_custody`'s."""

from __future__ import annotations

import pytest
from test_lp_custody import World

from etm_bridge.chains.bitcoin.custody import build
from etm_bridge.custody import mandate_store
from etm_bridge.custody import records as cr

pytestmark = pytest.mark.unit


def test_change_to_a_vault_whose_committee_returns_is_spendable_by_the_returning_epoch() -> None:
    """Attack (freeze): the committee set goes S -> T -> S (ranks oscillating around the cut),
    so epochs 0 and 2 have one vault. A withdrawal's change must be an output of the epoch that
    spends it now (2), not of the oldest epoch with that script (0): otherwise no withdrawal ever
    selects it again and every later withdrawal queues for ever."""
    w = World()
    w.seat(0, range(4))
    w.seat(1, range(1, 5), start=20)
    w.seat(2, range(4), start=40)
    assert w.vault(2) == w.vault(0)
    w.deposit(150_000, w.vault(2), height=41)
    first = w.withdraw(40_000, b"\x31" * 32, height=41)
    w.prove(first.id, first.revisions[0].spend, height=42)
    txid = first.revisions[0].txid
    assert txid is not None
    change = mandate_store.get_utxo(w.s, "btc", txid + (2).to_bytes(4, "little"))
    assert change is not None and (change.amount, change.epoch) == (110_000, 2)
    second = w.withdraw(50_000, b"\x32" * 32, height=43)
    assert second.status is cr.MandateStatus.OPEN
    assert w.books_balance() == (110_000, 110_000)


def test_a_small_withdrawal_cannot_reserve_the_vaults_largest_output() -> None:
    """Attack (freeze): an investor withdraws the minimum to make its mandate reserve the
    vault's largest output, so every other withdrawal finds the rest too small and queues (and
    nothing funds a queued mandate yet). A withdrawal one output covers takes the smallest such
    output (without dust change), so the 20,000 sat withdrawal reserves the 50,000 sat one."""
    w = World()
    w.seat(0, range(4))
    big = w.deposit(5_000_000, w.vault(0))
    small = w.deposit(50_000, w.vault(0))
    griefer = w.withdraw(20_000, b"\x41" * 32)
    assert griefer.status is cr.MandateStatus.OPEN
    assert [i.outpoint for i in build.decode_plan(griefer.revisions[0].spend).inputs] == [small]
    victim = w.withdraw(1_000_000, b"\x42" * 32)
    assert victim.status is cr.MandateStatus.OPEN
    assert [i.outpoint for i in build.decode_plan(victim.revisions[0].spend).inputs] == [big]
    assert w.books_balance() == (5_050_000, 5_050_000)
