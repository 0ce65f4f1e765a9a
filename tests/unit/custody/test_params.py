"""The genesis section plugins.custody (design-14 section 1.1): defaults, validation, round trip."""

from __future__ import annotations

from typing import Any

import pytest

from etm_bridge.custody.params import CustodyParams
from etm_bridge.errors import ConfigError

pytestmark = pytest.mark.unit

BASE: dict[str, Any] = {"domain": "ab" * 32, "chains": ["x", "y"]}


def test_defaults_and_round_trip() -> None:
    p = CustodyParams.from_json({**BASE, "epoch_rounds": 15, "x": {"depth": 1}})
    assert (p.max_committee, p.min_committee, p.bond_ratio_ppm) == (15, 4, 1_500_000)
    assert p.epoch_rounds == 15 and p.chain_parts == {"x": {"depth": 1}, "y": {}}
    assert CustodyParams.from_json(p.to_json()) == p
    assert "unsafe_test_behaviours" not in p.to_json()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"domain": "ab"}, "64 hex"),
        ({"domain": "zz" * 32}, "64 hex"),
        ({"chains": []}, "1..8 distinct"),
        ({"chains": ["x", "x"]}, "1..8 distinct"),
        ({"chains": "x"}, "list of the tickers"),
        ({"max_committee": 16}, "max_committee"),
        ({"min_committee": 5, "max_committee": 4}, "min_committee"),
        ({"epoch_rounds": 0}, "epoch_rounds"),
        ({"bond_ratio_ppm": 999_999}, "bond_ratio_ppm"),
        ({"finder_ppm": 1_000_001}, "finder_ppm"),
        ({"min_bond": -1}, "min_bond"),
        ({"min_bond": True}, "min_bond"),
        ({"unsafe_test_behaviours": 1}, "true or false"),
        ({"members": {}}, "members"),
        ({"surprise": 1}, "unknown keys"),
    ],
)
def test_bad_sections_are_refused_with_the_key_named(change: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        CustodyParams.from_json({**BASE, **change})
