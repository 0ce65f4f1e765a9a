"""Where the node binaries are: Bitcoin Core's ``bitcoind``, node, the npm tools, the launcher.

``bitcoind`` is used when the ``BITCOIND`` environment variable names it or it is on PATH;
otherwise the Bitcoin node is bcoin run by ``bcoin_launcher.js``. npm tools (bcoin, anvil, solcjs)
come from the project's ``node_modules``, found above the current directory or this package.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from etm_bridge.errors import StackError

LAUNCHER = Path(__file__).resolve().parent / "bcoin_launcher.js"


def find_bitcoind() -> str | None:
    """Path of Bitcoin Core's bitcoind from ``$BITCOIND`` or PATH, or None to use bcoin."""
    named = os.environ.get("BITCOIND")
    if named:
        path = shutil.which(named) or (named if Path(named).is_file() else None)
        if path is None:
            raise StackError(f"BITCOIND={named!r} is not an executable file")
        return path
    return shutil.which("bitcoind")


def find_node_modules() -> Path:
    """The project's node_modules directory (run `npm ci` / `make deps` if missing)."""
    starts = [Path.cwd(), Path(__file__).resolve().parent]
    for start in starts:
        for base in (start, *start.parents):
            candidate = base / "node_modules"
            if (candidate / "bcoin").is_dir() or (candidate / ".bin" / "anvil").exists():
                return candidate
    raise StackError(
        "node_modules with bcoin/anvil not found; run `make deps` (npm ci) in the project root"
    )


def node_tool(name: str) -> Path:
    """An executable from node_modules/.bin (anvil, solcjs)."""
    path = find_node_modules() / ".bin" / name
    if not path.exists():
        raise StackError(f"{path} is missing; run `make deps` (npm ci) in the project root")
    return path


def anvil_binary() -> Path:
    """anvil's native binary (one process, no npm wrapper), else node_modules/.bin/anvil."""
    modules = find_node_modules()
    for candidate in sorted(modules.glob("@foundry-rs/anvil-*/bin/anvil")):
        if os.access(candidate, os.X_OK):
            return candidate
    return node_tool("anvil")


def node_binary() -> str:
    """The ``node`` interpreter (Node.js 20+) that runs the bcoin launcher."""
    path = shutil.which("node")
    if path is None:
        raise StackError("`node` (Node.js) is not on PATH; it is needed to run bcoin and anvil")
    return path
