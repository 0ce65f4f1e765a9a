"""Running a node: open the store and chain, serve the API with uvicorn, forge on every slot.

``run_node(config)`` blocks until SIGINT/SIGTERM. The forger loop is an asyncio task on the same
event loop as the HTTP handlers, so the chain (not thread-safe) is only ever touched from one
thread. Each block is applied in one SQLite transaction by the store (WAL mode), so a
``kill -9`` at any moment loses no committed block and leaves no half-applied one; on restart
the chain resumes from its last committed tip.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from ..chain.genesis import GenesisConfig
from ..chain.ledger import Chain
from ..chain.params import etm_time
from ..custody.records import MANDATES
from ..errors import ConfigError, EtmBridgeError, StoreError
from ..recursion import restore_recursion_limit
from ..store import ChainStore
from .api import create_app
from .censor import apply_censor
from .config import NodeConfig
from .custody_api import custody_routes
from .custody_pool import SharePool
from .exchange_api import exchange_routes
from .htlc_api import htlc_routes
from .p2p.endpoint import SyncGate, network_routes
from .p2p.messages import MAX_FRAME_BYTES
from .p2p.network import P2PNetwork
from .service import NodeService, load_forging_keys
from .slashing_protection import SlashingProtection

log = logging.getLogger("etm_bridge.node")

#: How often the forger loop looks at the clock (slots are >= 1 s).
FORGER_POLL_S = 0.1


def load_genesis(config: NodeConfig) -> GenesisConfig:
    try:
        return GenesisConfig.from_json(json.loads(config.genesis_path.read_text()))
    except FileNotFoundError:
        raise ConfigError(f"{config.genesis_path} not found: run `etm-bridge node init`") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{config.genesis_path} is not valid JSON: {exc}") from None


def open_service(config: NodeConfig) -> tuple[NodeService, ChainStore]:
    """The node's chain on its data directory (created from genesis on first start), forging
    behind the data dir's slashing protection (``service.guard``; close it with the store)."""
    store = ChainStore.open(config.db_path)
    try:
        chain = Chain(store, load_genesis(config))
    except sqlite3.DatabaseError as exc:
        store.close()
        raise StoreError(
            f"{config.db_path} is corrupt ({exc}); restore it or delete it to resync from genesis"
        ) from None
    except BaseException:
        store.close()
        raise
    keys = load_forging_keys(config.forging_keys_path)
    try:
        guard = SlashingProtection(
            config.slashing_protection_path, chain.block_by_height(0).id, chain.params.network_id
        )
    except BaseException:
        store.close()
        raise
    try:
        apply_censor(config.unsafe_censor, chain)
    except BaseException:
        guard.close()
        store.close()
        raise
    service = NodeService(
        chain, keys, forging=config.forging, keys_path=config.forging_keys_path, guard=guard
    )
    return service, store


async def forger_loop(
    service: NodeService, clock: Callable[[], float] = time.time, poll_s: float = FORGER_POLL_S
) -> None:
    """Forever: forge if the current slot is ours. Errors are logged and kept for /status.

    An unexpected error (say ``sqlite3.OperationalError`` on a full disk) is logged with its
    traceback and the loop goes on: were the task to end, the node would keep answering its
    API while silently never forging again.
    """
    while True:
        try:
            block = service.forge(etm_time(clock()))
        except EtmBridgeError as exc:
            service.last_forge_error = str(exc)
            log.warning("forging failed: %s", exc)
        except Exception as exc:
            service.last_forge_error = f"unexpected {type(exc).__name__}: {exc}"
            log.exception("forging failed unexpectedly")
        else:
            if block is not None:
                service.last_forge_error = None
                log.info("forged block %d (%d txs)", block.height, len(block.transactions))
        await asyncio.sleep(poll_s)


def attach_network(config: NodeConfig, service: NodeService) -> P2PNetwork:
    """The node's peer layer, hooked to the service: gossip what the API admits and what the
    forger forges (and custody shares into the service's share pool), hold the forger while
    syncing, add the sync state to ``/api/status``."""
    net = P2PNetwork(service.chain, config.p2p_settings(), shares=share_pool(service))
    service.tx_listeners.append(net.tx_admitted)
    service.block_listeners.append(net.block_forged)
    service.paused = lambda: net.syncer.syncing
    service.network_status = net.status
    return net


def share_pool(service: NodeService) -> SharePool:
    """The service's custody share pool (one per node: the API and the peers fill it)."""
    pool = getattr(service, "custody_shares", None)
    if pool is None:
        tables = service.chain.registry.table_names
        pool = SharePool(
            service.chain.store_view, MANDATES in tables, service.chain.finalized_height
        )
        service.custody_shares = pool  # type: ignore[attr-defined]
    return pool


def build_app(config: NodeConfig, service: NodeService, net: P2PNetwork | None = None) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(forger_loop(service))
        if net is not None:
            net.start()
        try:
            yield
        finally:
            task.cancel()
            if net is not None:
                await net.stop()

    view_of, tables = service.chain.store_view, service.chain.registry.table_names
    relay = net.custody.share_admitted if net is not None else None
    routes: list[BaseRoute] = [
        *exchange_routes(view_of, tables),
        *htlc_routes(view_of, tables),
        *custody_routes(view_of, tables, share_pool(service), relay),
    ]
    return create_app(
        service,
        admin_token=config.admin_token,
        max_body_bytes=config.max_body_bytes,
        lifespan=lifespan,
        extra_routes=routes + (network_routes(net) if net is not None else []),
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves: a taken port is one clear error; port 0 works.

    TCP_NODELAY must hold on every *accepted* connection: with Nagle on, a kept-alive client
    got the response headers at once and the body only after its delayed ACK (~40 ms, so
    23 requests/s). asyncio sets NODELAY on accepted sockets only when the socket's ``proto``
    is ``IPPROTO_TCP`` (``asyncio.base_events._set_nodelay``), and ``socket.socket(family,
    SOCK_STREAM)`` has proto 0; uvicorn sets nothing itself. So the socket is created with
    ``IPPROTO_TCP`` and NODELAY is also set on the listener (Linux accepted sockets inherit it).
    ``bench/network.py`` measures the difference.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}); use --host/--port"
        ) from None
    return sock


def run_node(config: NodeConfig, announce: Callable[[str], None] = print) -> None:
    """Serve until SIGINT/SIGTERM; ``announce`` gets one line once the port is bound."""
    restore_recursion_limit()  # again, in case a plug-in raised it (see etm_bridge/recursion.py)
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    sock = bind_socket(config.host, config.port)
    try:
        service, store = open_service(config)
    except BaseException:
        sock.close()
        raise
    net = attach_network(config, service)
    net.port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            SyncGate(build_app(config, service, net), net),
            log_level=config.log_level,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
            # Peers: WebSockets through the `websockets` package, frames capped before they
            # are buffered, no per-message deflate (a compressed frame could expand without
            # bound before our size checks run).
            ws="websockets-sansio",
            ws_max_size=MAX_FRAME_BYTES,
            ws_per_message_deflate=False,
        )
    )

    async def serve() -> None:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.02)
        if server.started:
            status = service.status()
            announce(
                f"ETM node listening on http://{config.host}:{sock.getsockname()[1]} "
                f"height={status['height']} genesis={status['genesisId']}"
            )
        await serving

    try:
        with _signals_return_after_shutdown():
            asyncio.run(serve())
    finally:
        sock.close()
        store.close()
        if isinstance(service.guard, SlashingProtection):
            service.guard.close()


@contextmanager
def _signals_return_after_shutdown() -> Iterator[None]:
    """uvicorn shuts down gracefully on SIGINT/SIGTERM and then re-raises the signal to the
    handler installed before it: with the default handlers the process died right there (exit
    143, the store never closed). Inert handlers make ``run_node`` return normally instead."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda _sig, _frame: None) for sig in stop_signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
