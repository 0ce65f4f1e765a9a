"""One HTTP request through a node app's ASGI interface, no server or socket: the node API tests
(``test_node_api``, ``test_exchange_api``) share it."""

from __future__ import annotations

import asyncio
import json
from typing import Any


def asgi_request(
    app: Any,
    method: str,
    path: str,
    body: bytes | list[bytes] = b"",
    headers: dict[str, str] | None = None,
    *,
    parse: bool = True,
) -> tuple[int, Any]:
    """(status, JSON body) of one request; a list body is sent as chunks without Content-Length.
    ``parse=False`` gives the raw body bytes instead (e.g. a redirect has none)."""
    path, _, query = path.partition("?")
    chunks = body if isinstance(body, list) else [body]
    raw_headers = [(k.lower().encode(), v.encode("latin-1")) for k, v in (headers or {}).items()]
    if not isinstance(body, list):
        raw_headers.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "query_string": query.encode(), "headers": raw_headers,
             "scheme": "http", "server": ("127.0.0.1", 1), "client": ("127.0.0.1", 2),
             "root_path": ""}  # fmt: skip
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(payload) if parse else payload
