"""The SQLite file behind a never-sign-twice record (the forger's slashing protection, the custody
signer's signing record): the one way both open it.

Autocommit connection (the caller wraps each check-and-write in ``BEGIN IMMEDIATE``), WAL journal,
``synchronous=FULL`` (every commit fsync'd; SQLite commits are atomic), the schema applied. A
file that is not a usable database raises one :class:`~etm_bridge.errors.StoreError` naming it
and what to do, never a half-opened record.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import StoreError


def open_record(path: Path, schema: str, what: str, fix: str) -> sqlite3.Connection:
    """Open (or create) the record at ``path`` with ``schema``; ``what`` names it and ``fix`` says
    what to do in the error if the file is unusable."""
    try:
        conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None,
                               check_same_thread=False)  # fmt: skip
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(schema)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a usable {what} ({exc}); {fix}") from None
    return conn
