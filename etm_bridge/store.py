"""The one place that talks to SQLite for the ETM chain (via sqlite-utils, WAL mode).

Tables: ``state`` (tbl, k, v: every chain state record), ``blocks`` (height, id, short id, raw
block, state digest after it, undo log), ``txs`` (tx id -> height, index), ``config`` (the genesis
config JSON). :meth:`ChainStore.commit_block` writes a block's state changes, the block, its tx
index and digest in **one** SQLite transaction: all of it or none of it, so ``kill -9`` at any
moment leaves the last committed block intact and never a half-applied one. WAL with
``synchronous=NORMAL`` is durable against process crashes (a power loss may drop the last few
commits but never corrupts; set ``durable=True`` for ``synchronous=FULL``).

The store implements the pure core's ``StateBackend`` (``get``, ``scan``). Writes are batched per
block with ``executemany``; there is never one commit per row.

**Transactions** (:meth:`ChainStore.atomic`): the outermost ``atomic()`` is one SQLite transaction
(``BEGIN`` ... ``COMMIT``); a nested one is a real ``SAVEPOINT``, so a failure inside it rolls back
exactly its own writes (``ROLLBACK TO``) and the outer transaction goes on. A node syncing history
applies many blocks inside one outer transaction (one commit, one WAL sync, for the batch), each
block in its own savepoint: a block that fails, or a reorg that fails inside the batch, leaves the
blocks before it intact, and ``kill -9`` loses at most the uncommitted batch, never a committed
block, and never leaves half of one.

**Read cache**: point reads of the ``state`` table are cached (write-through: every write of
:meth:`_write_changes` updates it; any rollback, full or to a savepoint, empties it), so the hot
records a block reads (the tip, the round's order and accumulator, the forger's account) cost a
dict lookup instead of a query. It assumes what the store always assumed: one writer (the node's
connection); another process writing the same ``chain.sqlite`` was never supported.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from .chain.block import HEADER_BYTES, Block, BlockHeader
from .chain.state import Changes, decode_changes, encode_changes
from .errors import NotFoundError, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (tbl TEXT NOT NULL, k BLOB NOT NULL, v BLOB NOT NULL,
                                  PRIMARY KEY (tbl, k)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE,
                                   short_id TEXT NOT NULL, raw BLOB NOT NULL,
                                   digest BLOB NOT NULL, undo BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS blocks_short_id ON blocks (short_id);
CREATE TABLE IF NOT EXISTS txs (id BLOB PRIMARY KEY, height INTEGER NOT NULL,
                                idx INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS config (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


_MISSING = object()


def _prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (None: no bound)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes((trimmed[-1] + 1,))


class ChainStore:
    """SQLite persistence of blocks and chain state. Not thread-safe: one owner (the node)."""

    def __init__(self, db: sqlite_utils.Database, durable: bool = False):
        self.db = db
        self._conn: sqlite3.Connection = db.conn
        self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._conn.isolation_level = None  # transactions are ours (atomic): BEGIN / SAVEPOINT
        self._conn.executescript(_SCHEMA)
        self._depth = 0
        self._cache: dict[tuple[str, bytes], bytes | None] = {}
        self._tip_digest: tuple[int, bytes] | None = None

    #: Point reads kept in the read cache at most (then it starts again empty).
    CACHE_ENTRIES = 200_000

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One SQLite transaction around everything inside; nested, a SAVEPOINT (module doc).

        Whatever raises inside rolls back exactly the writes made inside this ``atomic()`` and
        propagates; the read cache is emptied, since it may hold rolled-back values."""
        depth = self._depth
        savepoint = f"sp{depth}"
        self._conn.execute(f"SAVEPOINT {savepoint}" if depth else "BEGIN")
        self._depth = depth + 1
        try:
            yield
        except BaseException:
            self._depth = depth
            self._forget_cached()
            if depth:
                self._conn.execute(f"ROLLBACK TO {savepoint}")
                self._conn.execute(f"RELEASE {savepoint}")
            else:
                self._conn.execute("ROLLBACK")
            raise
        self._depth = depth
        try:
            self._conn.execute(f"RELEASE {savepoint}" if depth else "COMMIT")
        except BaseException:
            self._forget_cached()
            if not depth and self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    @property
    def in_transaction(self) -> bool:
        """True inside :meth:`atomic` (writes are not committed yet)."""
        return self._depth > 0

    def _forget_cached(self) -> None:
        self._cache.clear()
        self._tip_digest = None

    @classmethod
    def open(cls, path: str | Path, durable: bool = False) -> ChainStore:
        """Open (or create) the chain database at ``path`` in WAL mode.

        The connection may be used from another thread than the one that opened it (a node's
        forger thread and its API), but never from two at once: callers hold one lock.
        """
        db = sqlite_utils.Database(sqlite3.connect(str(path), check_same_thread=False))
        try:
            db.enable_wal()
            return cls(db, durable)
        except sqlite3.DatabaseError as exc:
            db.conn.close()
            raise StoreError(
                f"{path} is not a usable chain database ({exc}); restore it from a backup or"
                " delete it to resync from genesis"
            ) from None

    @classmethod
    def memory(cls) -> ChainStore:
        return cls(sqlite_utils.Database(sqlite3.connect(":memory:", check_same_thread=False)))

    def close(self) -> None:
        self._conn.close()

    # --- StateBackend --------------------------------------------------------------------------

    def get(self, table: str, key: bytes) -> bytes | None:
        k = (table, key)
        try:
            return self._cache[k]
        except KeyError:
            pass
        row = self._conn.execute("SELECT v FROM state WHERE tbl=? AND k=?", k).fetchone()
        value = None if row is None else bytes(row[0])
        self._remember(k, value)
        return value

    def _remember(self, k: tuple[str, bytes], value: bytes | None) -> None:
        if len(self._cache) >= self.CACHE_ENTRIES:
            self._cache.clear()
        self._cache[k] = value

    def get_many(self, table: str, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        """The present records among ``keys`` (cached ones from the read cache, the others with
        one query per 500 keys)."""
        out: dict[bytes, bytes] = {}
        wanted = []
        for key in keys:
            cached = self._cache.get((table, key), _MISSING)
            if cached is _MISSING:
                wanted.append(key)
            elif cached is not None:
                out[key] = cached  # type: ignore[assignment]
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT k, v FROM state WHERE tbl=? AND k IN ({marks})"
            found = {bytes(k): bytes(v) for k, v in self._conn.execute(sql, (table, *chunk))}
            for key in chunk:
                self._remember((table, key), found.get(key))
            out.update(found)
        return out

    def scan(self, table: str, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        end = _prefix_end(prefix)
        if end is None:
            sql, args = "SELECT k, v FROM state WHERE tbl=? AND k>=? ORDER BY k", (table, prefix)
        else:
            sql = "SELECT k, v FROM state WHERE tbl=? AND k>=? AND k<? ORDER BY k"
            args = (table, prefix, end)  # type: ignore[assignment]
        for k, v in self._conn.execute(sql, args):
            yield bytes(k), bytes(v)

    def scan_page(
        self, table: str, prefix: bytes, after: bytes | None, limit: int
    ) -> Iterator[tuple[bytes, bytes]]:
        """At most ``limit`` records of ``table`` with ``prefix`` and key > ``after``, by key:
        one range query on the primary key, so its cost does not grow with the table."""
        start = prefix if after is None or after < prefix else after
        op = ">=" if after is None or after < prefix else ">"
        end = _prefix_end(prefix)
        sql = f"SELECT k, v FROM state WHERE tbl=? AND k{op}?"
        args: tuple[Any, ...] = (table, start)
        if end is not None:
            sql += " AND k<?"
            args += (end,)
        sql += " ORDER BY k LIMIT ?"
        for k, v in self._conn.execute(sql, (*args, max(0, limit))):
            yield bytes(k), bytes(v)

    # --- writes --------------------------------------------------------------------------------

    def _write_changes(self, changes: Changes) -> None:
        """Write ``changes`` (inside :meth:`atomic`), keeping the read cache in step."""
        puts = [(t, k, v) for (t, k), v in changes.items() if v is not None]
        dels = [(t, k) for (t, k), v in changes.items() if v is None]
        try:
            if puts:
                sql = "INSERT OR REPLACE INTO state (tbl, k, v) VALUES (?,?,?)"
                self._conn.executemany(sql, puts)
            if dels:
                self._conn.executemany("DELETE FROM state WHERE tbl=? AND k=?", dels)
        except BaseException:
            self._forget_cached()  # part of it may be written; the caller's atomic() rolls back
            raise
        for k, v in changes.items():
            self._remember(k, v)

    def commit_block(self, block: Block, changes: Changes, undo: Changes, digest: bytes) -> None:
        """Persist a block and its state changes atomically (one SQLite transaction)."""
        h = block.header
        with self.atomic():
            self._write_changes(changes)
            self._conn.execute(
                "INSERT INTO blocks (height, id, short_id, raw, digest, undo) VALUES (?,?,?,?,?,?)",
                (h.height, h.id, h.short_id, block.encoded, digest,
                 b"".join(encode_changes(undo))),
            )  # fmt: skip
            self._conn.executemany(
                "INSERT OR REPLACE INTO txs (id, height, idx) VALUES (?,?,?)",
                [(tx.id, h.height, i) for i, tx in enumerate(block.transactions)],
            )
            self._tip_digest = (h.height, digest)

    def revert_tip(self) -> Block:
        """Undo the tip block's state changes and delete it, atomically. Returns the block."""
        height = self.tip_height()
        if height is None or height == 0:
            raise NotFoundError("no block above genesis to revert")
        raw, undo = self._conn.execute(
            "SELECT raw, undo FROM blocks WHERE height=?", (height,)
        ).fetchone()
        block = Block.decode(bytes(raw))
        with self.atomic():
            self._tip_digest = None
            self._write_changes(decode_changes(bytes(undo)))
            self._conn.execute("DELETE FROM blocks WHERE height=?", (height,))
            self._conn.executemany(
                "DELETE FROM txs WHERE id=?", [(tx.id,) for tx in block.transactions]
            )
        return block

    def set_config(self, name: str, value: str) -> None:
        with self.atomic():
            self._conn.execute("INSERT OR REPLACE INTO config VALUES (?,?)", (name, value))

    def config(self, name: str) -> str | None:
        row = self._conn.execute("SELECT value FROM config WHERE name=?", (name,)).fetchone()
        return None if row is None else str(row[0])

    # --- reads ---------------------------------------------------------------------------------

    def tip_height(self) -> int | None:
        row = self._conn.execute("SELECT MAX(height) FROM blocks").fetchone()
        return None if row[0] is None else int(row[0])

    def _one(self, sql: str, args: Iterable[Any], what: str) -> Any:
        row = self._conn.execute(sql, tuple(args)).fetchone()
        if row is None:
            raise NotFoundError(f"{what} not found")
        return row

    def block_at(self, height: int) -> Block:
        row = self._one("SELECT raw FROM blocks WHERE height=?", (height,), f"block {height}")
        return Block.decode(bytes(row[0]))

    def header_at(self, height: int) -> BlockHeader:
        """Just the header of the block at ``height`` (no transaction decoding)."""
        sql = f"SELECT substr(raw, 1, {HEADER_BYTES}) FROM blocks WHERE height=?"
        return BlockHeader.decode(bytes(self._one(sql, (height,), f"block {height}")[0]))

    def block_by_id(self, block_id: bytes) -> Block:
        sql = "SELECT raw FROM blocks WHERE id=?"
        return Block.decode(bytes(self._one(sql, (block_id,), f"block {block_id.hex()}")[0]))

    def block_by_short_id(self, short_id: str) -> Block:
        sql = "SELECT raw FROM blocks WHERE short_id=?"
        return Block.decode(bytes(self._one(sql, (short_id,), f"block {short_id}")[0]))

    def digest_at(self, height: int) -> bytes:
        if self._tip_digest is not None and self._tip_digest[0] == height:
            return self._tip_digest[1]
        sql = "SELECT digest FROM blocks WHERE height=?"
        return bytes(self._one(sql, (height,), f"block {height}")[0])

    def block_id_at(self, height: int) -> bytes:
        sql = "SELECT id FROM blocks WHERE height=?"
        return bytes(self._one(sql, (height,), f"block {height}")[0])

    def tx_location(self, tx_id: bytes) -> tuple[int, int]:
        sql = "SELECT height, idx FROM txs WHERE id=?"
        row = self._one(sql, (tx_id,), f"transaction {tx_id.hex()}")
        return int(row[0]), int(row[1])

    def full_state_digest(self) -> bytes:
        """sha256 over every state record in (table, key) order: an audit of the live state."""
        h = hashlib.sha256()
        for t, k, v in self._conn.execute("SELECT tbl, k, v FROM state ORDER BY tbl, k"):
            h.update(b"".join(encode_changes({(str(t), bytes(k)): bytes(v)})))
        return h.digest()
