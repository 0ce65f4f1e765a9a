"""Custody signer processes for tests: ``etm-bridge node signer`` beside a throwaway node.

:func:`signer_home` makes a signer's data directory for a node initialised in ``node_home``
(the node's ``node.json`` and ``genesis.json``, new custody keys from the real
``etm-bridge node custody init``, and ``custody_signer.json`` naming the Bitcoin node it
submits to). :class:`SignerProcess` starts it (output appended to ``<dir>/signer.log``), waits
for it to announce itself, kills it (SIGKILL, like a crash) or stops it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from etm_bridge.node.config import GENESIS_CONFIG, NODE_CONFIG

from . import procs

ETM_BRIDGE = Path(sys.executable).parent / "etm-bridge"
ANNOUNCE = b"custody signer running"


def signer_home(node_home: Path, home: Path, bitcoin: Any | None = None) -> dict[str, bytes]:
    """A signer directory for the node of ``node_home``; returns its secrets by ticker."""
    home.mkdir(parents=True, exist_ok=True)
    for name in (NODE_CONFIG, GENESIS_CONFIG):
        shutil.copy2(node_home / name, home / name)
    subprocess.run([str(ETM_BRIDGE), "node", "custody", "init", "--data-dir", str(home)],
                   check=True, capture_output=True)  # fmt: skip
    if bitcoin is not None:
        chains = {"btc": {"rpc_url": bitcoin.rpc_url, "rpc_user": bitcoin.rpc_user,
                          "rpc_password": bitcoin.rpc_password}}  # fmt: skip
        options = {"chains": chains, "tick_s": 0.3, "prove_grace_s": 5}  # turns 5 s apart
        (home / "custody_signer.json").write_text(json.dumps(options))
    raw = json.loads((home / "custody_keys.json").read_text())
    return {t: bytes.fromhex(v) for t, v in raw.items() if t != "agent"}


class SignerProcess:
    def __init__(self, home: Path, node_url: str):
        self.home, self.node_url = home, node_url
        self.log_path = home / "signer.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, env: Mapping[str, str] | None = None, timeout_s: float = 30.0) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [str(ETM_BRIDGE), "node", "signer", "--data-dir", str(self.home),
                   "--node-url", self.node_url]  # fmt: skip
        self.proc = procs.spawn(command, self.log_path, dict(env or {}), die_with_parent=True)
        proc = self.proc
        procs.wait_until(lambda: ANNOUNCE in self.log_path.read_bytes()[offset:],
                         timeout_s=timeout_s, what=f"signer in {self.home}",
                         alive=lambda: proc.poll() is None)  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_bytes().decode(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout_s: float = 30.0) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout_s)
        self.proc = None
        return code

    def kill9(self) -> None:
        procs.kill_now(self.proc)
        self.proc = None

    def stop(self) -> None:
        procs.stop_process(self.proc)
        self.proc = None
