"""Key-value stores over the chain state for the relays' ``check`` (read-only) paths.

:class:`ReadOnlyTableStore` reads one state table; :class:`GenesisOverlayStore` reads a relay's
genesis records first, then a (still empty) table: what a relay started by its first header
batch looks like before that batch is applied. Both refuse writes: a ``check`` never writes.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..chain.state import StateView
from ..errors import ValidationError
from .kvstore import KeyValueStore, MemoryKeyValueStore


class ReadOnlyTableStore:
    """A read-only :class:`~.kvstore.KeyValueStore` over a :class:`StateView` table."""

    def __init__(self, view: StateView, table: str) -> None:
        self._view, self._table = view, table

    def get(self, key: bytes) -> bytes | None:
        return self._view.get(self._table, key)

    def put(self, key: bytes, value: bytes) -> None:
        raise ValidationError("check() may not write relay state")

    def write_batch(self, items: Mapping[bytes, bytes]) -> None:
        raise ValidationError("check() may not write relay state")


class GenesisOverlayStore:
    """Read-only: a relay's genesis records first, then a (still empty) state table."""

    def __init__(self, first: MemoryKeyValueStore, then: KeyValueStore) -> None:
        self._first, self._then = first, then

    def get(self, key: bytes) -> bytes | None:
        value = self._first.get(key)
        return value if value is not None else self._then.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        raise ValidationError("check() may not write relay state")

    def write_batch(self, items: Mapping[bytes, bytes]) -> None:
        raise ValidationError("check() may not write relay state")
