"""The node's HTTP JSON API (Starlette routes over a :class:`NodeBackend`).

Reads and signed transactions are open; ``/api/admin/*`` needs ``Authorization: Bearer <token>``
(the node config's ``admin_token``). Errors are JSON ``{"error": {"code", "message"}}``:

Blocks: ``/api/blocks/{ref}``, ``ref`` a height, the 64-bit decimal display id or the 64-hex id
(whitepaper 5.2 JSON with decoded transactions);
``?format=hex`` gives the wire encoding instead (for replays and peers).

* 400 validation error or rejected transaction (``code`` = the rejection reason),
* 401 missing/wrong admin token, 404 unknown block/tx/account/route,
* 413 body larger than ``max_body_bytes`` (refused from ``Content-Length`` or while streaming,
  before any parsing), 415 unsupported content type.

All handlers are ``async`` and call the backend directly: the chain, its SQLite connection and
the forger loop all live on the event loop's thread, so no two writes can interleave.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ..errors import (
    BlockRejectedError,
    EtmBridgeError,
    NotFoundError,
    TxRejectedError,
    ValidationError,
)

MAX_LATEST_BLOCKS = 100
#: Block references of up to this many decimal digits are heights; longer ones display ids.
MAX_HEIGHT_DIGITS = 10
#: Most ``[``/``{`` bytes a JSON body may hold. Every endpoint takes one flat object, and a
#: deeply nested body must never reach ``json.loads``: with the recursion limit that py_ecc
#: (imported by web3) raises to 100,000, the C decoder overflows the stack and the node dies.
MAX_JSON_CONTAINERS = 32
Handler = Callable[[Request], Awaitable[JSONResponse]]


class NodeBackend(Protocol):
    """What the API needs from the node (implemented by ``node.service.NodeService``)."""

    def status(self) -> dict[str, Any]: ...
    def submit_tx(self, raw: bytes) -> dict[str, Any]: ...
    def transaction(self, tx_id: bytes) -> dict[str, Any]: ...
    def pending_transactions(self, sender: str | None = None) -> list[dict[str, Any]]: ...
    def block(self, ref: int | str | bytes) -> dict[str, Any]: ...
    def block_hex(self, ref: int | str | bytes) -> dict[str, Any]: ...
    def latest_blocks(self, limit: int) -> list[dict[str, Any]]: ...
    def account(self, address: str) -> dict[str, Any]: ...
    def delegates(self) -> dict[str, Any]: ...
    def current_round(self) -> dict[str, Any]: ...
    def forging_status(self) -> dict[str, Any]: ...
    def set_forging(self, enabled: bool, blocks: int | None = None) -> dict[str, Any]: ...
    def add_forging_key(self, seed: bytes) -> dict[str, Any]: ...


class BodyTooLarge(Exception):
    pass


def _is_decimal(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` alone accepts e.g. "²", which ``int`` refuses."""
    return text.isascii() and text.isdigit()


def _at_most(digits: str, high: int) -> bool:
    """``int(digits) <= high`` for ASCII digits, without ``int()`` of thousands of digits (which
    raises ValueError past 4,300 digits and costs quadratic time below that)."""
    digits = digits.lstrip("0") or "0"
    return len(digits) <= len(str(high)) and int(digits) <= high


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (:class:`BodyTooLarge`) as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not _is_decimal(declared):
            raise ValidationError("Content-Length is not a number")
        if not _at_most(declared, limit):
            raise BodyTooLarge(f"body of {declared[:24]} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    body = await read_body(request, limit)
    if body.count(b"[") + body.count(b"{") > MAX_JSON_CONTAINERS:
        raise ValidationError(
            f"request body has more than {MAX_JSON_CONTAINERS} JSON arrays/objects;"
            " the API takes one flat JSON object"
        )
    try:
        data = json.loads(body)
    except ValueError:  # not JSON, not UTF-8/16/32, or an integer of over 4,300 digits
        raise ValidationError("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValidationError("request body must be a JSON object")
    return data


def parse_hex(text: str, what: str, length: int | None = None) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ValidationError(f"{what} is not valid hex") from None
    if length is not None and len(raw) != length:
        raise ValidationError(f"{what} must be {length} bytes ({2 * length} hex digits)")
    return raw


def block_ref(text: str) -> int | str | bytes:
    """A height (up to 10 digits), the whitepaper's 64-bit display id (11-20 digits, the
    ``id`` of the block JSON; as a ``str``) or the full 256-bit id (64 hex digits)."""
    if _is_decimal(text) and len(text) <= MAX_HEIGHT_DIGITS:
        return int(text)
    if _is_decimal(text) and len(text) <= 20 and int(text) < 2**64:
        return text
    if len(text) == 64:
        return parse_hex(text, "block id", 32)
    raise ValidationError(
        f"block reference {text[:80]!r} is neither a height, a 64-bit decimal id nor a"
        " 64-hex-digit id"
    )


def guarded(handler: Handler) -> Handler:
    """Map library errors to HTTP statuses, so every handler can simply raise."""

    async def wrapper(request: Request) -> JSONResponse:
        try:
            return await handler(request)
        except BodyTooLarge as exc:
            return _error(413, "body_too_large", str(exc))
        except NotFoundError as exc:
            return _error(404, "not_found", str(exc))
        except (TxRejectedError, BlockRejectedError) as exc:
            return _error(400, exc.reason, exc.detail)
        except ValidationError as exc:
            return _error(400, "invalid_request", str(exc))
        except EtmBridgeError as exc:
            return _error(400, type(exc).__name__, str(exc))

    return wrapper


def _query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not _is_decimal(text) or not _at_most(text, high) or int(text) < low:
        raise ValidationError(f"query parameter {name} must be an integer in {low}..{high}")
    return int(text)


def create_app(
    backend: NodeBackend,
    *,
    admin_token: str,
    max_body_bytes: int,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The Starlette application serving ``backend`` (``lifespan`` runs e.g. the forger loop;
    ``extra_routes``, e.g. :func:`.exchange_api.exchange_routes`, are served too)."""

    async def tx_body(request: Request) -> bytes:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            data = await read_json(request, max_body_bytes)
            if not isinstance(data.get("tx"), str):
                raise ValidationError('JSON body must be {"tx": "<signed tx hex>"}')
            return parse_hex(data["tx"], "tx")
        body = await read_body(request, max_body_bytes)
        if kind == "application/octet-stream":
            return body
        if kind in ("text/plain", ""):
            try:
                return parse_hex(body.decode("ascii").strip(), "tx")
            except UnicodeDecodeError:
                raise ValidationError("tx hex is not ASCII") from None
        raise HTTPException(415, f"unsupported content type {kind!r}")

    def require_admin(request: Request) -> None:
        supplied = request.headers.get("authorization", "")
        expected = f"Bearer {admin_token}"
        if not hmac.compare_digest(supplied.encode(), expected.encode()):
            raise HTTPException(401, "admin endpoint: send Authorization: Bearer <admin_token>")

    @guarded
    async def status(request: Request) -> JSONResponse:
        return JSONResponse(backend.status())

    @guarded
    async def transactions(request: Request) -> JSONResponse:
        if request.method == "POST":
            return JSONResponse(backend.submit_tx(await tx_body(request)))
        if request.query_params.get("status") != "pending":
            raise ValidationError("GET /api/transactions lists ?status=pending transactions")
        sender = request.query_params.get("sender")
        return JSONResponse({"transactions": backend.pending_transactions(sender)})

    @guarded
    async def transaction(request: Request) -> JSONResponse:
        tx_id = parse_hex(request.path_params["tx_id"], "transaction id", 32)
        return JSONResponse(backend.transaction(tx_id))

    @guarded
    async def latest(request: Request) -> JSONResponse:
        limit = _query_int(request, "limit", 10, 1, MAX_LATEST_BLOCKS)
        return JSONResponse({"blocks": backend.latest_blocks(limit)})

    @guarded
    async def block(request: Request) -> JSONResponse:
        ref = block_ref(request.path_params["ref"])
        fmt = request.query_params.get("format", "json")
        if fmt not in ("json", "hex"):
            raise ValidationError(f"query parameter format must be json or hex, got {fmt[:20]!r}")
        return JSONResponse(backend.block_hex(ref) if fmt == "hex" else backend.block(ref))

    @guarded
    async def account(request: Request) -> JSONResponse:
        return JSONResponse(backend.account(request.path_params["address"]))

    @guarded
    async def delegates(request: Request) -> JSONResponse:
        return JSONResponse(backend.delegates())

    @guarded
    async def current_round(request: Request) -> JSONResponse:
        return JSONResponse(backend.current_round())

    @guarded
    async def forging(request: Request) -> JSONResponse:
        require_admin(request)
        if request.method == "POST":
            data = await read_json(request, max_body_bytes)
            if not isinstance(data.get("enabled"), bool):
                raise ValidationError('JSON body must be {"enabled": true|false}')
            blocks = data.get("blocks")
            if blocks is not None and (type(blocks) is not int or not 0 < blocks <= 10_000):
                raise ValidationError('"blocks" must be an integer in 1..10000 (forge then pause)')
            return JSONResponse(backend.set_forging(data["enabled"], blocks))
        return JSONResponse(backend.forging_status())

    @guarded
    async def forging_keys(request: Request) -> JSONResponse:
        require_admin(request)
        data = await read_json(request, max_body_bytes)
        if not isinstance(data.get("seed"), str):
            raise ValidationError('JSON body must be {"seed": "<32-byte ed25519 seed hex>"}')
        return JSONResponse(backend.add_forging_key(parse_hex(data["seed"], "seed", 32)))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        codes = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}
        return _error(exc.status_code, codes.get(exc.status_code, "http_error"), exc.detail)

    routes = [
        Route("/api/status", status),
        Route("/api/transactions", transactions, methods=["GET", "POST"]),
        Route("/api/transactions/{tx_id}", transaction),
        Route("/api/blocks", latest),
        Route("/api/blocks/{ref}", block),
        Route("/api/accounts/{address}", account),
        Route("/api/delegates", delegates),
        Route("/api/rounds/current", current_round),
        Route("/api/admin/forging", forging, methods=["GET", "POST"]),
        Route("/api/admin/forging/keys", forging_keys, methods=["POST"]),
        *extra_routes,
    ]
    handlers = {HTTPException: http_error}
    return Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
