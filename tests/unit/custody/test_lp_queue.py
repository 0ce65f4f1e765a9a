"""Queued LP withdrawals funded by the custody round hook (``hooks.fund_queue``, design-14
section 4.3 ``queued --funded--> open``): strict FIFO from the queue's head, at most
``fund_per_round`` per round close, the 207's own selection, deterministic, the books unmoved.
The world is :mod:`test_lp_custody`'s (the real Bitcoin ``CustodySpec``)."""

from __future__ import annotations

import json

import pytest
from test_lp_custody import SECTION, World, reason

from etm_bridge.chains.bitcoin.custody import build, ecdsa
from etm_bridge.custody import mandate_store
from etm_bridge.custody import records as cr
from etm_bridge.custody.params import CustodyParams

pytestmark = pytest.mark.unit


def status(w: World, m: cr.Mandate) -> cr.MandateStatus:
    got = mandate_store.get_mandate(w.s, m.id)
    assert got is not None
    return got.status


def inputs_of(w: World, m: cr.Mandate) -> list[bytes]:
    got = mandate_store.get_mandate(w.s, m.id)
    assert got is not None and got.revisions
    return [i.outpoint for i in build.decode_plan(got.revisions[0].spend).inputs]


def queue(w: World) -> list[bytes]:
    return [mid for _, mid in w.s.scan(cr.QUEUE)]


def test_a_queued_withdrawal_whose_deposit_arrives_later_is_funded_at_the_next_round_close() -> (
    None
):
    w = World()
    w.seat(0, range(4))
    w.deposit(30_000, w.vault(0))
    m = w.withdraw(50_000, b"\x81" * 32)
    assert m.status is cr.MandateStatus.QUEUED
    w.close_round(height=11)  # 30,000 sat cannot pay 50,000
    assert status(w, m) is cr.MandateStatus.QUEUED and queue(w) == [m.id]
    ref = w.deposit(40_000, w.vault(0), height=12)
    books = w.books_balance()
    assert status(w, m) is cr.MandateStatus.QUEUED  # a deposit alone funds nothing
    w.close_round(height=13)
    got = mandate_store.get_mandate(w.s, m.id)
    assert got is not None and got.status is cr.MandateStatus.OPEN and queue(w) == []
    assert sorted(inputs_of(w, m)) == sorted([ref, bytes([1]) * 32 + b"\x00" * 4])
    assert all(u.status is cr.UtxoStatus.RESERVED and u.mandate == m.id for u in w.utxos())
    assert got.sign_until_s == 1_013 + 3600 and w.s.get(cr.OPEN, b"btc\x00" + m.id) is not None
    assert all(w.s.get(cr.COVERED, d) is not None for d in got.revisions[0].digests)
    assert w.books_balance() == books  # owed was counted by the 207
    assert w.prove(m.id, got.revisions[0].spend, height=14).status is cr.MandateStatus.PROVEN


def test_the_queue_is_funded_in_fifo_order_and_a_large_head_is_not_starved() -> None:
    """Attack (starving a large withdrawal): while a large withdrawal waits at the head, later
    small ones, which the vault could pay, neither jump it at the round close nor open at once
    by their own 207 (they queue behind it); once the vault can pay the head, the queue is
    funded in order, no two mandates sharing an input."""
    w = World()
    w.seat(0, range(4))
    w.deposit(1_000_000, w.vault(0))
    holder = w.withdraw(100_000, b"\x90" * 32)  # holds the vault's only output
    big = w.withdraw(800_000, b"\x91" * 32)
    w.deposit(200_000, w.vault(0), height=11)
    small = w.withdraw(50_000, b"\x92" * 32, height=11)  # the vault could pay it: it queues
    assert (big.status, small.status) == (cr.MandateStatus.QUEUED, cr.MandateStatus.QUEUED)
    w.close_round(height=12)  # 200,000 free: the head cannot be paid, so nothing is
    assert queue(w) == [big.id, small.id]
    w.prove(holder.id, holder.revisions[0].spend, height=13)  # 900,000 of change back
    w.close_round(height=14)
    assert (status(w, big), status(w, small)) == (cr.MandateStatus.OPEN, cr.MandateStatus.OPEN)
    assert not set(inputs_of(w, big)) & set(inputs_of(w, small)) and queue(w) == []
    held = {u.outpoint: u.mandate for u in w.utxos() if u.status is cr.UtxoStatus.RESERVED}
    assert all(held[i] == big.id for i in inputs_of(w, big))
    assert all(held[i] == small.id for i in inputs_of(w, small))
    assert w.books_balance()[0] == w.books_balance()[1]


def test_at_most_fund_per_round_mandates_are_funded_per_round_close() -> None:
    w = World()
    section = {**SECTION, "fund_per_round": 2}
    w.s.put_json(cr.PARAMS, b"params", CustodyParams.from_json(section).to_json())
    w.seat(0, range(4))
    w.deposit(100_000, w.vault(0))
    holder = w.withdraw(20_000, b"\xa0" * 32)
    queued = [w.withdraw(20_000, bytes([0xA1 + k]) * 32) for k in range(3)]
    for _ in range(3):  # three outputs, one per queued withdrawal
        w.deposit(30_000, w.vault(0), height=11)
    w.close_round(height=12)
    assert [status(w, m) for m in queued] == [cr.MandateStatus.OPEN] * 2 + [cr.MandateStatus.QUEUED]
    assert queue(w) == [queued[2].id]
    w.close_round(height=13)
    assert status(w, queued[2]) is cr.MandateStatus.OPEN and queue(w) == []
    assert status(w, holder) is cr.MandateStatus.OPEN


def test_funding_never_takes_an_output_another_mandate_holds() -> None:
    """Attack: a queued withdrawal funded over the output an open mandate holds (two mandates
    authorising one spend). Only unspent outputs are selected: it waits."""
    w = World()
    w.seat(0, range(4))
    w.deposit(500_000, w.vault(0))
    holder = w.withdraw(100_000, b"\xb0" * 32)
    waiting = w.withdraw(100_000, b"\xb1" * 32)
    for height in (11, 12, 13):
        w.close_round(height=height)
    assert status(w, waiting) is cr.MandateStatus.QUEUED
    assert [u.mandate for u in w.utxos()] == [holder.id]


def test_two_nodes_fund_the_same_queue_identically() -> None:
    """Attack (a consensus split): funding reads only state and the round close (queue order,
    the selection's order by amount then outpoint, the close's height and timestamp), so two
    nodes replaying the same chain write the same records, byte for byte."""

    def replay() -> dict[tuple[str, bytes], bytes | None]:
        w = World()
        w.seat(0, range(4))
        for amount in (60_000, 40_000, 40_000, 90_000):
            w.deposit(amount, w.vault(0))
        w.withdraw(200_000, b"\xc0" * 32)
        for k in range(4):
            w.withdraw(30_000 + k, bytes([0xC1 + k]) * 32)
        for _ in range(4):
            w.deposit(50_000, w.vault(0), height=11)
        w.close_round(height=12)
        assert queue(w) == []
        return dict(w.s.changes())

    first, second = replay(), replay()
    assert first == second
    assert not [k for k in first if k[0] == cr.QUEUE]
    funded = [cr.decode(cr.Mandate, json.loads(v)) for (t, _), v in first.items()
              if t == cr.MANDATES and v is not None]  # fmt: skip
    assert sum(m.status is cr.MandateStatus.OPEN for m in funded) == 5


def test_a_withdrawal_no_input_could_pay_cannot_be_queued_to_freeze_the_queue() -> None:
    """Attack (freezing the queue for ever): at a genesis fee rate the withdrawal floor does not
    cover (50 sat/vB: a payout's own fee above 10,000 sat), a small withdrawal opened at once is
    refused (its payout less its fee is dust), but made while the vault's output is held it
    would be queued without a spend ever being built, and as the queue's head no selection
    could fund it, holding every later withdrawal for ever. A queued withdrawal must be payable
    by one input: refused like an opened one, and the honest withdrawal behind it is funded."""
    w = World()
    section = {**SECTION, "btc": {"network": "regtest", "fee_rate_sat_vb": 50}}
    w.s.put_json(cr.PARAMS, b"params", CustodyParams.from_json(section).to_json())
    w.seat(0, range(4))
    w.deposit(1_000_000, w.vault(0))
    holder = w.withdraw(100_000, b"\xd0" * 32)
    assert reason(lambda: w.withdraw(12_000, b"\xd1" * 32)) == "bad_parameter"
    honest = w.withdraw(100_000, b"\xd2" * 32)
    assert honest.status is cr.MandateStatus.QUEUED and queue(w) == [honest.id]
    w.prove(holder.id, holder.revisions[0].spend, height=11)
    w.close_round(height=12)
    assert status(w, honest) is cr.MandateStatus.OPEN and queue(w) == []
    assert w.books_balance()[0] == w.books_balance()[1]


def _seat_fifteen(w: World, epoch: int, start: int) -> None:
    """A 11-of-15 committee (the genesis maximum) as the newest epoch."""
    keys = tuple(sorted(ecdsa.pubkey(bytes([0x30 + i]) * 32) for i in range(15)))
    ds = tuple(bytes([0x40 + i]) * 32 for i in range(15))
    c = cr.Committee(epoch, ds, 11, 15, {"btc": keys}, start, "boundary")
    w.s.put_json(cr.EPOCHS, cr.epoch_key(epoch), cr.encode(c))
    w.s.put(cr.CURRENT, b"epoch", cr.epoch_key(epoch))


def test_a_head_the_new_committee_can_never_pay_does_not_freeze_the_queue() -> None:
    """Attack (review x7f, freezing the queue for ever across an epoch change): at a genesis
    fee rate of 30 sat/vB a 12,000 sat withdrawal is payable by one input of a 3-of-4 vault
    (fee 7,920 sat), so its 207 may queue it; the committee then grows to 11-of-15, whose
    one-input payout fee (15,180 sat) exceeds the amount: no selection of the new vault can
    ever pay it. Strictly FIFO, it held every later withdrawal for ever (shares burnt, the
    vault full). A head no single input of the active committee could pay goes to the queue's
    tail (it waits for a committee that can pay it) and the honest withdrawal is funded."""
    w = World()
    section = {**SECTION, "btc": {"network": "regtest", "fee_rate_sat_vb": 30}}
    w.s.put_json(cr.PARAMS, b"params", CustodyParams.from_json(section).to_json())
    w.seat(0, range(4))
    w.deposit(1_000_000, w.vault(0))
    w.withdraw(100_000, b"\xe0" * 32)  # holds the vault's only output
    stuck = w.withdraw(12_000, b"\xe1" * 32)
    honest = w.withdraw(200_000, b"\xe2" * 32)
    assert queue(w) == [stuck.id, honest.id]
    _seat_fifteen(w, 1, start=11)
    w.deposit(1_000_000, w.vault(1), height=20)
    w.close_round(height=21)
    assert status(w, honest) is cr.MandateStatus.OPEN
    assert status(w, stuck) is cr.MandateStatus.QUEUED and queue(w) == [stuck.id]
    w.deposit(300_000, w.vault(1), height=22)
    later = w.withdraw(50_000, b"\xe3" * 32, height=22)  # queues behind it, funded next close
    assert later.status is cr.MandateStatus.QUEUED
    w.close_round(height=23)
    assert status(w, later) is cr.MandateStatus.OPEN and queue(w) == [stuck.id]
    assert w.books_balance()[0] == w.books_balance()[1]


def test_spent_vault_outputs_leave_the_index_every_funding_scans() -> None:
    """Attack (review x7f, slowing every round close): each funding (up to ``fund_per_round``
    per close) scanned every output the epoch ever had, spent ones included, so a history of
    deposits and proven withdrawals (each leaving change) grew the work of every round close
    without bound. Spent outputs leave the epoch index: it holds the live outputs only."""
    w = World()
    w.seat(0, range(4))
    for k in range(8):
        w.deposit(100_000, w.vault(0), height=10 + k)
    for k in range(6):
        m = w.withdraw(60_000, bytes([0xF0 + k]) * 32, height=20 + k)
        w.prove(m.id, m.revisions[0].spend, height=21 + k)
    live = sorted(u.outpoint for u in w.utxos()
                  if u.status in (cr.UtxoStatus.UNSPENT, cr.UtxoStatus.RESERVED))  # fmt: skip
    indexed = sorted(u.outpoint for u in mandate_store.epoch_utxos(w.s, "btc", 0))
    assert len(w.utxos()) == 8 + 6 and len(live) == 8
    assert indexed == live and len(w.s.scan(cr.UTXO_EPOCH)) == 8


@pytest.mark.xfail(strict=True, reason="one payout per spend: no batching of queued withdrawals")
def test_tiny_withdrawals_do_not_serialise_the_queue_behind_the_vaults_one_output() -> None:
    """Grief (review x7f, still open): the vault holds one large output (deposits merged by
    change); an attacker's 207s of the minimum each take that whole output in turn (the
    smallest covering one), the rest queued, so every later withdrawal waits for one
    sign-confirm-302 cycle per tiny withdrawal (value-scaled depth: the change is the whole
    vault). Cost: the payouts' fees and ETM fees; the amounts come back to the attacker."""
    w = World()
    w.seat(0, range(4))
    w.deposit(1_000_000_000, w.vault(0))
    tiny = [w.withdraw(10_000, bytes([0xE8 + k]) * 32) for k in range(5)]
    honest = w.withdraw(100_000_000, b"\xef" * 32)
    assert tiny[0].status is cr.MandateStatus.OPEN and queue(w)[-1] == honest.id
    w.prove(tiny[0].id, tiny[0].revisions[0].spend, height=11)
    w.close_round(height=12)  # the change is free again: the queue may be paid from it
    assert status(w, honest) is cr.MandateStatus.OPEN
