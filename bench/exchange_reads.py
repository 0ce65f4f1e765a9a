"""Benchmark: the exchange's read routes stay flat from 1,000 to 100,000 HTLCs (issue 11, item 8).

Before issue 11, ``GET /api/exchange/htlcs?hashlock=`` and ``/swap-history`` decoded every HTLC
on the chain on the node's only thread: 20,000 HTLCs (~2.6 ETM of fees) made each GET block the
node ~9 s. Now they read index tables the transaction types keep (``xchg_hashlocks``,
``xchg_swap_log``, ``xchg_open_swaps``) one bounded page at a time.

A node chain (``node init`` plug-ins) on a SQLite file (WAL) gets its exchange state built
**directly through the transaction types** (pool, binding, deposit, then HTLCs: half plain
``xchg_htlc_lock``, half pool swaps ``xchg_swap_out``, a third of those claimed), committed
every few thousand transactions, never by forging blocks. The node's real app
(``node.server.build_app``) is served by uvicorn on a loopback port, and each route is timed
over HTTP and through the same app in-process (median of many GETs each) at 1,000, 10,000 and
100,000 HTLCs. The ratios are of the in-process times, in CPU seconds of the calling thread
(the route's own work: the loopback round trip adds a constant that would flatter them, and
other processes on the cores would blur wall time; ``http_ratios``, wall clock, are printed
too). The
baseline is the first size, measured in the same run; the pre-issue-11 read (decode every HTLC
to find one hashlock) is timed beside it at each size to show what the indexes avoid. Ends
with one JSON line: ``{"sizes": [...], "routes_ms": {...}, "ratios": {...}, "legacy_scan_ms":
[...], ...}``; ``ratios`` (largest size / baseline) near 1 means flat.

    python bench/exchange_reads.py            # 1,000 / 10,000 / 100,000 HTLCs (~2-4 min)
    python bench/exchange_reads.py --quick    # 1,000 / 5,000 / 20,000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests
import uvicorn

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import TxContext
from etm_bridge.chain.state import State
from etm_bridge.chain.tx import Tx
from etm_bridge.chains.bitcoin.binding import btc_pubkey_of, sign_btc
from etm_bridge.exchange import binding as bd
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans
from etm_bridge.exchange import records as rc
from etm_bridge.exchange import swap_rules as sr
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.htlc import Htlc
from etm_bridge.exchange.obligations import VerifiedDeposit
from etm_bridge.hashlock import sha256
from etm_bridge.node import spv_plugin
from etm_bridge.node.config import NodeConfig
from etm_bridge.node.server import bind_socket, build_app
from etm_bridge.node.service import NodeService
from etm_bridge.node.setup import NODE_TX_PLUGINS
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.store import ChainStore

COMMIT_EVERY = 5_000
POOL_BTC, POOL_ETM = 10**12, 10**14 // 2  # a deep pool: 100,000 small swaps never drain it


class Builder:
    """Exchange state built through the tx types on the chain's store (no blocks)."""

    def __init__(self, chain: Chain) -> None:
        self.chain, self.store = chain, chain.store
        self.registry = chain.registry
        self.ctx = TxContext(chain.params, 1, 0, bytes(32))
        self.user, self.operator = dev_key("user-0"), dev_key("user-1")
        self.nonce = 0
        self.htlcs = 0
        self.hashlocks: list[bytes] = []
        self.state = self._fresh()

    def _fresh(self) -> State:
        return State(self.store, self.registry.table_names)

    def commit(self) -> None:
        changes = self.state.changes()
        with self.store.atomic():  # a bench writes state directly; a node does it per block
            self.store._write_changes(changes)
        self.state = self._fresh()

    def apply(self, key: SigningKey, type_id: int, payload: Any) -> Tx:
        tx = Tx.create(key, network=self.chain.params.network_id, type_id=type_id,
                       nonce=self.nonce, fee=0, payload=pl.encode_payload(payload))  # fmt: skip
        self.nonce += 1
        tx_type = self.registry.type_of(type_id)
        decoded = tx_type.decode(tx.payload)
        tx_type.check(self.state, tx, decoded, self.ctx)
        tx_type.apply(self.state, tx, decoded, self.ctx)
        return tx

    def setup_pool(self) -> None:
        op_btc = btc_pubkey_of(b"\x01" * 32)
        self.apply(self.operator, tt.POOL_CREATE, pl.PoolCreate("btc", op_btc, 3_000, 100, 1))
        for key, secret in ((self.operator, b"\x01" * 32), (self.user, b"\x02" * 32)):
            address = encode_address(address_hash(key.public_key))
            network = plans.network_name(self.ctx)
            msg = bd.binding_message(network, address, "btc", 1, 100)
            bind = pl.Bind("btc", btc_pubkey_of(secret), 1, 100, sign_btc(msg, secret), False)
            self.apply(key, tt.BIND, bind)
        operator20 = address_hash(self.operator.public_key)
        deposit = VerifiedDeposit(b"bench-dep", "btc", POOL_BTC, encode_address(operator20))
        payload = pl.LpDeposit("btc", POOL_ETM, 1, b"")
        tx = Tx.create(self.operator, network=self.chain.params.network_id,
                       type_id=tt.LP_DEPOSIT, nonce=0, fee=0,
                       payload=pl.encode_payload(payload))  # fmt: skip
        plans.plan_lp_deposit(self.state, tx, payload, self.ctx, deposit).commit(self.state)
        self.commit()

    def grow_to(self, n_htlcs: int) -> None:
        """Add HTLCs until there are ``n_htlcs``: alternately a plain lock and a pool swap
        out, one swap out in three claimed at once."""
        recipient = encode_address(address_hash(self.operator.public_key))
        expiry = self.ctx.height + sr.LONG_LEG_S // self.chain.params.block_time_s
        while self.htlcs < n_htlcs:
            secret = sha256(b"bench" + self.htlcs.to_bytes(8, "big"))
            h = sha256(secret)
            if self.htlcs % 2:
                tx = self.apply(self.user, tt.SWAP_OUT, pl.SwapOut("btc", 10_000, h, expiry, 0))
                if self.htlcs % 3 == 0:
                    self.apply(self.operator, tt.HTLC_CLAIM, pl.HtlcClaim(tx.id, secret))
            else:
                self.apply(self.user, tt.HTLC_LOCK, pl.HtlcLockPayload(recipient, 1_000, h, expiry))
            self.hashlocks.append(h)
            self.htlcs += 1
            if self.htlcs % COMMIT_EVERY == 0:
                self.commit()
        self.commit()


@contextmanager
def served(chain: Chain, data_dir: Path) -> Iterator[tuple[str, Any]]:
    """The node's real app for ``chain`` served by uvicorn on a loopback port: (url, app)."""
    config = NodeConfig(data_dir, "bench-admin-token-0123", forging=False, log_level="warning")
    service = NodeService(chain, {}, forging=False)
    sock = bind_socket("127.0.0.1", 0)
    app = build_app(config, service)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           lifespan="on"))  # fmt: skip
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def median_ms(run: Callable[[], object], repeat: int, clock: Callable[[], float]) -> float:
    times = []
    for _ in range(repeat):
        t0 = clock()
        run()
        times.append((clock() - t0) * 1000)
    return statistics.median(times)


def legacy_scan_ms(state: State, hashlock: bytes) -> float:
    """The pre-issue-11 ``htlcs_by_hashlock``: decode every HTLC, keep those with the hashlock."""
    t0 = time.perf_counter()
    found = [
        h
        for h in (rc.decode(Htlc, json.loads(raw)) for _, raw in state.scan(rc.HTLCS))
        if h.hashlock == hashlock
    ]
    assert len(found) == 1
    return (time.perf_counter() - t0) * 1000


def route_targets(builder: Builder) -> dict[str, Callable[[], str]]:
    """The timed GETs (path and query); a new random hashlock each time."""
    pick = random.Random(7)
    deep = rc.asset_key("btc", (builder.htlcs // 4).to_bytes(8, "big")).hex()

    def by_hashlock() -> str:
        return "/api/exchange/htlcs?hashlock=" + pick.choice(builder.hashlocks).hex()

    return {
        "htlc_by_hashlock": by_hashlock,
        "swap_history_first_page": lambda: "/api/exchange/swap-history?asset=btc",
        "swap_history_deep_page": lambda: f"/api/exchange/swap-history?asset=btc&after={deep}",
        "open_swaps_first_page": lambda: "/api/exchange/swaps?asset=btc",
        "status": lambda: "/api/status",
    }


def asgi_get(app: Any, target: str) -> int:
    """One GET through the app's ASGI interface in this thread (no socket); its status."""
    path, _, query = target.partition("?")
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "path": path,
             "raw_path": path.encode(), "query_string": query.encode(), "headers": [],
             "scheme": "http", "server": ("127.0.0.1", 1), "client": ("127.0.0.1", 2),
             "root_path": ""}  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"])


def measure(url: str, app: Any, builder: Builder, repeat: int) -> dict[str, dict[str, float]]:
    """Median ms per route over HTTP to the uvicorn server ("http", wall clock) and through the
    same app in-process ("asgi": CPU time of this thread, the route's own work)."""
    session = requests.Session()
    out: dict[str, dict[str, float]] = {"http": {}, "asgi": {}}
    for name, target in route_targets(builder).items():

        def over_http(t: Callable[[], str] = target) -> None:
            session.get(url + t(), timeout=120).raise_for_status()

        def in_process(t: Callable[[], str] = target) -> None:
            assert asgi_get(app, t()) == 200

        over_http()  # warm up the connection and the caches
        out["http"][name] = round(median_ms(over_http, repeat, time.perf_counter), 3)
        out["asgi"][name] = round(median_ms(in_process, repeat, time.thread_time), 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,000 / 5,000 / 20,000 HTLCs")
    ap.add_argument("--repeat", type=int, default=60, help="GETs per route, way and size")
    args = ap.parse_args()
    sizes = [1_000, 5_000, 20_000] if args.quick else [1_000, 10_000, 100_000]
    params = replace(ChainParams(), block_time_s=1, delegates_per_round=3,
                     tx_plugins=NODE_TX_PLUGINS)  # fmt: skip
    genesis, _ = dev_genesis(params, 3, funded=2)
    # a pool on the development (regtest) relay needs the genesis flag (issue 11, item 13)
    dev = SpvSection(allow_dev_pools=True).to_json()
    genesis = genesis.with_plugin_section(spv_plugin.SECTION, dev)
    rows: dict[str, dict[str, list[float]]] = {"asgi": {}, "http": {}}
    legacy: list[float] = []
    build_s: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = ChainStore.open(Path(tmp) / "chain.db")
        chain = Chain(store, genesis)
        builder = Builder(chain)
        builder.setup_pool()
        with served(chain, Path(tmp)) as (url, app):
            for size in sizes:
                t0 = time.perf_counter()
                builder.grow_to(size)
                build_s.append(round(time.perf_counter() - t0, 1))
                got = measure(url, app, builder, args.repeat)
                for way, per_route in got.items():
                    for name, ms in per_route.items():
                        rows[way].setdefault(name, []).append(ms)
                view = State(store, chain.registry.table_names)
                legacy.append(round(legacy_scan_ms(view, builder.hashlocks[size // 2]), 1))
                print(f"{size:>7} HTLCs (built in {build_s[-1]} s), in-process: "
                      + ", ".join(f"{k} {v:.2f} ms" for k, v in got["asgi"].items())
                      + f"; legacy full scan {legacy[-1]:.1f} ms; over HTTP: "
                      + ", ".join(f"{k} {v:.1f} ms" for k, v in got["http"].items()),
                      flush=True)  # fmt: skip
        store.close()
    ratios = {name: round(ms[-1] / ms[0], 2) for name, ms in rows["asgi"].items()}
    print(
        json.dumps(
            {
                "sizes": sizes,
                "routes_ms": rows["asgi"],
                "routes_http_ms": rows["http"],
                "ratios": ratios,
                "http_ratios": {n: round(ms[-1] / ms[0], 2) for n, ms in rows["http"].items()},
                "max_route_ratio": max(v for k, v in ratios.items() if k != "status"),
                "legacy_scan_ms": legacy,
                "legacy_scan_ratio": round(legacy[-1] / legacy[0], 1),
                "build_s": build_s,
                "baseline": f"{sizes[0]} HTLCs, same run",
            },
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    main()
