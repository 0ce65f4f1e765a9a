"""Read routes of the node API for native ETM HTLCs and the pool swaps they settle.

What a swap leg (:class:`~etm_bridge.etm_client.htlc_leg.EtmAdapter`) needs to follow its HTLCs over
HTTP, so a user's machine never opens the node's database. Same data and semantics as the
state tables (read through :mod:`etm_bridge.exchange.views`); an HTLC is
:func:`~etm_bridge.exchange.records.encode`'s JSON of :class:`~etm_bridge.exchange.htlc.Htlc`
(``htlc_id``, ``sender``, ``recipient``, ``amount``, ``hashlock``, ``expiry_height``,
``status`` locked/claimed/refunded, ``preimage`` hex once claimed, else null). 404
``not_found`` if the chain does not load ``etm_bridge.exchange.txtypes``.

* ``GET /api/exchange/htlcs?hashlock=<64 hex>`` -> ``{"hashlock", "htlcs": [...],
  "reserved_by"}``: the HTLC (open or ended) locked with that hashlock, a list of at most one (a
  hashlock serves one HTLC ever: ``xchg_hashlocks`` names it, so this is one lookup, never a
  scan), and the address a swap intent reserved it for while no HTLC used it (else null); the
  parameter is required (400 without it)
* ``GET /api/exchange/htlcs/{htlc_id}`` -> one HTLC (404 if unknown)
* ``GET /api/exchange/swap-history[?asset=&after=&limit=]`` -> ``{"swaps": [{"htlc_id", "swap",
  "htlc"}], "next"}``: the pool swaps opened (open or ended) with their HTLC, per asset in the
  order opened (index ``xchg_swap_log``), paged like every list route (``exchange_api``): what a
  pool operator follows, polling from its last ``next`` cursor

Every route does bounded work per request (issue 11, item 8): a scan of every HTLC on the
event loop let an attacker's 20,000 cheap HTLCs block the node ~9 s per GET.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..chain.state import StateView
from ..errors import NotFoundError, ValidationError
from ..exchange import records, views
from .api import guarded, parse_hex
from .exchange_api import asset_param, page_json, page_params

ViewOf = Callable[[], StateView]


def htlc_routes(view_of: ViewOf, tables: Collection[str]) -> list[Route]:
    """The HTLC read routes (see the module docstring)."""

    def view() -> StateView:
        if records.HTLCS not in tables:
            raise NotFoundError("the exchange is not enabled on this chain (tx_plugins)")
        return view_of()

    @guarded
    async def by_hashlock(request: Request) -> JSONResponse:
        text = request.query_params.get("hashlock")
        if not text:
            raise ValidationError("query parameter hashlock (64 hex digits) is required")
        hashlock = parse_hex(text, "hashlock", 32)
        state = view()
        rows = views.htlcs_by_hashlock(state, hashlock)
        reserved = views.hashlock_reserved_by(state, hashlock)
        return JSONResponse({"hashlock": hashlock.hex(), "htlcs": rows, "reserved_by": reserved})

    @guarded
    async def one(request: Request) -> JSONResponse:
        htlc_id = parse_hex(request.path_params["htlc_id"], "htlc id", 32)
        found = views.htlc_record(view(), htlc_id)
        if found is None:
            raise NotFoundError(f"no ETM HTLC {htlc_id.hex()}")
        return JSONResponse(found)

    @guarded
    async def history(request: Request) -> JSONResponse:
        asset = request.query_params.get("asset")
        wanted = asset_param(asset) if asset else None
        after, limit = page_params(request)
        return page_json("swaps", views.swap_history_page(view(), wanted, after, limit))

    return [
        Route("/api/exchange/htlcs", by_hashlock),
        Route("/api/exchange/htlcs/{htlc_id}", one),
        Route("/api/exchange/swap-history", history),
    ]
