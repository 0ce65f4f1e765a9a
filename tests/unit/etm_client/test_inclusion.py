"""Inclusion tracking counts produced blocks: re-send after 3, report after 10, forget later."""

from __future__ import annotations

import pytest

from etm_bridge.errors import ConfigError
from etm_bridge.etm_client.inclusion import InclusionPolicy, InclusionTracker

pytestmark = pytest.mark.unit


def test_rebroadcast_then_suspected_by_produced_blocks() -> None:
    t = InclusionTracker(InclusionPolicy(3, 10, 50))
    t.track("tx1", b"raw", 100, ("http://a",))
    assert t.due(102).rebroadcast == ()
    due = t.due(103)
    assert [x.tx_id for x in due.rebroadcast] == ["tx1"] and due.suspected == ()
    t.resent("tx1", 103, ("http://b",))
    assert t.due(105).rebroadcast == ()  # again only 3 blocks after the re-send
    assert [x.tx_id for x in t.due(106).rebroadcast] == ["tx1"]
    due = t.due(110)
    assert [(s.tx_id, s.blocks_waited) for s in due.suspected] == [("tx1", 10)]
    assert due.suspected[0].endpoints == ("http://a", "http://b")
    assert "censorship suspected: transaction tx1" in due.suspected[0].message()


def test_a_halted_chain_is_not_censorship() -> None:
    t = InclusionTracker()
    t.track("tx1", b"raw", 100, ("a",))
    for _ in range(100):  # time passes, no block: nothing is due
        assert t.due(100).suspected == () and t.due(100).rebroadcast == ()


def test_included_and_forgotten() -> None:
    t = InclusionTracker(InclusionPolicy(3, 10, 20))
    t.track("tx1", b"raw", 0, ("a",))
    t.track("tx2", b"raw", 0, ("a",))
    t.included("tx1")
    assert "tx1" not in t and "tx2" in t
    assert t.due(20).forget == ("tx2",)


def test_unknown_height_at_submission_starts_at_the_first_check() -> None:
    t = InclusionTracker()
    t.track("tx1", b"raw", None, ("a",))
    assert t.due(500).suspected == ()  # not 500 blocks old
    assert t.due(510).suspected[0].blocks_waited == 10


def test_tracking_twice_keeps_the_first_height() -> None:
    t = InclusionTracker()
    t.track("tx1", b"raw", 5, ("a",))
    t.track("tx1", b"raw", 9, ("b",))
    assert t.tracked()[0].submitted_at == 5 and t.tracked()[0].accepted_by == ("a", "b")


def test_policy_is_checked() -> None:
    with pytest.raises(ConfigError, match="rebroadcast_after_blocks"):
        InclusionPolicy(10, 3)
    with pytest.raises(ConfigError, match="forget_after_blocks"):
        InclusionPolicy(3, 10, 10)
