"""``lp withdraw ASSET SHARES``: ``all``, a percentage or a number of the wallet's shares."""

from __future__ import annotations

import pytest

from etm_bridge.app.lp_withdraw import parse_share_spec
from etm_bridge.errors import ValidationError


@pytest.mark.parametrize(
    ("text", "burn"),
    [("all", 1_000), ("ALL", 1_000), ("50%", 500), ("12.5%", 125), ("100%", 1_000),
     ("0.1%", 1), ("7", 7), ("1000", 1_000)],
)  # fmt: skip
def test_a_spec_names_shares_of_the_position(text: str, burn: int) -> None:
    assert parse_share_spec(text, 1_000) == burn


@pytest.mark.parametrize("text", ["0%", "101%", "-5%", "nan%", "x%", "half", "1001", "0", "1.5"])
def test_a_bad_spec_is_refused_naming_what_is_held(text: str) -> None:
    with pytest.raises(ValidationError, match=r"SHARES|holds 1000"):
        parse_share_spec(text, 1_000)


def test_a_percentage_too_small_for_one_share_is_refused() -> None:
    with pytest.raises(ValidationError, match="is 0 shares"):
        parse_share_spec("0.01%", 1_000)
