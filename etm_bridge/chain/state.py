"""The ETM state API: namespaced key/value tables behind a write-buffering overlay.

This module is pure: it never touches SQLite. State lives in *tables* of ``bytes -> bytes``
records. Each table is declared once (:class:`TableSpec`) by the module that owns it, through the
registry (``registry.py``); writing to an undeclared table is an error. The store
(``etm_bridge/store.py``) implements :class:`StateBackend` (point reads and ordered prefix scans)
and persists the :class:`State`'s net changes in one database transaction per block.

Transaction-type plugins see two faces of the same object:

* ``check(view: StateView, ...)`` gets the read-only :class:`StateView` protocol: ``get``,
  ``get_json``, ``get_u64``, ``scan``, ``account``, ``escrow_total``, ``supply``.
* ``apply(state: State, ...)`` may also ``put``, ``put_json``, ``put_u64``, ``delete``, move money
  with ``transfer``/``credit``/``debit``, lock it with ``to_escrow``/``from_escrow`` and, for
  consensus rules only, ``mint``/``burn``.

Money invariant (tested with hypothesis): ``sum(account balances) + sum(escrow totals) ==
supply``. A plugin that holds ETM (an HTLC, a pool) moves it into a named escrow with
``to_escrow(address, amount, escrow)`` and out with ``from_escrow(escrow, address, amount)``;
it never edits balances directly. Every tx runs inside a savepoint: if ``check`` or ``apply``
raises, all its writes are undone, so a rejected tx changes no state. A backend read that fails
raises :class:`~etm_bridge.errors.StoreError`, which the transaction path re-raises instead of
blaming the transaction.

Records are canonical bytes; ``put_json`` stores canonical JSON (sorted keys, no spaces; ints,
strings, bools, lists and dicts only). The block's net changes, sorted by (table, key), feed the
state digest (:func:`next_state_digest`).
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from ..errors import StoreError, TxRejectedError, ValidationError
from .codec import MAX_U64, U32, U64, sha256

_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
#: (table, key) -> new value, or None for a deletion.
Changes = dict[tuple[str, bytes], bytes | None]


@dataclass(frozen=True)
class TableSpec:
    """A state table declared by ``owner`` (a module or type name). Names are global: prefix
    them with your area (``spv_<ticker>_headers``, ``xchg_pools``)."""

    name: str
    owner: str
    doc: str = ""

    def __post_init__(self) -> None:
        if not _TABLE_NAME.fullmatch(self.name):
            raise ValidationError(f"table name {self.name!r} must match {_TABLE_NAME.pattern}")


ACCOUNTS = "accounts"  # address20 -> balance u64 || nonce u64
ESCROW = "escrow"  # escrow name (utf-8) -> total u64
META = "meta"  # chain metadata: supply, tip, digest
CORE_TABLES = (
    TableSpec(ACCOUNTS, "core", "address hash -> balance u64 || nonce u64"),
    TableSpec(ESCROW, "core", "escrow name -> locked total u64"),
    TableSpec(META, "core", "supply, tip height/id/slot and other chain metadata"),
)
SUPPLY_KEY = b"supply"
_U64_PAIR = struct.Struct(">QQ")


@dataclass(frozen=True)
class Account:
    address: bytes
    balance: int = 0
    nonce: int = 0

    def encode(self) -> bytes:
        return U64.pack(self.balance) + U64.pack(self.nonce)

    @classmethod
    def decode(cls, address: bytes, raw: bytes | None) -> Account:
        if raw is None:
            return cls(address)
        balance, nonce = _U64_PAIR.unpack(raw)
        return cls(address, balance, nonce)


class StateBackend(Protocol):
    """Committed state as the store exposes it (implemented by ``etm_bridge.store``)."""

    def get(self, table: str, key: bytes) -> bytes | None: ...

    def scan(self, table: str, prefix: bytes) -> Iterable[tuple[bytes, bytes]]: ...


class PagedBackend(Protocol):
    """Optional: a backend that reads one bounded page of a table in key order (the store)."""

    def scan_page(
        self, table: str, prefix: bytes, after: bytes | None, limit: int
    ) -> Iterable[tuple[bytes, bytes]]: ...


class BulkBackend(Protocol):
    """Optional: a backend that can read many keys of one table at once."""

    def get_many(self, table: str, keys: Iterable[bytes]) -> dict[bytes, bytes]: ...


class StateView(Protocol):
    """The read-only state API given to ``check`` functions."""

    def get(self, table: str, key: bytes) -> bytes | None: ...
    def get_json(self, table: str, key: bytes) -> Any: ...
    def get_u64(self, table: str, key: bytes) -> int: ...
    def scan(self, table: str, prefix: bytes = b"") -> list[tuple[bytes, bytes]]: ...
    def scan_page(
        self, table: str, prefix: bytes = b"", after: bytes | None = None, limit: int = 100
    ) -> list[tuple[bytes, bytes]]: ...
    def prefetch(self, table: str, keys: Iterable[bytes]) -> None: ...
    def account(self, address: bytes) -> Account: ...
    def escrow_total(self, escrow: str) -> int: ...
    def supply(self) -> int: ...


class EmptyBackend:
    """A backend with no records (genesis, tests)."""

    def get(self, table: str, key: bytes) -> bytes | None:
        return None

    def scan(self, table: str, prefix: bytes) -> Iterable[tuple[bytes, bytes]]:
        return ()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class State:
    """A write-buffering overlay over a :class:`StateBackend`; see the module docstring."""

    def __init__(self, backend: StateBackend, tables: Iterable[str]):
        self._backend = backend
        self._tables = frozenset(tables)
        self._writes: dict[tuple[str, bytes], bytes | None] = {}
        self._orig: dict[tuple[str, bytes], bytes | None] = {}
        self._journal: list[tuple[tuple[str, bytes], bool, bytes | None]] | None = None

    # --- reads ---------------------------------------------------------------------------------

    def get(self, table: str, key: bytes) -> bytes | None:
        k = (table, key)
        if k in self._writes:
            return self._writes[k]
        if k in self._orig:
            return self._orig[k]
        value = self._backend_get(table, key)
        self._orig[k] = value
        return value

    def _backend_get(self, table: str, key: bytes) -> bytes | None:
        try:
            return self._backend.get(table, key)
        except Exception as exc:  # the store failed, not the transaction reading it
            raise StoreError(f"reading state table {table!r} failed: {exc}") from exc

    def prefetch(self, table: str, keys: Iterable[bytes]) -> None:
        """Warm the read cache with one bulk read, when the backend offers ``get_many``."""
        get_many = getattr(self._backend, "get_many", None)
        wanted = [
            k for k in keys if (table, k) not in self._orig and (table, k) not in self._writes
        ]
        if get_many is None or not wanted:
            return
        found = get_many(table, wanted)
        for k in wanted:
            self._orig[(table, k)] = found.get(k)

    def get_json(self, table: str, key: bytes) -> Any:
        raw = self.get(table, key)
        return None if raw is None else json.loads(raw)

    def get_u64(self, table: str, key: bytes) -> int:
        raw = self.get(table, key)
        return 0 if raw is None else int(U64.unpack(raw)[0])

    def scan(self, table: str, prefix: bytes = b"") -> list[tuple[bytes, bytes]]:
        """All records of ``table`` whose key starts with ``prefix``, sorted by key."""
        try:
            merged = dict(self._backend.scan(table, prefix))
        except Exception as exc:  # the store failed, not the transaction reading it
            raise StoreError(f"scanning state table {table!r} failed: {exc}") from exc
        for (t, k), v in self._writes.items():
            if t == table and k.startswith(prefix):
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
        return sorted(merged.items())

    def scan_page(
        self, table: str, prefix: bytes = b"", after: bytes | None = None, limit: int = 100
    ) -> list[tuple[bytes, bytes]]:
        """Up to ``limit`` records of ``table`` whose key starts with ``prefix`` and sorts after
        ``after`` (None: from the first), by key. Bounded work when the backend offers
        ``scan_page`` (the store does: one indexed range query), so a read route can page a
        table of any size; other backends are scanned in full."""
        if limit < 1:
            return []
        pending = {
            k: v
            for (t, k), v in self._writes.items()
            if t == table and k.startswith(prefix) and (after is None or k > after)
        }
        deleted = sum(1 for v in pending.values() if v is None)
        paged = getattr(self._backend, "scan_page", None)
        if paged is None:
            rows = [
                (k, v) for k, v in self._backend.scan(table, prefix) if after is None or k > after
            ]
            last = None
        else:
            rows = list(paged(table, prefix, after, limit + deleted))
            # a full page may stop short of keys the overlay adds beyond its last key
            last = rows[-1][0] if len(rows) == limit + deleted else None
        merged = dict(rows)
        for k, v in pending.items():
            if v is None:
                merged.pop(k, None)
            elif last is None or k <= last:
                merged[k] = v
        return sorted(merged.items())[:limit]

    def account(self, address: bytes) -> Account:
        return Account.decode(address, self.get(ACCOUNTS, address))

    def escrow_total(self, escrow: str) -> int:
        return self.get_u64(ESCROW, escrow.encode())

    def supply(self) -> int:
        return self.get_u64(META, SUPPLY_KEY)

    def has_table(self, table: str) -> bool:
        """Whether ``table`` was declared in the registry (only those can be written)."""
        return table in self._tables

    # --- writes --------------------------------------------------------------------------------

    def put(self, table: str, key: bytes, value: bytes | None) -> None:
        """Write ``value`` (``None`` deletes) to a declared table."""
        if table not in self._tables:
            raise ValidationError(f"state table {table!r} was not declared in the registry")
        k = (table, key)
        if k not in self._orig and k not in self._writes:
            self._orig[k] = self._backend_get(table, key)
        if self._journal is not None:
            had = k in self._writes
            self._journal.append((k, had, self._writes.get(k)))
        self._writes[k] = value

    def delete(self, table: str, key: bytes) -> None:
        self.put(table, key, None)

    def put_json(self, table: str, key: bytes, value: Any) -> None:
        self.put(table, key, canonical_json(value))

    def put_u64(self, table: str, key: bytes, value: int) -> None:
        if not 0 <= value <= MAX_U64:
            raise ValidationError(f"{table}/{key!r}: value {value} out of u64 range")
        self.put(table, key, U64.pack(value))

    def set_account(self, account: Account) -> None:
        self.put(ACCOUNTS, account.address, account.encode())

    def credit(self, address: bytes, amount: int) -> None:
        acct = self.account(address)
        if acct.balance + amount > MAX_U64:
            raise TxRejectedError("overflow", f"balance of {address.hex()} would exceed u64")
        self.set_account(Account(address, acct.balance + amount, acct.nonce))

    def debit(self, address: bytes, amount: int) -> None:
        acct = self.account(address)
        if acct.balance < amount:
            raise TxRejectedError(
                "insufficient_balance",
                f"account {address.hex()} has {acct.balance} base units, needs {amount}",
            )
        self.set_account(Account(address, acct.balance - amount, acct.nonce))

    def transfer(self, sender: bytes, recipient: bytes, amount: int) -> None:
        self.debit(sender, amount)
        self.credit(recipient, amount)

    def to_escrow(self, address: bytes, amount: int, escrow: str) -> None:
        """Move ``amount`` from an account into the named escrow (supply unchanged)."""
        self.debit(address, amount)
        self.put_u64(ESCROW, escrow.encode(), self.escrow_total(escrow) + amount)

    def from_escrow(self, escrow: str, address: bytes, amount: int) -> None:
        """Release ``amount`` from the named escrow to an account."""
        held = self.escrow_total(escrow)
        if held < amount:
            raise ValidationError(f"escrow {escrow!r} holds {held}, cannot release {amount}")
        self.put_u64(ESCROW, escrow.encode(), held - amount)
        self.credit(address, amount)

    def mint(self, address: bytes, amount: int) -> None:
        """Consensus rules only (rewards, genesis): create ``amount`` new units."""
        self.put_u64(META, SUPPLY_KEY, self.supply() + amount)
        self.credit(address, amount)

    def burn_escrow(self, escrow: str, amount: int) -> None:
        """Consensus rules only (slashing): destroy ``amount`` held in an escrow."""
        held = self.escrow_total(escrow)
        if held < amount:
            raise ValidationError(f"escrow {escrow!r} holds {held}, cannot burn {amount}")
        self.put_u64(ESCROW, escrow.encode(), held - amount)
        self.put_u64(META, SUPPLY_KEY, self.supply() - amount)

    # --- savepoints and results ----------------------------------------------------------------

    def savepoint(self) -> None:
        """Start journaling writes so :meth:`rollback` can undo them (one level)."""
        self._journal = []

    def release(self) -> None:
        self._journal = None

    def rollback(self) -> None:
        """Undo every write since :meth:`savepoint`."""
        assert self._journal is not None, "rollback without savepoint"
        for k, had, prev in reversed(self._journal):
            if had:
                self._writes[k] = prev
            else:
                del self._writes[k]
        self._journal = None

    def changes(self) -> Changes:
        """Net changes against the backend (writes that restored the old value are dropped)."""
        return {k: v for k, v in self._writes.items() if self._orig.get(k) != v}

    def undo_of(self, changes: Changes) -> Changes:
        """The old values of ``changes`` (what to write back to revert them)."""
        return {k: self._orig.get(k) for k in changes}


def encode_changes(changes: Changes) -> Iterator[bytes]:
    """Canonical serialisation of a change set, sorted by (table, key): per change
    ``u8 len || table || u32 len || key || (0x00 | 0x01 || u32 len || value)``."""
    pack = U32.pack
    for (table, key), value in sorted(changes.items()):
        if value is None:
            yield b"".join((_table_prefix(table), pack(len(key)), key, b"\x00"))
        else:
            yield b"".join((_table_prefix(table), pack(len(key)), key, b"\x01",
                            pack(len(value)), value))  # fmt: skip


@lru_cache(maxsize=256)
def _table_prefix(table: str) -> bytes:
    name = table.encode()
    return bytes((len(name),)) + name


def next_state_digest(prev_digest: bytes, height: int, changes: Changes) -> bytes:
    """``sha256("etm-state" || prev || height u64 || canonical(changes))``.

    By induction on height this commits to the whole state: two nodes (or a replay from genesis)
    with equal digests at a height applied exactly the same net changes to the same genesis.
    """
    return sha256(b"etm-state" + prev_digest + U64.pack(height) + b"".join(encode_changes(changes)))


class TableStore:
    """One state table seen as the SPV relays' ``KeyValueStore`` (get / put / write_batch).

    Writes go into the block's overlay, so they are committed (or dropped) with the block.
    """

    def __init__(self, state: State, table: str):
        self._state = state
        self._table = table

    def get(self, key: bytes) -> bytes | None:
        return self._state.get(self._table, key)

    def put(self, key: bytes, value: bytes) -> None:
        self._state.put(self._table, key, value)

    def write_batch(self, items: Mapping[bytes, bytes]) -> None:
        for key, value in items.items():
            self._state.put(self._table, key, value)


def decode_changes(data: bytes) -> Changes:
    """Inverse of :func:`encode_changes` (used for the store's undo log)."""
    out: Changes = {}
    pos = 0
    while pos < len(data):
        tlen = data[pos]
        table = data[pos + 1 : pos + 1 + tlen].decode()
        pos += 1 + tlen
        klen = U32.unpack_from(data, pos)[0]
        key = data[pos + 4 : pos + 4 + klen]
        pos += 4 + klen
        if data[pos] == 0:
            out[(table, key)] = None
            pos += 1
        else:
            vlen = U32.unpack_from(data, pos + 1)[0]
            out[(table, key)] = data[pos + 5 : pos + 5 + vlen]
            pos += 5 + vlen
    return out
