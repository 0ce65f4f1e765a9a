"""The never-sign-twice rule (design-14 section 5.3), exhaustively: every combination of what
the record holds (no row, same digest, other digest) x where the outpoint is bound (unbound,
this mandate, the mandate it replaces, a third mandate, no outpoint) x whether the mandate
replaces one."""

from __future__ import annotations

import itertools

import pytest

from etm_bridge.custody.signing_rule import (
    Approved,
    Refusal,
    Refused,
    SignedRow,
    approve,
    same_inputs,
)

pytestmark = pytest.mark.unit

MID, ORIGINAL, OTHER = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
DIGEST, CHANGED = b"\xd1" * 32, b"\xd2" * 32
SIG = b"\x30" * 71 + b"\x01"


def expected(
    row: SignedRow | None, bound: bytes | None, replaces: bytes | None
) -> Approved | Refusal:
    if row is not None:
        return Approved(row.signature) if row.digest == DIGEST else Refusal.DIGEST_CHANGED
    if bound in (None, MID) or (bound is not None and bound == replaces):
        return Approved()
    return Refusal.OUTPOINT_BOUND


ROWS = (None, SignedRow(DIGEST, SIG), SignedRow(CHANGED, SIG))
BOUND = (None, MID, ORIGINAL, OTHER)
REPLACES = (None, ORIGINAL)


@pytest.mark.parametrize(("row", "bound", "replaces"), itertools.product(ROWS, BOUND, REPLACES))
def test_every_combination(
    row: SignedRow | None, bound: bytes | None, replaces: bytes | None
) -> None:
    got = approve(row, bound, MID, DIGEST, replaces)
    want = expected(row, bound, replaces)
    if isinstance(want, Approved):
        assert got == want
    else:
        assert isinstance(got, Refused) and got.reason is want
        assert "\n" not in got.detail and MID.hex() in got.detail


def test_same_digest_returns_the_stored_signature_byte_for_byte() -> None:
    assert approve(SignedRow(DIGEST, SIG), None, MID, DIGEST, None) == Approved(SIG)


def test_a_changed_digest_is_refused_even_when_the_outpoint_is_ours() -> None:
    got = approve(SignedRow(CHANGED, SIG), MID, MID, DIGEST, None)
    assert isinstance(got, Refused) and got.reason is Refusal.DIGEST_CHANGED


def test_an_outpoint_of_another_mandate_is_refused_unless_replaced() -> None:
    """Attack: a node serves a mandate whose spend reuses another mandate's input (two spends
    of one output, each 'mandated'): the second is never signed."""
    got = approve(None, OTHER, MID, DIGEST, None)
    assert isinstance(got, Refused) and got.reason is Refusal.OUTPOINT_BOUND
    got = approve(None, OTHER, MID, DIGEST, ORIGINAL)
    assert isinstance(got, Refused) and got.reason is Refusal.OUTPOINT_BOUND
    assert approve(None, ORIGINAL, MID, DIGEST, ORIGINAL) == Approved()  # a cancel
    assert approve(None, MID, MID, DIGEST, None) == Approved()  # another revision


def test_every_signed_revision_of_a_mandate_spends_the_same_outputs() -> None:
    """Any two signed revisions of one mandate must conflict: same outputs, or nothing signed."""
    a, b, c = (bytes([n]) * 36 for n in (1, 2, 3))
    sets = [frozenset(), frozenset({a}), frozenset({b}), frozenset({a, b}), frozenset({b, c})]
    for before, now in itertools.product(sets, sets):
        verdict = same_inputs(MID, before, now)
        if not before or before == now:
            assert verdict is None, (before, now)
        else:
            assert isinstance(verdict, Refused) and verdict.reason is Refusal.INPUTS_CHANGED
