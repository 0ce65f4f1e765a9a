"""Issue 11, item 8: the exchange's list routes page over index tables, through the ASGI app.

A pool with 130 swaps opened by the real transaction types (some ended), three obligations and
two positions; every list route is walked page by page with the ``next`` cursor and must give
exactly what the records say, in order, never more than ``limit`` rows a page. HTLCs by hashlock
and the swap history read the hashlock registry and the swap log: the tables the tx types keep.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from asgi_call import asgi_request
from starlette.applications import Starlette

from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import records as rc
from etm_bridge.exchange import txtypes as tt
from etm_bridge.hashlock import hashlock_of
from etm_bridge.node.exchange_api import exchange_routes
from etm_bridge.node.htlc_api import htlc_routes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "exchange"))
from exchange_harness import Ledger
from test_txtypes import bind, deposit, seeded_ledger, swap_out

SWAPS = 130


@pytest.fixture(scope="module")
def world() -> tuple[Ledger, list[bytes], Starlette]:
    led = seeded_ledger()
    bind(led, "bob")
    deposit(led, "bob", b"dep-bob", 10**7, 10**13)
    ids = []
    for i in range(SWAPS):
        secret = i.to_bytes(32, "big")
        ids.append(swap_out(led, 10**8, hashlock=hashlock_of(secret)))
        if i % 3 == 0:  # a third of them end at once: history keeps them, the open set not
            led.send("operator", tt.HTLC_CLAIM, pl.HtlcClaim(ids[-1], secret))
    for shares in (10**7, 2 * 10**7, 3 * 10**7):
        led.send("operator", tt.LP_WITHDRAW, pl.LpWithdraw("btc", shares))
    tables = led.registry.table_names
    app = Starlette(routes=exchange_routes(lambda: led.state, tables) + htlc_routes(
        lambda: led.state, tables))  # fmt: skip
    return led, ids, app


def _walk(app: Starlette, path: str, name: str, limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after = ""
    sep = "&" if "?" in path else "?"
    while True:
        status, body = asgi_request(app, "GET", f"{path}{sep}limit={limit}&after={after}")
        assert status == 200, body
        assert len(body[name]) <= limit
        rows += body[name]
        if len(body[name]) < limit:
            return rows
        after = body["next"]


def test_swap_history_pages_in_the_order_opened(world) -> None:
    _, ids, app = world
    for path in ("/api/exchange/swap-history?asset=btc", "/api/exchange/swap-history"):
        for limit in (100, 7):
            rows = _walk(app, path, "swaps", limit)
            assert [r["htlc_id"] for r in rows] == [i.hex() for i in ids], (path, limit)
    status, body = asgi_request(app, "GET", "/api/exchange/swap-history?asset=eth")
    assert (status, body["swaps"], body["next"]) == (200, [], None)


def test_open_swaps_page_over_the_open_set(world) -> None:
    led, ids, app = world
    locked = sorted(i.hex() for n, i in enumerate(ids) if n % 3)
    rows = _walk(app, "/api/exchange/swaps?asset=btc", "swaps", 40)
    assert sorted(r["htlc_id"] for r in rows) == locked
    assert all(led.htlc(bytes.fromhex(r["htlc_id"])).status.value == "locked" for r in rows)
    one = ids[1]
    status, body = asgi_request(
        app, "GET", f"/api/exchange/swaps?hashlock={led.htlc(one).hashlock.hex()}"
    )
    assert status == 200 and [r["htlc_id"] for r in body["swaps"]] == [one.hex()]
    ended = led.htlc(ids[0]).hashlock.hex()
    assert asgi_request(app, "GET", f"/api/exchange/swaps?hashlock={ended}")[1]["swaps"] == []


def test_an_htlc_is_found_by_its_hashlock_in_one_lookup(world) -> None:
    led, ids, app = world
    h = led.htlc(ids[77]).hashlock
    status, body = asgi_request(app, "GET", f"/api/exchange/htlcs?hashlock={h.hex()}")
    assert status == 200 and [x["htlc_id"] for x in body["htlcs"]] == [ids[77].hex()]
    assert led.state.get(rc.HASHLOCKS, h) is not None


def test_obligations_and_positions_page(world) -> None:
    led, _, app = world
    operator = led.address("operator")
    mine = _walk(app, f"/api/exchange/obligations?investor={operator}", "obligations", 2)
    assert [o["obligation_id"] for o in mine] == [0, 1, 2]
    assert _walk(app, "/api/exchange/obligations", "obligations", 1) == mine
    bob = led.address("bob")
    assert _walk(app, f"/api/exchange/obligations?investor={bob}", "obligations", 5) == []
    [pos] = _walk(app, f"/api/exchange/positions/{bob}", "positions", 1)
    assert pos["asset"] == "btc" and pos["shares"] == led.shares("bob")
    [pool] = _walk(app, "/api/exchange/pools", "pools", 1)
    assert pool["asset"] == "btc"
