"""N real ETM node processes on loopback, peered together, for tests and benchmarks.

``with etm_network_in(home, nodes=4, delegates=4) as net:`` writes a network
(``init_network``: one genesis, each node with only its own delegates' keys), starts every node
(``etm-bridge node run --port 0 --peer ...``) and yields an :class:`EtmNetwork` once all of them
are connected and past their start-up sync; on exit every node is stopped and its log tail
printed.

Peers connect through :class:`PeerProxy` TCP forwarders (one per ordered pair of nodes, in a
background thread of the test process): node *i* dials node *j* at proxy ``(i, j)``. A test can
cut proxies (:meth:`EtmNetwork.partition`: live connections closed, new ones refused) and
restore them (:meth:`EtmNetwork.heal`), which is a real network partition as the nodes see it.
Peer exchange is off in proxied networks, so nodes never learn a direct address around the
proxies. Nodes restart on their previous port, so proxies and peers find them again.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from etm_bridge.node.client import NodeClient
from etm_bridge.node.config import NodeConfig
from etm_bridge.node.network_setup import init_network, join_node, node_dir

from .etm_process import EtmNodeProcess
from .procs import LOOPBACK, wait_until


class ProxyLoop:
    """One asyncio loop in a daemon thread that runs every proxy of a network."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


class PeerProxy:
    """A TCP forwarder to ``target()`` (a port, or None while the target is down) that a
    test can cut and heal."""

    def __init__(self, loop: ProxyLoop, target: Callable[[], int | None]):
        self.loop, self.target = loop, target
        self.cut_off = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server = loop.run(asyncio.start_server(self._handle, LOOPBACK, 0))
        self.port: int = self._server.sockets[0].getsockname()[1]

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = self.target()
        if self.cut_off or port is None:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(LOOPBACK, port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _cut(self) -> None:
        self.cut_off = True
        for writer in list(self._writers):
            writer.close()

    def cut(self) -> None:
        self.loop.run(self._cut())

    def heal(self) -> None:
        self.cut_off = False


class EtmNetwork:
    """Real node processes on one network (module doc). ``nodes[i]`` is an EtmNodeProcess."""

    def __init__(self, home: Path, nodes: int = 4, delegates: int = 4, **init: Any):
        self.home = home
        self.size = nodes
        configs = init_network(home, nodes=nodes, delegates=delegates, base_port=0, **init)
        for config in configs:  # peers come from proxies; no learnt direct addresses
            _with(config, peer_exchange=False).save()
        self.nodes = [EtmNodeProcess(c.data_dir) for c in configs]
        self.extra: list[EtmNodeProcess] = []
        self.proxy_loop = ProxyLoop()
        self.proxies: dict[tuple[int, int], PeerProxy] = {}
        for i in range(nodes):
            for j in range(nodes):
                if i != j:
                    self.proxies[i, j] = PeerProxy(self.proxy_loop, self._port_of(j))
        for i, node in enumerate(self.nodes):
            node.args = [a for j in range(nodes) if j != i
                         for a in ("--peer", self.proxies[i, j].address)]  # fmt: skip

    def _port_of(self, j: int) -> Callable[[], int | None]:
        def port() -> int | None:
            node = self.nodes[j]
            alive = node.url is not None and node.proc is not None and node.proc.poll() is None
            return node.port if alive else None

        return port

    @property
    def clients(self) -> list[NodeClient]:
        return [n.client for n in self.nodes if n.client is not None and n.proc is not None]

    def client(self, i: int) -> NodeClient:
        client = self.nodes[i].client
        assert client is not None
        return client

    def start(self) -> None:
        """Start every node at once (each process takes seconds to import), then wait."""
        offsets = [node.spawn() for node in self.nodes]
        for node, offset in zip(self.nodes, offsets, strict=True):
            node.wait_started(offset)
        self.wait_connected()

    def restart(self, i: int) -> NodeClient:
        node = self.nodes[i]
        return node.start(port=node.port)

    def wait_connected(self, timeout_s: float = 30.0) -> None:
        """Until every running node has a peer for each other running node and is synced."""
        running = [n for n in self.nodes if n.proc is not None]

        def ready() -> bool:
            return all(
                s["peers"] >= len(running) - 1 and not s["syncing"]
                for s in (n.client.status() for n in running if n.client)
            )

        wait_until(ready, timeout_s=timeout_s, what="ETM network peering", interval_s=0.2)

    def partition(self, *groups: set[int]) -> None:
        """Cut every proxy between nodes of different groups (both directions)."""
        side = {i: g for g, members in enumerate(groups) for i in members}
        for (i, j), proxy in self.proxies.items():
            if side.get(i) != side.get(j):
                proxy.cut()

    def heal(self) -> None:
        for proxy in self.proxies.values():
            proxy.heal()

    def join(self, name: str, *, forging: bool = False) -> EtmNodeProcess:
        """A new node (no keys) joining with direct peers to every running node; started."""
        config = join_node(self.home / name, node_dir(self.home, 0) / "genesis.json", port=0)
        if not forging:
            _with(config, forging=False).save()
        node = EtmNodeProcess(config.data_dir)
        node.args = [a for n in self.nodes if n.proc is not None
                     for a in ("--peer", f"{LOOPBACK}:{n.port}")]  # fmt: skip
        self.extra.append(node)
        node.start()
        return node

    def stop(self) -> None:
        for node in self.nodes + self.extra:
            print(f"--- {node.data_dir.name}\n{node.log_tail(15)}")
            node.stop()
        self.proxy_loop.close()


def _with(config: NodeConfig, **changes: Any) -> NodeConfig:
    data = {**config.to_json(), **changes}
    data["peers"] = tuple(data["peers"])
    return NodeConfig(data_dir=config.data_dir, **data)


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    wait_until(condition, timeout_s=timeout_s, what=what, interval_s=0.1)


def chain_ids(client: NodeClient, heights: range) -> list[str]:
    """The block ids at ``heights`` on that node's chain."""
    return [client.block(h)["fullId"] for h in heights]


@contextmanager
def etm_network_in(
    home: Path, nodes: int = 4, delegates: int = 4, **init: Any
) -> Iterator[EtmNetwork]:
    """A started network in ``home`` (``init_network`` keywords, e.g. ``block_time_s=1``)."""
    net = EtmNetwork(home, nodes, delegates, **{"block_time_s": 1, "funded_accounts": 4, **init})
    try:
        net.start()
        yield net
    finally:
        net.stop()
