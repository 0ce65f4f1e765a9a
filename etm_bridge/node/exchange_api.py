"""Read routes of the node API for the value exchange and the SPV relays.

``exchange_routes(view_of, tables)`` gives Starlette routes over the chain's committed state
(``view_of()`` returns a fresh :class:`~etm_bridge.chain.state.StateView`; ``tables`` are the
state tables the chain's plug-ins declared). Amounts are integers in base units.

Exchange (404 ``not_found`` if the chain does not load ``etm_bridge.exchange.txtypes``).
List routes are paged (issue 11, item 8): ``?limit=`` (1..100, default 100) and ``?after=``
(the ``next`` cursor of the previous page, hex); each answers ``"next"``, the cursor of its
last row (null for an empty page); fewer rows than ``limit`` means the end. Every list is read
through an index table in key order (``views.*_page``), so one request does bounded work
whatever the number of pools, HTLCs, swaps or obligations on the chain.

* ``GET /api/exchange/pools`` -> ``{"pools": [...], "next"}``; ``/api/exchange/pools/{asset}``
  one pool. On a custody chain each pool also has the custody port's ``custody`` block
  (``pool_view``: committee, vault, breaker, inflows) and, for the client to derive the vault
  itself, the committee's keys on the vault's chain (``custody.committee.keys``, hex, in the
  chain's key order); an operator pool's JSON has no ``custody`` key
* ``GET /api/exchange/positions/{address}`` -> ``{"address", "positions": [...], "next"}``
* ``GET /api/exchange/obligations[?investor=etm1...]`` -> ``{"obligations": [...], "next"}``
* ``GET /api/exchange/swaps[?asset=&hashlock=<64 hex>]`` -> ``{"swaps": [...], "next"}`` (open
  ones; with ``hashlock`` at most one, no paging)
* ``GET /api/exchange/bindings/{address}`` -> ``{"address", "bindings": {<ticker>: binding or
  null, ...}, "nonces": {<ticker>: last nonce or null, ...}}`` for every installed chain (a new
  proof needs a higher nonce; the last one outlives an unbind)
* ``GET /api/exchange/quote?asset=&direction=asset_to_etm|etm_to_asset&amount=<int>`` -> the
  quote plus ``depth``: ``{"chain", "confirmations", "block_time_s", "expected_wait_s",
  "value_scaled_confirmations"}``. A swap in's lock proof needs ``max(relay floor, pool value,
  value-scaled depth)`` confirmations of the asset chain for this amount (``docs/spv.md``); a
  swap out waits for ETM finality of the user's lock, then the user waits for as many
  confirmations of the operator's lock, sized on the asset output, before revealing the secret
  (review a11b: an operator with hash power could otherwise undo its lock after one).
* ``GET /api/exchange/intents/{address}[?hashlock=<64 hex>]`` -> ``{"address", "intents":
  [...], "next"}``: the address's bonded swap intents (issue 15): terms, the reserved quote
  (``amount_out``, ``fee``), ``bond``, ``height`` and ``expiry_height`` (one past it, the
  intent is forfeited at the pool's next intent, cancel or swap in); with ``hashlock`` at most
  one, no paging. A swap-in quote also names ``intent_bond`` and ``intent_lifetime_s``.
* ``GET /api/exchange/pools/{asset}/deposit-quote?amount=<int>`` -> ``{"asset",
  "asset_amount", "etm_needed", "shares"}``: the least ``etm_max`` an ``amount`` deposit needs
  now (:func:`~etm_bridge.exchange.views.lp_deposit_quote`); ``pool_empty`` for the first one

Query amounts may be up to 2**128 - 1 (external assets are u128); the pool rules reject an ETM
amount past its u64. Responses carry every amount as a JSON number (an exact integer however
large: Python's ``json`` and the CLI read it back exactly).

SPV (404 if the chain has no such relay yet): ``GET /api/spv`` (every relay, under its chain's
name), ``/api/spv/{ticker}`` (one relay: tip, heights, policy and the chain's own fields) and
``/api/spv/{ticker}/best/{height}`` (the relay's best-chain hash there, in the chain's display
form: what a relayer compares with its node to find the fork point), one route per installed
chain with a relay.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..chain.address import decode_address
from ..chain.state import StateView
from ..chains.profile import ChainProfile
from ..chains.registry import chain_registry
from ..errors import ExchangeError, NotFoundError, TxRejectedError, ValidationError
from ..exchange import records, views
from ..exchange.plans import get_binding, get_pool
from ..exchange.pool import PoolDirection
from ..exchange.reasons import Reason
from ..spv.relay_status import relay_status
from ..spv.relay_types import CONFIG
from .api import guarded, parse_hex

ViewOf = Callable[[], StateView]
MAX_QUERY_AMOUNT = 2**128 - 1


class PoolCustody:
    """The ``custody`` block of the pool routes: the port's ``pool_view`` plus the committee's
    keys on the vault's chain, from which a client derives the vault and checks the ``vault``
    it is told to pay (docs/custody.md 2.10), and the pool's ``solvency`` record (null: none
    written; ``insolvent`` pauses inflows, reason ``pool_insolvent``, as the port refuses
    them)."""

    def __init__(self, port: views.CustodyBlock) -> None:
        self.port = port

    def pool_view(self, view: StateView, asset: str) -> dict[str, Any] | None:
        block = self.port.pool_view(view, asset)
        if block is None:
            return None
        from ..custody.records import SOLVENCY, SolvencyStatus
        from ..custody.vaults import committee_of

        solvency = view.get_json(SOLVENCY, asset.encode())
        block = {**block, "solvency": solvency}
        insolvent = solvency is not None and solvency.get("status") == SolvencyStatus.INSOLVENT
        if insolvent and block.get("committee"):  # the port refuses inflows so, before the breaker
            block.update(inflows="paused", reason=Reason.POOL_INSOLVENT.value)
        vault = block.get("vault")
        if not block.get("committee") or not vault:
            return block
        committee = committee_of(view, int(block["committee"]["epoch"]))
        keys = [k.hex() for k in committee.keys.get(str(vault["ticker"]), ())]
        return {**block, "committee": {**block["committee"], "keys": keys}}


def _depth(state: StateView, asset: str, direction: PoolDirection, amount: int) -> dict[str, Any]:
    """The confirmations a swap moving ``amount`` of the asset waits for on the asset's chain,
    and how long: a swap in's lock before it is proven, a swap out's counter lock (the
    operator's) before the user reveals the secret by claiming it."""
    profile = chain_registry().for_asset(asset)
    relay = profile.relay
    assert relay is not None  # a pool's asset has a relay: its exchange needs one
    pool = get_pool(state, asset)
    try:
        policy = relay.policy_of(state)
    except TxRejectedError:  # the relay starts later (a development chain's first batch)
        policy = relay.default_policy(relay.dev_network)
    if direction is PoolDirection.ASSET_TO_ETM:  # the user's lock, before it is proven
        need = policy.required_depth(amount, pool.params.min_confirmations)
    else:  # the operator's lock, which the user claims (revealing the secret) only this deep,
        need = policy.required_depth(amount)  # or an operator with hash power undoes it after
    scaled = policy.value_depth(amount)
    block_s = profile.block_time_s
    return {
        "chain": profile.ticker,
        "confirmations": need,
        "block_time_s": block_s,
        "expected_wait_s": need * block_s,
        "value_scaled_confirmations": scaled,
    }


def asset_param(text: str) -> str:
    asset = text.strip().lower()
    if not asset or len(asset) > 64:
        known = ", ".join(chain_registry().native_assets())
        raise ValidationError(f"asset {text[:80]!r} must be 1..64 characters ({known}, ...)")
    return asset


def _amount(text: str | None) -> int:
    ok = text is not None and text.isascii() and text.isdigit() and len(text) <= 39
    if text is None or not ok or not 0 < int(text) <= MAX_QUERY_AMOUNT:
        raise ValidationError("query parameter amount must be an integer in base units, > 0")
    return int(text)


def _direction(text: str | None) -> PoolDirection:
    try:
        return PoolDirection(text or "")
    except ValueError:
        names = ", ".join(d.value for d in PoolDirection)
        raise ValidationError(f"query parameter direction must be one of {names}") from None


#: Largest ``limit`` of a list route (the default too).
MAX_LIMIT = views.MAX_PAGE
#: Longest ``after`` cursor accepted (an index key: asset || 0x00 || id, in hex).
MAX_CURSOR_BYTES = 160


def page_params(request: Request) -> tuple[bytes | None, int]:
    """``after`` (a hex cursor, or None) and ``limit`` (1..:data:`MAX_LIMIT`) of a list route."""
    q = request.query_params
    text = q.get("limit")
    if text is None:
        limit = MAX_LIMIT
    elif text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= MAX_LIMIT:
        limit = int(text)
    else:
        raise ValidationError(f"query parameter limit must be an integer in 1..{MAX_LIMIT}")
    after = q.get("after")
    if after is None or after == "":
        return None, limit
    if len(after) > 2 * MAX_CURSOR_BYTES:
        raise ValidationError("query parameter after is not a cursor this node gave out")
    return parse_hex(after, "cursor (after)"), limit


def page_json(name: str, page: views.Page, **extra: Any) -> JSONResponse:
    return JSONResponse({**extra, name: page.rows, "next": page.next})


def _found(call: Callable[[], Any]) -> Any:
    """Run a view; an unknown pool or obligation is a 404, not a 400."""
    try:
        return call()
    except ExchangeError as exc:
        if exc.reason in (Reason.UNKNOWN_POOL, Reason.UNKNOWN_OBLIGATION):
            raise NotFoundError(str(exc)) from None
        raise


def _exchange(view_of: ViewOf, tables: Collection[str], custody: PoolCustody) -> list[Route]:
    def view() -> StateView:
        if records.POOLS not in tables:
            raise NotFoundError("the exchange is not enabled on this chain (tx_plugins)")
        return view_of()

    @guarded
    async def pools(request: Request) -> JSONResponse:
        after, limit = page_params(request)
        return page_json("pools", views.pools_page(view(), after, limit, custody))

    @guarded
    async def pool(request: Request) -> JSONResponse:
        asset = asset_param(request.path_params["asset"])
        return JSONResponse(_found(lambda: views.show_pool(view(), asset, custody)))

    @guarded
    async def positions(request: Request) -> JSONResponse:
        address = request.path_params["address"]
        after, limit = page_params(request)
        page = views.positions_page(view(), decode_address(address), after, limit)
        return page_json("positions", page, address=address)

    @guarded
    async def obligations(request: Request) -> JSONResponse:
        investor = request.query_params.get("investor")
        who = decode_address(investor) if investor else None
        after, limit = page_params(request)
        return page_json("obligations", views.obligations_page(view(), who, after, limit))

    @guarded
    async def swaps(request: Request) -> JSONResponse:
        text = request.query_params.get("asset")
        asset = asset_param(text) if text else None
        hashlock = request.query_params.get("hashlock")
        if hashlock:
            wanted = parse_hex(hashlock, "hashlock", 32)
            rows = views.open_swap_by_hashlock(view(), wanted, asset)
            return JSONResponse({"swaps": rows, "next": None})
        after, limit = page_params(request)
        return page_json("swaps", views.open_swaps_page(view(), asset, after, limit))

    @guarded
    async def bindings(request: Request) -> JSONResponse:
        address = request.path_params["address"]
        address20, state = decode_address(address), view()
        found = {c: get_binding(state, address20, c) for c in chain_registry().tickers()}
        out = {c: None if b is None else records.encode(b) for c, b in found.items()}
        keys = {c: address20 + c.encode() for c in found}
        nonces = {c: state.get_u64(records.NONCES, k) if state.get(records.NONCES, k) else None
                  for c, k in keys.items()}  # fmt: skip
        return JSONResponse({"address": address, "bindings": out, "nonces": nonces})

    @guarded
    async def swap_intents(request: Request) -> JSONResponse:
        address = request.path_params["address"]
        owner20, state = decode_address(address), view()
        hashlock = request.query_params.get("hashlock")
        if hashlock:
            one = views.intent_of(state, owner20, parse_hex(hashlock, "hashlock", 32))
            return JSONResponse({"address": address, "intents": [one] if one else [], "next": None})
        after, limit = page_params(request)
        page = views.intents_page(state, owner20, after, limit)
        return page_json("intents", page, address=address)

    @guarded
    async def quote(request: Request) -> JSONResponse:
        q = request.query_params
        asset = asset_param(q.get("asset", ""))
        direction, amount = _direction(q.get("direction")), _amount(q.get("amount"))

        def answer() -> dict[str, Any]:
            state = view()
            out = views.swap_quote(state, asset, direction, amount)
            moved = amount if direction is PoolDirection.ASSET_TO_ETM else out["amount_out"]
            return {**out, "depth": _depth(state, asset, direction, moved)}

        return JSONResponse(_found(answer))

    @guarded
    async def deposit_quote(request: Request) -> JSONResponse:
        asset = asset_param(request.path_params["asset"])
        amount = _amount(request.query_params.get("amount"))
        return JSONResponse(_found(lambda: views.lp_deposit_quote(view(), asset, amount)))

    return [
        Route("/api/exchange/pools", pools),
        Route("/api/exchange/pools/{asset}", pool),
        Route("/api/exchange/pools/{asset}/deposit-quote", deposit_quote),
        Route("/api/exchange/positions/{address}", positions),
        Route("/api/exchange/obligations", obligations),
        Route("/api/exchange/swaps", swaps),
        Route("/api/exchange/bindings/{address}", bindings),
        Route("/api/exchange/intents/{address}", swap_intents),
        Route("/api/exchange/quote", quote),
    ]


def _spv(view_of: ViewOf, tables: Collection[str]) -> list[Route]:
    def status() -> dict[str, Any]:
        if CONFIG not in tables:
            raise NotFoundError("SPV relays are not enabled on this chain (tx_plugins)")
        return relay_status(view_of())

    def one(profile: ChainProfile) -> dict[str, Any]:
        relay = status().get(profile.name)
        if relay is None:
            raise NotFoundError(f"this chain's {profile.name} relay is not initialised yet")
        return dict(relay)

    @guarded
    async def every(request: Request) -> JSONResponse:
        return JSONResponse(status())

    def height_of(request: Request) -> int:
        text = request.path_params["height"]
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            raise ValidationError("height must be a decimal integer")
        return int(text)

    def routes_of(profile: ChainProfile) -> list[Route]:
        relay = profile.relay
        assert relay is not None

        @guarded
        async def show(request: Request) -> JSONResponse:
            return JSONResponse(one(profile))

        @guarded
        async def best(request: Request) -> JSONResponse:
            height = height_of(request)
            one(profile)
            found = relay.best_hash(view_of(), height)
            if found is None:
                raise NotFoundError(
                    f"the {profile.name} relay's best chain has no block at {height}"
                )
            return JSONResponse({"height": height, "hash": found})

        path = f"/api/spv/{profile.ticker}"
        return [Route(path, show), Route(path + "/best/{height}", best)]

    routes = [Route("/api/spv", every)]
    for profile in chain_registry().relayed():
        routes += routes_of(profile)
    return routes


def exchange_routes(
    view_of: ViewOf, tables: Collection[str], custody: views.CustodyBlock | None = None
) -> list[Route]:
    """The exchange and SPV read routes (see the module docstring); ``custody``: the chain's
    custody port, whose ``pool_view`` the pool routes serve (default: the one the custody
    plug-in provides, over the installed chain profiles, when the chain declares its tables;
    else none)."""
    if custody is None:
        custody = _custody_port(tables)
    return _exchange(view_of, tables, PoolCustody(custody)) + _spv(view_of, tables)


def _custody_port(tables: Collection[str]) -> views.CustodyBlock:
    from ..custody.records import PARAMS

    if PARAMS not in tables:
        return views.NO_CUSTODY
    from ..custody.port import ChainCustody

    return ChainCustody()  # what ``custody.txtypes.register`` provides to the exchange
