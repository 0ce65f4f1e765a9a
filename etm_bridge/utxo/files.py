"""Loading and saving a UTXO wallet index file (the I/O edge of ``etm_bridge.utxo``).

The file is a cache of the chain: one that is absent, unreadable, of another chain, format
version or birth height is never misread but replaced by an empty index (a rescan).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypeVar

from .index import UtxoIndex

IndexT = TypeVar("IndexT", bound=UtxoIndex[Any, Any, Any])


def load_index(kind: type[IndexT], path: Path, birth_height: int) -> IndexT:
    """The saved index, or an empty one if absent, unreadable, of another chain, format version
    or birth height."""
    try:
        data = json.loads(path.read_text())
        if (
            data.get("version") == kind.FORMAT_VERSION
            and data.get("chain") == kind.CHAIN
            and data["birth_height"] == birth_height
        ):
            return kind.from_json(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return kind(birth_height)


def save_index(path: Path, index: UtxoIndex[Any, Any, Any]) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(index.to_json()))
    os.replace(tmp, path)
