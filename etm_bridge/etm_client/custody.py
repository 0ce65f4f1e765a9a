"""Custody reads and the share pool over a node's HTTP API (``etm_bridge.node.custody_api``),
for the custody signer and anyone who assembles a mandate's spend."""

from __future__ import annotations

from typing import Any

from ..node.client import NodeClient


class CustodyClient:
    """The custody routes of one node."""

    def __init__(self, node: NodeClient):
        self.node = node

    def status(self, epoch: int | None = None) -> dict[str, Any]:
        """Epoch, committee (of ``epoch``, default the newest) and vaults."""
        params = {} if epoch is None else {"epoch": str(epoch)}
        return dict(self.node._request("GET", "/api/custody", params=params))

    def mandates(self, statuses: tuple[str, ...] = ("open",)) -> list[dict[str, Any]]:
        """Every mandate of one of ``statuses``, page by page until the route's cursor ends.
        The route filters a bounded scan of the mandate log, so a page may be short (or
        empty) while later mandates remain: a short page is not the end, ``next is None`` is."""
        rows: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page, after = self.node.page("/api/custody/mandates", "mandates",
                                         {"status": ",".join(statuses)}, after=after)  # fmt: skip
            rows += page
            if after is None:
                return rows

    def mandate(self, mandate_id: bytes) -> dict[str, Any]:
        return dict(self.node._request("GET", f"/api/custody/mandates/{mandate_id.hex()}"))

    def post_share(self, body: bytes) -> str:
        """Give a ``custody_share`` body to the node: ``new`` / ``known`` / ``dropped``."""
        reply = self.node._request("POST", "/api/custody/shares", json={"share": body.hex()})
        return str(reply["result"])

    def shares(self, mandate_id: bytes) -> list[dict[str, Any]]:
        reply = self.node._request(
            "GET", "/api/custody/shares", params={"mandate": mandate_id.hex()}
        )
        return list(reply["shares"])
