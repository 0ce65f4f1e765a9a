"""Read-only looks into a node's data directory while the node may keep running.

:func:`relay_status_at` opens the node's chain database (``chain.sqlite``) for reading and
returns what ``GET /api/spv`` would serve: each relay's tip, checkpoint, policy and forks. It is
the offline ``spv status --data-dir``; everything else reads a node through its API
(:class:`~etm_bridge.node.client.NodeClient`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..chain.state import State
from ..errors import ConfigError
from ..spv.relay_status import relay_status
from ..store import ChainStore
from .config import CHAIN_DB


def relay_status_at(data_dir: Path) -> dict[str, Any]:
    """The relays' status in the chain of the node in ``data_dir`` (ConfigError if none)."""
    path = Path(data_dir) / CHAIN_DB
    if not path.is_file():
        raise ConfigError(f"{path} not found: run `etm-bridge node init` or pass --data-dir")
    store = ChainStore.open(path)
    try:
        return relay_status(State(store, ()))
    finally:
        store.close()
