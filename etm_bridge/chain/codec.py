"""Fixed-width big-endian binary encoding helpers shared by transactions, blocks and state records.

All integers on the ETM wire and in ETM state are unsigned big-endian. :class:`Reader` consumes a
byte string field by field and raises :class:`~etm_bridge.errors.ValidationError` naming the field
that was short or out of range, so a malformed encoding always says *what* was wrong.
"""

from __future__ import annotations

import hashlib
import struct

from ..errors import ValidationError

U8 = struct.Struct(">B")
U16 = struct.Struct(">H")
U32 = struct.Struct(">I")
U64 = struct.Struct(">Q")
MAX_U32 = 2**32 - 1
MAX_U64 = 2**64 - 1


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256d(data: bytes) -> bytes:
    """Double SHA-256, as in the whitepaper's ``blockhash = sha256(sha256(block))``."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def u64(value: int) -> bytes:
    return U64.pack(value)


def check_uint(name: str, value: int, bits: int) -> None:
    """Raise ValidationError unless ``value`` is an int in [0, 2**bits)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(f"{name} must be an integer, got {type(value).__name__}")
    if not 0 <= value < 2**bits:
        raise ValidationError(f"{name} must be in [0, 2**{bits}), got {value}")


def check_bytes(name: str, value: bytes, length: int) -> None:
    """Raise ValidationError unless ``value`` is ``bytes`` of exactly ``length`` bytes."""
    if not isinstance(value, bytes):
        raise ValidationError(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) != length:
        raise ValidationError(f"{name} must be {length} bytes, got {len(value)}")


class Reader:
    """Consume a byte string field by field; every short read names the field."""

    __slots__ = ("_data", "_pos", "_what")

    def __init__(self, data: bytes, what: str, pos: int = 0):
        self._data = data
        self._pos = pos
        self._what = what

    @property
    def pos(self) -> int:
        return self._pos

    def take(self, n: int, field: str) -> bytes:
        end = self._pos + n
        if end > len(self._data):
            have = len(self._data) - self._pos
            raise ValidationError(f"{self._what}: {field} needs {n} bytes, only {have} left")
        out = self._data[self._pos : end]
        self._pos = end
        return out

    def u8(self, field: str) -> int:
        return int(U8.unpack(self.take(1, field))[0])

    def u16(self, field: str) -> int:
        return int(U16.unpack(self.take(2, field))[0])

    def u32(self, field: str) -> int:
        return int(U32.unpack(self.take(4, field))[0])

    def u64(self, field: str) -> int:
        return int(U64.unpack(self.take(8, field))[0])

    def left(self) -> int:
        """Bytes not consumed yet."""
        return len(self._data) - self._pos

    def unpack(self, layout: struct.Struct) -> tuple[object, ...]:
        """Consume ``layout.size`` bytes as ``layout`` (check :meth:`left` first: a short read
        here raises struct.error, not the field-naming ValidationError of :meth:`take`)."""
        values = layout.unpack_from(self._data, self._pos)
        self._pos += layout.size
        return values

    def var_bytes(self, field: str, max_len: int) -> bytes:
        """A u32 length prefix followed by that many bytes (at most ``max_len``)."""
        n = self.u32(f"{field} length")
        if n > max_len:
            raise ValidationError(f"{self._what}: {field} is {n} bytes, limit {max_len}")
        return self.take(n, field)

    def done(self) -> None:
        """Raise if bytes are left over: encodings are exact, never padded."""
        extra = len(self._data) - self._pos
        if extra:
            raise ValidationError(f"{self._what}: {extra} unexpected trailing bytes")
