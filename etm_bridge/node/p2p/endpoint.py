"""What the peer layer adds to the node's HTTP server: ``/p2p``, ``/api/peers``, the sync gate.

* ``/p2p``: the WebSocket endpoint inbound peers connect to (:meth:`P2PNetwork.accept`).
* ``GET /api/peers``: connected peers (node id, address, direction, height, finalized height),
  known addresses, the last error per configured address, and current bans.
* :class:`SyncGate` (ASGI middleware): while the node is syncing, every API route that answers
  from the chain's state (accounts, transactions, exchange, SPV, rounds, delegates) and
  transaction submission answer ``503 {"error": {"code": "syncing", ...}}`` with a
  ``Retry-After``; ``/api/status`` (which says ``"syncing": true`` and the target height),
  ``/api/blocks``, ``/api/peers`` and ``/api/admin/*`` always answer.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .network import P2PNetwork

#: Always served, syncing or not.
OPEN_PREFIXES = ("/api/status", "/api/blocks", "/api/peers", "/api/admin", "/p2p")


def network_routes(net: P2PNetwork) -> list[BaseRoute]:
    async def peers(request: Request) -> JSONResponse:
        return JSONResponse(net.peers_json())

    return [WebSocketRoute("/p2p", net.accept), Route("/api/peers", peers)]


class SyncGate:
    """503 ``syncing`` for state reads and writes while the node catches up (module doc)."""

    def __init__(self, app: ASGIApp, net: P2PNetwork):
        self.app, self.net = app, net

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and path.startswith("/api/")
            and not path.startswith(OPEN_PREFIXES)
            and self.net.syncer.syncing
        ):
            await self._refuse(send)
            return
        await self.app(scope, receive, send)

    async def _refuse(self, send: Send) -> None:
        status: dict[str, Any] = self.net.syncer.status()
        height = self.net.chain.tip.height
        body = json.dumps({
            "error": {
                "code": "syncing",
                "message": f"the node is syncing (height {height} of {status['syncTarget']});"
                " retry when GET /api/status shows syncing=false",
            }
        }).encode()  # fmt: skip
        await send({
            "type": "http.response.start", "status": 503,
            "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1"),
                        (b"content-length", str(len(body)).encode())],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": body})
