"""The storage seam of the SPV relays: a tiny byte key-value protocol and an in-memory backend.

The relays never talk to a database. The ETM chain state (SQLite, ``etm_bridge.store``) backs
them by implementing :class:`KeyValueStore`; pure tests and benchmarks use
:class:`MemoryKeyValueStore`. ``write_batch`` must be atomic: a relay validates a whole batch
of headers first and then writes it with one call (one database transaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable


@runtime_checkable
class KeyValueStore(Protocol):
    """Byte keys to byte values. ``write_batch`` applies every item or none."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes) -> None: ...

    def write_batch(self, items: Mapping[bytes, bytes]) -> None: ...


class MemoryKeyValueStore:
    """A dict-backed :class:`KeyValueStore` (mutable; for tests, benchmarks and tools)."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self.batches_written = 0

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self._data[bytes(key)] = bytes(value)

    def write_batch(self, items: Mapping[bytes, bytes]) -> None:
        self._data.update(items)
        self.batches_written += 1

    def __len__(self) -> int:
        return len(self._data)


class PrefixedStore:
    """A view of another store under a key prefix, so several relays can share one backend."""

    def __init__(self, inner: KeyValueStore, prefix: bytes) -> None:
        self._inner = inner
        self._prefix = prefix

    def get(self, key: bytes) -> bytes | None:
        return self._inner.get(self._prefix + key)

    def put(self, key: bytes, value: bytes) -> None:
        self._inner.put(self._prefix + key, value)

    def write_batch(self, items: Mapping[bytes, bytes]) -> None:
        prefix = self._prefix
        self._inner.write_batch({prefix + k: v for k, v in items.items()})
