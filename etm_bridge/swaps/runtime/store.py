"""The swap database (SQLite through sqlite-utils, WAL): records, transition log, intents, lock.

Tables:

- ``swaps``: one row per swap (indexed columns + the record as JSON, without intents).
- ``intents``: one row per intent, its result columns filled in after the broadcast. The watcher
  saves the record with a new intent *before* broadcasting and with the result *after*; both
  saves are one transaction each (:meth:`SwapStore.save`).
- ``transitions``: the append-only log of (from, event, to, detail, time).
- ``watcher_lease``: who may act on this database.
- ``swap_index``: the next swap index of the wallet's seed-derived secrets
  (:func:`etm_bridge.wallet.derive.swap_secret`). :meth:`SwapStore.reserve_swap_index` commits
  the increment *before* the caller derives the secret, so a crash between deriving and
  recording the swap burns that index (``swap recover`` skips gaps) and never hands it out
  again, for another swap with the same secret.
- ``follow_cursors``: the pool operator's cursor per pool in the node's swap log (only as far
  as ETM finality: :class:`~etm_bridge.swaps.runtime.operator.PoolFollower`), so a restarted
  operator reads only the swaps opened since.

Only one watcher may act on a database: :meth:`SwapStore.acquire_watcher_lock` takes an
``fcntl`` exclusive lock on ``<db>.watcher.lock`` (released by the kernel if the process dies,
even by SIGKILL) and writes a lease row (owner, pid, expiry) that a watcher on a filesystem
without working ``flock`` would still respect. Saves use optimistic versioning: a record older
than the stored one is refused with :class:`~etm_bridge.errors.StaleSwapError`.

The database holds preimages: it is created mode 0600 (its WAL and SHM follow that mode), an
existing one is brought to 0600, and a symlink in its place is refused
(:func:`etm_bridge.private_files.secure_sqlite_files`, issue 11 item 14).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import sqlite_utils

from ...errors import StaleSwapError, SwapError, SwapNotFoundError, WatcherLockError
from ...private_files import secure_sqlite_files
from ..core.codec import intent_from_dict, intent_to_dict, record_from_dict, record_to_dict
from ..core.events import Transition
from ..core.fsm import Event, SwapState
from ..core.model import SwapRecord
from ..core.states import TERMINAL

_SCHEMA = """
CREATE TABLE IF NOT EXISTS swaps (
    swap_id TEXT PRIMARY KEY, role TEXT NOT NULL, direction TEXT NOT NULL, state TEXT NOT NULL,
    hashlock TEXT NOT NULL, is_open INTEGER NOT NULL, version INTEGER NOT NULL,
    updated_at_s INTEGER NOT NULL, record TEXT NOT NULL, touched INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS swaps_hashlock ON swaps(hashlock);
CREATE INDEX IF NOT EXISTS swaps_touched ON swaps(touched);
CREATE INDEX IF NOT EXISTS swaps_open ON swaps(is_open);
CREATE TABLE IF NOT EXISTS intents (
    key TEXT PRIMARY KEY, swap_id TEXT NOT NULL REFERENCES swaps(swap_id), seq INTEGER NOT NULL,
    kind TEXT NOT NULL, chain TEXT NOT NULL, created_at_s INTEGER NOT NULL, outcome TEXT,
    txid TEXT, detail TEXT, result_at_s INTEGER);
CREATE INDEX IF NOT EXISTS intents_swap ON intents(swap_id, seq);
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, swap_id TEXT NOT NULL REFERENCES swaps(swap_id),
    from_state TEXT NOT NULL, event TEXT NOT NULL, to_state TEXT NOT NULL, detail TEXT NOT NULL,
    at_s INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS transitions_swap ON transitions(swap_id, id);
CREATE TABLE IF NOT EXISTS watcher_lease (
    id INTEGER PRIMARY KEY CHECK (id = 1), owner TEXT NOT NULL, pid INTEGER NOT NULL,
    lease_until_s INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS swap_index (
    id INTEGER PRIMARY KEY CHECK (id = 1), next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS follow_cursors (name TEXT PRIMARY KEY, cursor TEXT NOT NULL);
"""


class WatcherLock:
    """Held by the one watcher allowed to act. Renew it every tick; release on exit."""

    def __init__(self, store: SwapStore, owner: str, lease_s: int, handle: IO[str]):
        self._store, self.owner, self.lease_s, self._handle = store, owner, lease_s, handle
        self.released = False

    def renew(self, now_s: int | None = None) -> None:
        """Extend the lease; raise :class:`WatcherLockError` if someone else took it."""
        self._store._write_lease(self.owner, self.lease_s, now_s, must_own=True)

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        with self._store.db.conn:
            self._store.db.execute("DELETE FROM watcher_lease WHERE owner = ?", [self.owner])
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()

    def __enter__(self) -> WatcherLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class SwapStore:
    """All swap persistence. One instance per process; not shared across threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        secure_sqlite_files(self.path)  # 0600 before SQLite creates anything (preimages)
        self.db = sqlite_utils.Database(self.path)
        self.db.enable_wal()
        self.db.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # --- records ------------------------------------------------------------------------------

    def create(self, rec: SwapRecord) -> None:
        """Insert a new swap; :class:`SwapError` if the id exists."""
        if self._row(rec.swap_id) is not None:
            raise SwapError(f"swap {rec.swap_id} already exists")
        self.save(rec)

    def save(self, rec: SwapRecord, transitions: Sequence[Transition] = ()) -> None:
        """Write ``rec`` (and its intents and new transition-log rows) in one transaction."""
        body = record_to_dict(rec)
        intents = body.pop("intents")
        with self.db.conn:
            row = self._row(rec.swap_id)
            if row is not None and row["version"] >= rec.version:
                raise StaleSwapError(
                    f"swap {rec.swap_id}: stored version {row['version']} is not older than "
                    f"{rec.version}; reload it before changing it"
                )
            self.db.execute(
                "INSERT OR REPLACE INTO swaps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " (SELECT COALESCE(MAX(touched), 0) + 1 FROM swaps))",
                [
                    rec.swap_id,
                    rec.role.value,
                    rec.terms.direction.value,
                    rec.state.value,
                    rec.terms.hashlock.hex(),
                    int(rec.state not in TERMINAL),
                    rec.version,
                    rec.updated_at_s,
                    json.dumps(body, sort_keys=True),
                ],
            )
            for seq, intent in enumerate(intents):
                self.db.execute(
                    "INSERT OR REPLACE INTO intents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [intent["key"], rec.swap_id, seq, intent["kind"], intent["chain"]]
                    + [intent[k] for k in ("created_at_s", "outcome", "txid", "detail")]
                    + [intent["result_at_s"]],
                )
            for t in transitions:
                self.db.execute(
                    "INSERT INTO transitions (swap_id, from_state, event, to_state, detail, at_s)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        t.swap_id,
                        t.from_state.value,
                        t.event.value,
                        t.to_state.value,
                        t.detail,
                        t.at_s,
                    ),
                )

    def get(self, swap_id: str) -> SwapRecord:
        row = self._row(swap_id)
        if row is None:
            raise SwapNotFoundError(f"no swap {swap_id!r} in {self.path}; see `swap list`")
        return self._decode(row)

    def list_swaps(self, *, open_only: bool = False) -> list[SwapRecord]:
        where = "WHERE is_open = 1" if open_only else ""
        rows = self.db.query(f"SELECT * FROM swaps {where} ORDER BY updated_at_s, swap_id")
        return [self._decode(r) for r in rows]

    def changed_since(self, touched: int) -> tuple[list[SwapRecord], int]:
        """Swaps saved after the change counter ``touched``, and the counter now. Lets a
        watcher pick up swaps created or changed by the CLI without reading every swap."""
        rows = list(
            self.db.query("SELECT * FROM swaps WHERE touched > ? ORDER BY touched", [touched])
        )
        latest = rows[-1]["touched"] if rows else touched
        return [self._decode(r) for r in rows], latest

    def recent(self, since_s: int) -> list[SwapRecord]:
        """Open swaps plus swaps that ended after ``since_s`` (a reorg may still reopen them)."""
        rows = self.db.query(
            "SELECT * FROM swaps WHERE is_open = 1 OR updated_at_s >= ? ORDER BY touched",
            [since_s],
        )
        return [self._decode(r) for r in rows]

    def follow_cursor(self, name: str) -> str | None:
        """The cursor saved under ``name`` (:meth:`set_follow_cursor`), or None."""
        rows = list(self.db.query("SELECT cursor FROM follow_cursors WHERE name = ?", [name]))
        return str(rows[0]["cursor"]) if rows else None

    def set_follow_cursor(self, name: str, cursor: str) -> None:
        with self.db.conn:
            self.db.execute(
                "INSERT OR REPLACE INTO follow_cursors (name, cursor) VALUES (?, ?)", [name, cursor]
            )

    def by_hashlock(self, hashlock: bytes) -> list[SwapRecord]:
        rows = self.db.query("SELECT * FROM swaps WHERE hashlock = ?", [hashlock.hex()])
        return [self._decode(r) for r in rows]

    def transitions(self, swap_id: str) -> list[Transition]:
        rows = self.db.query("SELECT * FROM transitions WHERE swap_id = ? ORDER BY id", [swap_id])
        return [
            Transition(
                r["swap_id"],
                SwapState(r["from_state"]),
                Event(r["event"]),
                SwapState(r["to_state"]),
                r["detail"],
                r["at_s"],
            )
            for r in rows
        ]

    def _row(self, swap_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM swaps WHERE swap_id = ?", [swap_id]))
        return rows[0] if rows else None

    def _decode(self, row: dict[str, Any]) -> SwapRecord:
        body = json.loads(row["record"])
        intents: Iterable[dict[str, Any]] = self.db.query(
            "SELECT * FROM intents WHERE swap_id = ? ORDER BY seq", [row["swap_id"]]
        )
        body["intents"] = [intent_to_dict(intent_from_dict(i)) for i in intents]
        return record_from_dict(body)

    # --- seed-derived swap secrets --------------------------------------------------------------

    def next_swap_index(self) -> int:
        """The index the next seed-derived swap secret will use (0 on a new database)."""
        rows = list(self.db.query("SELECT next FROM swap_index WHERE id = 1"))
        return int(rows[0]["next"]) if rows else 0

    def reserve_swap_index(self, at_least: int = 0) -> int:
        """Take the next swap index (at least ``at_least``) for good: the increment is committed
        before this returns, so no later call (after a crash too) returns it again."""
        with self.db.conn:
            self.db.execute("BEGIN IMMEDIATE")  # no other process reads the same value
            index = max(self.next_swap_index(), at_least)
            self.db.execute("INSERT OR REPLACE INTO swap_index VALUES (1, ?)", [index + 1])
        return index

    def raise_swap_index(self, at_least: int) -> None:
        """Make the next swap index at least ``at_least`` (``swap recover``: past every index
        found on chain); never lowers it."""
        with self.db.conn:
            self.db.execute("BEGIN IMMEDIATE")
            index = max(self.next_swap_index(), at_least)
            self.db.execute("INSERT OR REPLACE INTO swap_index VALUES (1, ?)", [index])

    # --- the single-watcher lock ----------------------------------------------------------------

    def acquire_watcher_lock(self, owner: str, lease_s: int = 30) -> WatcherLock:
        """Become the one watcher of this database, or raise :class:`WatcherLockError`."""
        lock_path = self.path.with_name(self.path.name + ".watcher.lock")
        handle = open(lock_path, "a+")  # noqa: SIM115 - held for the lock's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise WatcherLockError(
                f"another watcher holds {lock_path}; stop it first (two watchers must not act "
                "on one database)"
            ) from None
        try:
            self._write_lease(owner, lease_s, None, must_own=False)
        except WatcherLockError:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {owner}\n")
        handle.flush()
        return WatcherLock(self, owner, lease_s, handle)

    def _write_lease(self, owner: str, lease_s: int, now_s: int | None, must_own: bool) -> None:
        now = int(time.time()) if now_s is None else now_s
        with self.db.conn:
            rows = list(self.db.query("SELECT * FROM watcher_lease WHERE id = 1"))
            held = rows[0] if rows else None
            if held and held["owner"] != owner and held["lease_until_s"] > now:
                raise WatcherLockError(
                    f"watcher {held['owner']!r} (pid {held['pid']}) holds the lease until "
                    f"{held['lease_until_s']}; stop it or wait for the lease to expire"
                )
            if must_own and (held is None or held["owner"] != owner):
                raise WatcherLockError(f"watcher {owner!r} lost its lease; stopping")
            self.db.execute(
                "INSERT OR REPLACE INTO watcher_lease VALUES (1, ?, ?, ?)",
                [owner, os.getpid(), now + lease_s],
            )
