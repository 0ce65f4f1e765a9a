"""The real-chain test vectors kept in ``tests/vectors`` (see its README), and their reader.

Tests name a vector by its original file name, relative to ``tests/vectors``
(``"bitcoin/blocks/mainnet_block_831332.bin"``); files over 64 KiB are stored xz-compressed as
``<name>.xz`` and are decompressed here, so a test never cares which form is on disk.
``SHA256SUMS`` lists the sums of the original contents (checked by ``tests/unit/test_vectors.py``).
Importable by name from any test: ``tests/`` is on ``sys.path`` (its conftest is a rootdir one).
"""

from __future__ import annotations

import json
import lzma
from pathlib import Path
from typing import Any

VECTORS_DIR = Path(__file__).resolve().parent / "vectors"


def stored_path(name: str) -> Path:
    """The file holding vector ``name`` (``name`` itself or ``name.xz``)."""
    plain = VECTORS_DIR / name
    if plain.is_file():
        return plain
    packed = plain.with_name(plain.name + ".xz")
    if packed.is_file():
        return packed
    raise FileNotFoundError(f"no test vector {name!r} in {VECTORS_DIR} (nor {packed.name})")


def read_bytes(name: str) -> bytes:
    """The original bytes of vector ``name``."""
    path = stored_path(name)
    return lzma.decompress(path.read_bytes()) if path.suffix == ".xz" else path.read_bytes()


def read_text(name: str) -> str:
    return read_bytes(name).decode()


def read_json(name: str) -> Any:
    return json.loads(read_bytes(name))


def read_header_lines(name: str) -> list[bytes]:
    """The 80-byte headers of a ``.hex`` header file (one per line; ``fork:`` lines skipped)."""
    return [bytes.fromhex(line) for line in read_text(name).split() if not line.startswith("fork:")]


def names() -> list[str]:
    """Every vector's original name, sorted (README.md and SHA256SUMS excluded)."""
    found = []
    for path in VECTORS_DIR.rglob("*"):
        if path.is_file() and path.name not in ("README.md", "SHA256SUMS"):
            rel = path.relative_to(VECTORS_DIR).as_posix()
            found.append(rel.removesuffix(".xz"))
    return sorted(found)
