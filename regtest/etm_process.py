"""Throwaway ETM nodes for tests: ``etm-bridge node run`` on a free loopback port.

``with etm_node_in(home, delegates=3, funded_accounts=1) as node:`` writes a development chain
(``node init``, any ``init_node`` keyword) into ``home``, starts the node and yields an
:class:`EtmNodeProcess` whose ``client`` is ready; on exit the node is stopped and its log tail
printed (pytest shows it for a failed test). The node binds port 0 and announces the port the
kernel gave it, so there is no probe-then-bind race; it gets SIGTERM from the kernel if the test
process dies first.

:class:`EtmNodeProcess` can also stop, ``kill9`` and restart a node on the same data dir (crash
tests); its output is appended to ``<data_dir>/node.log``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from etm_bridge.node import spv_plugin
from etm_bridge.node.client import NodeClient
from etm_bridge.node.config import NodeConfig
from etm_bridge.node.setup import NODE_TX_PLUGINS, init_node

from . import procs

ETM_BRIDGE = Path(sys.executable).parent / "etm-bridge"
_LISTENING = re.compile(r"ETM node listening on (http://\S+)")


class EtmNodeProcess:
    """Start/stop/kill one node on ``data_dir``; its output goes to ``data_dir/node.log``."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.config = NodeConfig.load(data_dir)
        self.log_path = data_dir / "node.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: NodeClient | None = None
        self.url: str | None = None
        #: Extra ``node run`` arguments (e.g. ``--peer HOST:PORT``), used by every start.
        self.args: list[str] = []

    @property
    def port(self) -> int:
        """The port of the last start (a restart binds it again)."""
        assert self.url is not None, "the node has not started yet"
        return int(self.url.rsplit(":", 1)[1])

    def log_tail(self, lines: int = 40) -> str:
        return procs.log_tail(self.log_path, lines) or "(no log)"

    def start(self, timeout_s: float = 30.0, port: int = 0) -> NodeClient:
        return self.wait_started(self.spawn(port), timeout_s)

    def spawn(self, port: int = 0) -> int:
        """Start the process (from the main thread: PR_SET_PDEATHSIG fires when the spawning
        *thread* ends); returns the log offset for :meth:`wait_started`."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [str(ETM_BRIDGE), "node", "run", "--data-dir", str(self.data_dir),
                   "--port", str(port), *self.args]  # fmt: skip
        self.proc = procs.spawn(command, self.log_path, {}, die_with_parent=True)
        return offset

    def wait_started(self, offset: int, timeout_s: float = 30.0) -> NodeClient:
        """Until the spawned node announced its port and answers its API."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"node exited with {self.proc.returncode}:\n{self.log_tail()}")
            match = _LISTENING.search(self.log_path.read_bytes()[offset:].decode(errors="replace"))
            if match:
                self.url = match.group(1)
                self.client = NodeClient(self.url, admin_token=self.config.admin_token)
                self.client.wait_ready()
                return self.client
            time.sleep(0.05)
        self.kill9()
        raise AssertionError(f"node did not announce its port in {timeout_s}s:\n{self.log_tail()}")

    def kill9(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash."""
        procs.kill_now(self.proc)
        self.proc = None

    def stop(self) -> None:
        """SIGTERM and wait (uvicorn shuts down cleanly); SIGKILL if it hangs."""
        procs.stop_process(self.proc)
        self.proc = None


@contextmanager
def etm_node_in(home: Path, **init: Any) -> Iterator[EtmNodeProcess]:
    """A fresh development chain in ``home`` (``init_node(home, port=0, **init)``), running.
    Tests swap through regtest/anvil pools, so a chain with the SPV plug-in gets the development
    flag ``allow_dev_pools`` unless ``init`` says otherwise."""
    plugins = init.get("tx_plugins", NODE_TX_PLUGINS)
    dev = spv_plugin.__name__ in plugins
    init_node(home, **{"port": 0, "allow_dev_pools": dev, **init})
    with etm_node_running(home) as node:
        yield node


@contextmanager
def etm_node_running(home: Path) -> Iterator[EtmNodeProcess]:
    """The node already initialised in ``home`` (e.g. by ``etm-bridge node init``), running;
    stopped, its log tail printed, on exit."""
    node = EtmNodeProcess(home)
    node.start()
    try:
        yield node
    finally:
        print(node.log_tail())
        node.stop()
