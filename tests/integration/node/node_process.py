"""A real ETM node subprocess for tests: ``etm-bridge node run`` on a free loopback port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from etm_bridge.node.client import NodeClient
from etm_bridge.node.config import NodeConfig

ETM_BRIDGE = Path(sys.executable).parent / "etm-bridge"
_LISTENING = re.compile(r"ETM node listening on (http://\S+)")


class NodeProcess:
    """Start/stop/kill one node on ``data_dir``; its output goes to ``data_dir/node.log``."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.config = NodeConfig.load(data_dir)
        self.log_path = data_dir / "node.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: NodeClient | None = None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def start(self, timeout_s: float = 30.0) -> NodeClient:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(ETM_BRIDGE), "node", "run", "--data-dir", str(self.data_dir), "--port", "0"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"node exited with {self.proc.returncode}:\n{self.log_tail()}")
            match = _LISTENING.search(self.log_path.read_bytes()[offset:].decode(errors="replace"))
            if match:
                self.client = NodeClient(match.group(1), admin_token=self.config.admin_token)
                self.client.wait_ready()
                return self.client
            time.sleep(0.05)
        self.kill9()
        raise AssertionError(f"node did not announce its port in {timeout_s}s:\n{self.log_tail()}")

    def kill9(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        """SIGTERM and wait (uvicorn shuts down cleanly); SIGKILL if it hangs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc = None
