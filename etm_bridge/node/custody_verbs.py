"""The node verbs of custody (``etm-bridge node custody init``, ``etm-bridge node signer``):
thin entry points over :mod:`etm_bridge.custody_signer`, for ``cli/node.py``."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..custody import records
from ..custody_signer import keys
from ..custody_signer.service import Signer, _custody_section
from .config import NodeConfig
from .server import load_genesis


def custody_init(data_dir: Path) -> dict[str, Any]:
    """Create ``custody_keys.json`` for every custody chain of this node's genesis; the public
    keys to register (tx 300)."""
    section = _custody_section(load_genesis(NodeConfig.load(data_dir)))
    chains = tuple(str(c) for c in section.get("chains", ()))
    made = keys.create(data_dir, chains)
    return {
        "file": str(Path(data_dir) / keys.FILE_NAME),
        "keys": {t: made.public_key(t).hex() for t in made.secrets},
        "no_signer_yet": [t for t in chains if t not in made.secrets],
        "warning": "back this file up: it is this member's custody signing power",
        "section": records.GENESIS_SECTION,
    }


def _announce(line: str) -> None:
    print(line, flush=True)


def run_signer(
    data_dir: Path, node_url: str | None = None, announce: Callable[[str], None] = _announce
) -> None:
    """Run the signer until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    Signer(data_dir, node_url).run(stop, announce)
