"""``CustodyClient.mandates`` reads every page of the mandates route: the route filters a
bounded scan of the mandate log by status, so a page can be short, or empty, while open
mandates remain further on. Stopping at the first short page (as the generic ``walk`` does)
hid every open mandate created after a page of proven ones from the custody signers."""

from __future__ import annotations

from typing import Any

import pytest

from etm_bridge.etm_client.custody import CustodyClient

pytestmark = pytest.mark.unit


class LogNode:
    """The route's paging over a log of mandates: ``limit`` entries scanned per page, those of
    a wanted status returned, ``next`` the last scanned entry (None once nothing was scanned)."""

    def __init__(self, statuses: list[str], limit: int = 3) -> None:
        self.log = [{"id": f"{i:02x}", "status": st} for i, st in enumerate(statuses)]
        self.limit, self.requests = limit, 0

    def page(
        self, path: str, name: str, params: dict[str, str] | None = None, *,
        after: str | None = None, limit: int | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:  # fmt: skip
        assert (path, name) == ("/api/custody/mandates", "mandates")
        self.requests += 1
        wanted = set((params or {})["status"].split(","))
        start = 0 if after is None else int(after, 16) + 1
        scanned = self.log[start : start + self.limit]
        rows = [m for m in scanned if m["status"] in wanted]
        return rows, (scanned[-1]["id"] if scanned else None)


def test_open_mandates_after_a_page_of_proven_ones_are_all_read() -> None:
    node = LogNode(["proven"] * 4 + ["open", "proven", "proven", "open"])
    got = CustodyClient(node).mandates(("open",))  # type: ignore[arg-type]
    assert [m["id"] for m in got] == ["04", "07"]
    assert node.requests == 4  # 3 pages of the log, then the empty one that ends it


def test_no_mandate_of_the_status_is_an_empty_list() -> None:
    assert CustodyClient(LogNode(["proven"] * 5)).mandates(("open",)) == []  # type: ignore[arg-type]
