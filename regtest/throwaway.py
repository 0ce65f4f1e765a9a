"""Throwaway nodes for tests and benchmarks: free loopback ports, temporary datadirs.

``with bitcoin_node_in(tmp_dir) as node: ...`` starts a Bitcoin regtest node (bitcoind if found,
else bcoin in memory) on free ports below 32768 and stops its whole process group on exit;
``anvil_node_in(tmp_dir)`` does the same for anvil, ``hsd_node_in(tmp_dir)`` for a Handshake
regtest node (hsd, in memory, with its wallet as the faucet). A port grabbed by someone else between
probing and binding is retried with fresh ports. If the Python process dies without stopping
them (a killed test run), the kernel sends the nodes SIGTERM. The pytest fixtures wrap these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from etm_bridge.errors import StackError

from . import procs
from .anvil import AnvilNode, AnvilService
from .bitcoin import BitcoinNode, BitcoinService, bitcoin_service
from .hsd import HsdNode, HsdService
from .service import Service, Started, start, stop

START_ATTEMPTS = 3
S = TypeVar("S", bound=Service)


def _start_on_free_ports(make: Callable[[], S]) -> tuple[S, Started]:
    """Start ``make()``; if its ports were taken meanwhile, retry with new ones."""
    for attempt in range(1, START_ATTEMPTS + 1):
        service = make()
        try:
            return service, start(service, die_with_parent=True)
        except StackError as exc:
            port_race = isinstance(exc, procs.PortInUseError) or "EADDRINUSE" in str(exc)
            if not port_race or attempt == START_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


@contextmanager
def bitcoin_node_in(home: Path, *, premine: bool = False) -> Iterator[BitcoinNode]:
    """A fresh regtest node at height 0 (101 blocks to the faucet first if ``premine``)."""

    def make() -> BitcoinService:
        rpc_port = procs.free_port()
        wallet_port = procs.free_port(exclude={rpc_port})
        return bitcoin_service(
            home, rpc_port=rpc_port, wallet_port=wallet_port, throwaway=True, premine=premine
        )

    service, started = _start_on_free_ports(make)
    try:
        yield service.node()
    finally:
        stop(started.pid)


@contextmanager
def anvil_node_in(home: Path) -> Iterator[AnvilNode]:
    """A fresh anvil (chain id 31337, the development mnemonic's 10 funded accounts)."""
    service, started = _start_on_free_ports(lambda: AnvilService(home, port=procs.free_port()))
    try:
        yield service.node()
    finally:
        stop(started.pid)


@contextmanager
def hsd_node_in(home: Path) -> Iterator[HsdNode]:
    """A fresh hsd regtest node at height 0 (its wallet funds from mined blocks)."""

    def make() -> HsdService:
        rpc_port = procs.free_port()
        return HsdService(home, rpc_port=rpc_port, wallet_port=procs.free_port({rpc_port}))

    service, started = _start_on_free_ports(make)
    node = service.node()
    try:
        yield node
    finally:
        node.close()
        stop(started.pid)
