"""The custody signer's record on disk (design-14 section 5.3): rows survive a reopen, a
refused revision writes nothing, a replayed or changed revision never yields a new signature,
and another chain's record never blocks this one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from etm_bridge.chains.bitcoin.custody import ecdsa
from etm_bridge.custody_signer.record import GOSSIPED, RECORDED, InputToSign, SigningRecord
from etm_bridge.errors import CustodyError, StoreError

pytestmark = pytest.mark.unit

GENESIS, OTHER_GENESIS = b"\x0a" * 32, b"\x0b" * 32
MID, MID2, ORIGINAL = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
OP0, OP1 = b"\xa0" * 36, b"\xa1" * 36
SECRET = b"\x42" * 32


class Signer:
    """Counts the signatures computed (a refused revision must compute none that leaves)."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def __call__(self, digest: bytes) -> bytes:
        self.calls.append(digest)
        return ecdsa.sign(SECRET, digest)


def inputs(*digests: bytes, outpoints: tuple[bytes | None, ...] = (OP0, OP1)) -> list[InputToSign]:
    return [InputToSign(i, d, outpoints[i]) for i, d in enumerate(digests)]


def test_a_revision_is_recorded_once_and_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "custody_signer.sqlite"
    rec, sign = SigningRecord(path, GENESIS), Signer()
    first = rec.record_revision("btc", MID, 0, inputs(b"\xd0" * 32, b"\xd1" * 32), None, sign)
    assert first == {0: ecdsa.sign(SECRET, b"\xd0" * 32), 1: ecdsa.sign(SECRET, b"\xd1" * 32)}
    rec.close()
    rec = SigningRecord(path, GENESIS)
    again = rec.record_revision("btc", MID, 0, inputs(b"\xd0" * 32, b"\xd1" * 32), None, sign)
    assert again == first and len(sign.calls) == 2  # the stored bytes, nothing signed again
    [stored] = rec.stored()
    assert (stored.mandate_id, stored.revision, stored.signatures, stored.state) == (
        MID, 0, first, RECORDED)  # fmt: skip
    rec.mark_gossiped("btc", MID, 0)
    assert rec.stored()[0].state == GOSSIPED


def test_a_changed_digest_refuses_the_whole_revision_and_writes_nothing(tmp_path: Path) -> None:
    """Attack: a lying node serves revision 0 again with another spend."""
    rec, sign = SigningRecord(tmp_path / "r.sqlite", GENESIS), Signer()
    rec.record_revision("btc", MID, 0, inputs(b"\xd0" * 32), None, sign)
    for served in (inputs(b"\xd9" * 32), inputs(b"\xee" * 32, b"\xd9" * 32)[::-1]):
        with pytest.raises(CustodyError) as err:
            rec.record_revision("btc", MID, 0, served, None, sign)
        assert err.value.reason == "digest_changed"
    assert rec.signed_revision("btc", MID, 0) == {0: ecdsa.sign(SECRET, b"\xd0" * 32)}


def test_another_mandate_over_a_bound_outpoint_is_refused(tmp_path: Path) -> None:
    """Attack: two mandates spending one vault output; only a cancel of the first may."""
    rec, sign = SigningRecord(tmp_path / "r.sqlite", GENESIS), Signer()
    rec.record_revision("btc", ORIGINAL, 0, inputs(b"\xd0" * 32), None, sign)
    with pytest.raises(CustodyError) as err:
        rec.record_revision("btc", MID, 0, [InputToSign(0, b"\xd5" * 32, OP0)], None, sign)
    assert err.value.reason == "outpoint_bound"
    # nothing of the refused revision was written: not even the unbound second input
    with pytest.raises(CustodyError):
        two = [InputToSign(0, b"\xd6" * 32, OP1), InputToSign(1, b"\xd7" * 32, OP0)]
        rec.record_revision("btc", MID2, 0, two, None, sign)
    assert rec.signed_revision("btc", MID2, 0) == {}
    rec.record_revision("btc", MID2, 0, [InputToSign(0, b"\xd8" * 32, OP1)], None, sign)
    # a cancel of ORIGINAL, and a bump (revision 1) of ORIGINAL
    rec.record_revision("btc", MID, 0, [InputToSign(0, b"\xd5" * 32, OP0)], ORIGINAL, sign)
    rec.record_revision("btc", ORIGINAL, 1, [InputToSign(0, b"\xd9" * 32, OP0)], None, sign)
    # other chain (ticker) or another genesis: separate records
    rec.record_revision("eth", MID2, 0, [InputToSign(0, b"\xda" * 32, None)], None, sign)
    other = SigningRecord(tmp_path / "r.sqlite", OTHER_GENESIS)
    other.record_revision("btc", MID2, 0, [InputToSign(0, b"\xd6" * 32, OP0)], None, sign)


def test_no_inputs_or_a_repeated_input_is_refused(tmp_path: Path) -> None:
    rec, sign = SigningRecord(tmp_path / "r.sqlite", GENESIS), Signer()
    for bad in ([], [InputToSign(0, b"\xd0" * 32, OP0), InputToSign(0, b"\xd1" * 32, OP1)]):
        with pytest.raises(CustodyError):
            rec.record_revision("btc", MID, 0, bad, None, sign)
    assert rec.stored() == []


def test_the_file_is_wal_with_full_sync_and_a_corrupt_one_is_one_clear_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.sqlite"
    SigningRecord(path, GENESIS).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError) as err:
        SigningRecord(bad, GENESIS)
    assert "never run the signer without it" in str(err.value)


def test_a_later_revision_spending_other_outputs_is_refused(tmp_path: Path) -> None:
    """Attack (x7c): the signer signed revision 0 of a mandate over output OP0. A lying node
    serves revision 1 of the same mandate spending OP1 (unbound) instead: before the fix it
    was signed ("another revision of the same mandate"), and the two spends share no input,
    so both confirm: the mandate pays twice. Design-14 4.3 re-issues and bumps a revision
    over the same inputs: a later revision must spend exactly the outputs the mandate's signed
    revisions spend, so any two of them conflict and at most one confirms."""
    rec, sign = SigningRecord(tmp_path / "r.sqlite", GENESIS), Signer()
    rec.record_revision("btc", MID, 0, [InputToSign(0, b"\xd0" * 32, OP0)], None, sign)
    for served in (
        [InputToSign(0, b"\xd1" * 32, OP1)],  # disjoint: a second payout
        [InputToSign(0, b"\xd1" * 32, OP0), InputToSign(1, b"\xd2" * 32, OP1)],  # grows
    ):
        with pytest.raises(CustodyError) as err:
            rec.record_revision("btc", MID, 1, served, None, sign)
        assert err.value.reason == "inputs_changed"
    assert rec.signed_revision("btc", MID, 1) == {}
    # the same inputs (a fee bump) are still signed; the record survives a reopen
    rec.record_revision("btc", MID, 1, [InputToSign(0, b"\xd3" * 32, OP0)], None, sign)
    rec.close()
    rec = SigningRecord(tmp_path / "r.sqlite", GENESIS)
    with pytest.raises(CustodyError):
        rec.record_revision("btc", MID, 2, [InputToSign(0, b"\xd4" * 32, OP1)], None, sign)
    # a cancel of MID spends MID's inputs; its own later revisions stay on them
    rec.record_revision("btc", MID2, 0, [InputToSign(0, b"\xd5" * 32, OP0)], MID, sign)
    with pytest.raises(CustodyError):
        rec.record_revision("btc", MID2, 1, [InputToSign(0, b"\xd6" * 32, OP1)], MID, sign)


def _race(path: str, tag: int, rounds: int, start: object, out: object) -> None:
    """One signer process: each round, sign its own mandate over that round's output."""
    won, error = 0, ""
    try:
        rec = SigningRecord(Path(path), GENESIS)
        for n in range(rounds):
            start.wait()  # type: ignore[attr-defined]
            mid = bytes([tag, n]) * 16
            item = InputToSign(0, bytes([tag, n]) * 16, bytes([n]) * 36)
            try:
                rec.record_revision("btc", mid, 0, [item], None, lambda d: ecdsa.sign(SECRET, d))
                won |= 1 << n
            except CustodyError as exc:
                if exc.reason != "outpoint_bound":
                    raise
        rec.close()
    except Exception as exc:  # reported to the test, never a hang
        error = repr(exc)
        start.abort()  # type: ignore[attr-defined]
    out.put((tag, won, error))  # type: ignore[attr-defined]


def test_two_signer_processes_on_one_record_never_both_sign_an_output(tmp_path: Path) -> None:
    """Attack (x7c): two signer processes started on one data directory (a double start, a
    restart while the old one hangs), each asked by its node to sign a different mandate over
    the same output at the same instant, 30 times. Stopped by the check-and-write inside one
    ``BEGIN IMMEDIATE`` transaction: per output exactly one of them signs."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    path, rounds = str(tmp_path / "custody_signer.sqlite"), 30
    SigningRecord(Path(path), GENESIS).close()
    start, out = ctx.Barrier(2, timeout=30), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(path, tag, rounds, start, out)) for tag in (1, 2)]
    for p in procs:
        p.start()
    results = {tag: (won, error) for tag, won, error in (out.get(timeout=60) for _ in procs)}
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert results[1][1] == results[2][1] == ""
    assert results[1][0] & results[2][0] == 0  # never both
    assert results[1][0] | results[2][0] == (1 << rounds) - 1  # always one
