"""Routes of the node API for threshold custody (design-14 section 10.7): what a custody signer
reads from its own node, and the share pool (:mod:`.custody_pool`). 404 ``not_found`` if the
chain does not load ``etm_bridge.custody.txtypes``.

* ``GET /api/custody[?epoch=N]`` -> ``{"epoch", "committee", "vaults": [...]}``: the committee
  of epoch N (default and past the newest: the newest; members, m, n, keys per chain as hex;
  null before the first) and every vault record;
* ``GET /api/custody/mandates[?status=open,expired&after=&limit=]`` -> ``{"mandates": [...],
  "next"}``: mandates in the order created (index ``custody_mandate_log``), ``limit`` log
  entries scanned per page (bounded work), those of a listed status returned; ``next`` is the
  cursor after the last entry scanned (null at the end);
* ``GET /api/custody/mandates/{id}`` -> one mandate record (design-14 section 4.2 JSON);
* ``POST /api/custody/shares`` with ``{"share": hex}`` (the ``custody_share`` body) ->
  ``{"result": "new"|"known"|"dropped"}``, 400 if the share is invalid; a new share is gossiped
  to peers;
* ``GET /api/custody/shares?mandate=<64 hex>`` -> ``{"mandate", "shares": [{revision, key,
  signatures: {input: hex}}]}``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..chain.codec import U64
from ..chain.state import StateView
from ..custody import plans, records
from ..custody.mandate_store import get_mandate
from ..errors import NotFoundError, ValidationError
from .api import guarded, parse_hex, read_json
from .custody_pool import NEW, SharePool
from .exchange_api import page_params
from .p2p.custody_share import MAX_BYTES, CustodyShare, decode_share

ViewOf = Callable[[], StateView]
STATUSES = frozenset(s.value for s in records.MandateStatus)


def custody_status(view: StateView, epoch: int | None = None) -> dict[str, Any]:
    """The committee of ``epoch`` (default: the newest) and every vault record."""
    newest = plans.current_epoch(view)
    epoch = newest if epoch is None or newest is None or epoch > newest else epoch
    committee = None
    if epoch is not None:
        c = records.decode(
            records.Committee, view.get_json(records.EPOCHS, records.epoch_key(epoch))
        )
        committee = records.encode(c)
    vaults = [v for _, v in ((k, view.get_json(records.VAULTS, k)) for k, _ in
                             view.scan(records.VAULTS)) if v is not None]  # fmt: skip
    return {"epoch": epoch, "committee": committee, "vaults": vaults}


def mandates_page(
    view: StateView, statuses: frozenset[str] | None, after: bytes | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    rows = view.scan_page(records.MANDATE_LOG, b"", after, limit)
    out = []
    for _, mid in rows:
        raw = view.get_json(records.MANDATES, mid)
        if raw is not None and (statuses is None or raw.get("status") in statuses):
            out.append(raw)
    return out, (rows[-1][0].hex() if rows else None)


def _statuses(text: str | None) -> frozenset[str] | None:
    if not text:
        return None
    wanted = frozenset(s.strip() for s in text.split(",") if s.strip())
    unknown = wanted - STATUSES
    if unknown or len(text) > 200:
        raise ValidationError(
            f"query parameter status: unknown {sorted(unknown)[:5]}; one or more of"
            f" {', '.join(sorted(STATUSES))}, comma-separated"
        )
    return wanted


def custody_routes(
    view_of: ViewOf,
    tables: Collection[str],
    pool: SharePool,
    on_new_share: Callable[[CustodyShare], None] | None = None,
) -> list[Route]:
    """The custody routes (see the module docstring)."""

    def view() -> StateView:
        if records.MANDATES not in tables:
            raise NotFoundError("custody is not enabled on this chain (tx_plugins)")
        return view_of()

    @guarded
    async def status(request: Request) -> JSONResponse:
        text = request.query_params.get("epoch")
        epoch = None
        if text is not None:
            if not (text.isascii() and text.isdigit() and len(text) <= 10):
                raise ValidationError("query parameter epoch must be an integer (u32)")
            epoch = int(text)
        return JSONResponse(custody_status(view(), epoch))

    @guarded
    async def mandates(request: Request) -> JSONResponse:
        wanted = _statuses(request.query_params.get("status"))
        after, limit = page_params(request)
        if after is not None and len(after) != U64.size:
            raise ValidationError("query parameter after is not a cursor this node gave out")
        rows, cursor = mandates_page(view(), wanted, after, limit)
        return JSONResponse({"mandates": rows, "next": cursor})

    @guarded
    async def mandate(request: Request) -> JSONResponse:
        mid = parse_hex(request.path_params["mandate_id"], "mandate id", 32)
        found = get_mandate(view(), mid)
        if found is None:
            raise NotFoundError(f"no custody mandate {mid.hex()}")
        return JSONResponse(records.encode(found))

    @guarded
    async def shares(request: Request) -> JSONResponse:
        view()
        if request.method == "POST":
            data = await read_json(request, 2 * MAX_BYTES + 64)
            text = data.get("share")
            if not isinstance(text, str):
                raise ValidationError('JSON body must be {"share": "<custody_share body hex>"}')
            share = decode_share(parse_hex(text, "share"))
            result = pool.add(share)
            if result == NEW and on_new_share is not None:
                on_new_share(share)
            return JSONResponse({"result": result})
        text = request.query_params.get("mandate")
        if not text:
            raise ValidationError("query parameter mandate (64 hex digits) is required")
        mid = parse_hex(text, "mandate", 32)
        return JSONResponse({"mandate": mid.hex(), "shares": pool.shares(mid)})

    return [
        Route("/api/custody", status),
        Route("/api/custody/mandates", mandates),
        Route("/api/custody/mandates/{mandate_id}", mandate),
        Route("/api/custody/shares", shares, methods=["GET", "POST"]),
    ]
