"""Custody records survive their JSON codec exactly (tuples, mappings, enums, nested records)."""

from __future__ import annotations

import json

import pytest

from etm_bridge.chain.state import canonical_json
from etm_bridge.custody import records as cr

pytestmark = pytest.mark.unit

K = [bytes([i]) * 32 for i in range(1, 5)]


def roundtrip(record: object) -> object:
    raw = json.loads(canonical_json(cr.encode(record)))
    return cr.decode(type(record), raw)


@pytest.mark.parametrize(
    "record",
    [
        cr.Member(K[0], K[1], {"x": b"\x02" * 33, "y": b"\x11" * 20}, 10**12, False, 7, None),
        cr.Committee(3, tuple(K), 3, 4, {"x": tuple(K)}, 120, "epoch"),
        cr.VaultRecord("x", 3, cr.VaultStatus.RETIRING, b"\xa0\x03\x04", b"\x00\x20", "x1q", 9, 2),
        cr.Mandate(
            K[0], cr.MandateKind.LP_WITHDRAW, "x", "x", K[1], cr.MandateStatus.OPEN, 5, 3600,
            {"amount": 5, "payee": "ab"},
            (cr.Revision(0, 3, 5, 2, 400, b"spend", (K[2], K[3]), K[0]),
             cr.Revision(1, 3, 9, 4, 800, b"spend2", (K[2],), None)),
            cr.ProvenRef(1, b"ref", 77, 12), K[3], True,
        ),
        cr.CustodyUtxo("x", K[0] + b"\x00" * 4, 5000, 2, cr.UtxoStatus.RESERVED, K[1], 4),
        cr.CustodyHtlc("x", K[0], cr.HtlcRole.COUNTER, K[1], 10, 1, "open"),
        cr.CustodyAccount(1, 2, 3, 4),
        cr.Solvency(cr.SolvencyStatus.INSOLVENT, 5, 10, 12, 2, 4, "stolen x:0"),
    ],
)  # fmt: skip
def test_every_record_roundtrips(record: object) -> None:
    assert roundtrip(record) == record


def test_member_eligibility() -> None:
    m = cr.Member(K[0], K[1], {"x": b"k", "y": b"k"}, 100)
    assert m.eligible(["x", "y"], 100)
    assert not m.eligible(["x", "y", "z"], 100)  # no key for z
    assert not m.eligible(["x"], 101)  # bond below the minimum
    assert not cr.Member(K[0], K[1], {"x": b"k"}, 100, slashed=True).eligible(["x"], 0)


def test_ticker_keys_separate_tickers() -> None:
    assert cr.ticker_key("ab", b"c") != cr.ticker_key("a", b"bc")
