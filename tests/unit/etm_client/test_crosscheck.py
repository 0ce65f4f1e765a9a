"""crosscheck.assess: the majority on the highest common finalized block decides whom to read.

Each attack a lying or lagging endpoint can make on the views is performed here on the pure
function: a fake finalized height, a fake final block, a fake tip, a 2|2 split, all down.
"""

from __future__ import annotations

import pytest

from etm_bridge.errors import ConfigError
from etm_bridge.etm_client.crosscheck import (
    CrossCheckPolicy,
    EndpointStatus,
    EndpointView,
    Verdict,
    assess,
    reference_height,
)

pytestmark = pytest.mark.unit

GOOD, FAKE = "aa" * 32, "bb" * 32
POLICY = CrossCheckPolicy(max_lag_blocks=5)


def up(url: str, height: int, final: int, syncing: bool = False) -> EndpointStatus:
    return EndpointStatus(url, True, height, final, syncing)


def down(url: str) -> EndpointStatus:
    return EndpointStatus(url, False, error="connection refused")


def run(statuses: list[EndpointStatus], ids: dict[str, str | None]):  # type: ignore[no-untyped-def]
    ref = reference_height(statuses)
    views = [EndpointView(s, ids.get(s.url)) for s in statuses]
    return assess(views, POLICY, ref)


def verdicts(result) -> dict[str, Verdict]:  # type: ignore[no-untyped-def]
    return {v.url: v.verdict for v in result.verdicts}


def test_all_agree_all_trusted_in_the_users_order() -> None:
    statuses = [up("a", 100, 97), up("b", 100, 97), up("c", 99, 96), up("d", 100, 97)]
    result = run(statuses, dict.fromkeys("abcd", GOOD))
    assert result.reference_height == 97  # 3 of 4 reach 97
    assert result.trusted == ("a", "b", "c", "d")
    assert result.canonical_tip == 100


def test_a_fake_high_finalized_block_moves_nothing_and_its_liar_is_flagged() -> None:
    # "a" claims height 5000 final 4990 with its own block at the majority's final height
    statuses = [up("a", 5000, 4990), up("b", 100, 97), up("c", 100, 97), up("d", 100, 97)]
    result = run(statuses, {"a": FAKE, "b": GOOD, "c": GOOD, "d": GOOD})
    assert result.reference_height == 97
    assert verdicts(result)["a"] is Verdict.MINORITY_FORK
    assert result.trusted == ("b", "c", "d")


def test_a_fake_tip_on_the_right_history_is_not_read_from() -> None:
    # the liar copies the real final block but claims a tip nobody else has
    statuses = [up("a", 5000, 97), up("b", 100, 97), up("c", 100, 97), up("d", 100, 97)]
    result = run(statuses, dict.fromkeys("abcd", GOOD))
    assert verdicts(result)["a"] is Verdict.AHEAD
    assert result.canonical_tip == 100  # the liar cannot raise it (a majority must reach it)
    assert result.trusted == ("b", "c", "d")


def test_a_liar_reporting_low_finality_cannot_lower_the_reference_height() -> None:
    statuses = [up("a", 100, 0), up("b", 100, 97), up("c", 100, 97), up("d", 100, 97)]
    assert reference_height(statuses) == 97


def test_behind_and_partitioned_minority() -> None:
    # "c" is cut off: its branch has its own block at 97 (minority fork) or no block (behind)
    statuses = [up("a", 100, 97), up("b", 100, 97), up("c", 98, 90), up("d", 100, 97)]
    forked = run(statuses, {"a": GOOD, "b": GOOD, "c": FAKE, "d": GOOD})
    assert verdicts(forked)["c"] is Verdict.MINORITY_FORK
    statuses[2] = up("c", 94, 90)
    behind = run(statuses, {"a": GOOD, "b": GOOD, "c": None, "d": GOOD})
    assert verdicts(behind)["c"] is Verdict.BEHIND
    statuses[2] = up("c", 101, 97)
    assert verdicts(run(statuses, dict.fromkeys("abcd", GOOD)))["c"] is Verdict.TRUSTED


def test_lag_bound_is_max_lag_blocks() -> None:
    base = [up("a", 100, 97), up("b", 100, 97), up("c", 100, 97)]
    ok = run([*base, up("d", 95, 92)], dict.fromkeys("abcd", GOOD))
    assert verdicts(ok)["d"] is Verdict.TRUSTED  # 5 behind: still read from
    lagging = run([*base, up("d", 94, 92)], dict.fromkeys("abcd", GOOD))
    assert verdicts(lagging)["d"] is Verdict.BEHIND


def test_down_and_syncing_take_no_part() -> None:
    statuses = [down("a"), up("b", 100, 97), up("c", 3, 0, syncing=True), up("d", 100, 97)]
    result = run(statuses, {"b": GOOD, "d": GOOD})
    v = verdicts(result)
    assert v["a"] is Verdict.DOWN and v["c"] is Verdict.SYNCING
    assert result.trusted == ("b", "d")


def test_a_tie_trusts_nobody() -> None:
    statuses = [up("a", 100, 97), up("b", 100, 97), up("c", 100, 97), up("d", 100, 97)]
    result = run(statuses, {"a": GOOD, "b": GOOD, "c": FAKE, "d": FAKE})
    assert result.trusted == ()
    assert set(verdicts(result).values()) == {Verdict.NO_MAJORITY}
    assert "no majority on the final block at height 97" in result.describe()


def test_all_down() -> None:
    result = run([down("a"), down("b")], {})
    assert result.trusted == () and result.reference_height is None
    assert "a: down (connection refused)" in result.describe()


def test_one_endpoint_is_trusted_when_it_answers() -> None:
    assert run([up("a", 10, 7)], {"a": GOOD}).trusted == ("a",)


def test_two_liars_of_five_are_outvoted_three_of_four_are_not() -> None:
    honest = [up(u, 100, 97) for u in "cde"]
    liars = [up(u, 900, 890) for u in "ab"]
    result = run(liars + honest, {"a": FAKE, "b": FAKE, **dict.fromkeys("cde", GOOD)})
    assert result.trusted == ("c", "d", "e")
    # a majority of the listed endpoints lying together wins: the documented limit
    result = run(
        [up(u, 900, 97) for u in "abc"] + [up("d", 100, 97)],
        {"a": FAKE, "b": FAKE, "c": FAKE, "d": GOOD},
    )
    assert result.trusted == ("a", "b", "c")


def test_policy_is_checked() -> None:
    with pytest.raises(ConfigError):
        CrossCheckPolicy(max_lag_blocks=-1)
