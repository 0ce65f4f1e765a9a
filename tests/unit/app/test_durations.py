"""Every duration a person reads is :func:`~etm_bridge.app.durations.duration_text`'s: its
wording, its rounding (up: a wait that has not ended never reads ``0 min``), and no second
formatter (an inline ``// 60`` or ``% 3600``) in the use cases, the watcher's words or the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.app.durations import duration_text

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 min"),
        (-5, "0 min"),
        (1, "1 min"),
        (60, "1 min"),
        (61, "2 min"),
        (3540, "59 min"),
        (3541, "1 h 0 min"),
        (3600, "1 h 0 min"),
        (3601, "1 h 1 min"),
        (7200, "2 h 0 min"),
        (42_600, "11 h 50 min"),
        (90_000, "25 h 0 min"),
    ],
)
def test_a_duration_reads_in_minutes_then_hours_and_minutes(seconds: int, text: str) -> None:
    assert duration_text(seconds) == text


@given(st.integers(min_value=1, max_value=10**9))
def test_the_text_never_says_less_than_the_wait_nor_a_minute_more(seconds: int) -> None:
    m = re.fullmatch(r"(?:(\d+) h )?(\d+) min", duration_text(seconds))
    assert m is not None
    said = 3600 * int(m.group(1) or 0) + 60 * int(m.group(2) or 0)
    assert seconds <= said < seconds + 60


def test_no_second_duration_formatter_in_the_app_or_the_cli() -> None:
    inline = re.compile(r"//\s*(60|3600)\b|%\s*3600\b")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("etm_bridge/app", "cli")
        for path in sorted((ROOT / folder).glob("*.py"))
        if path.name != "durations.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if inline.search(line)
    ]
    assert found == []
