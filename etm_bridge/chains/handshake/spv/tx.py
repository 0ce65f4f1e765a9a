"""Handshake transactions as the ETM relay sees them: the witness-stripped form, parsed strictly.

A proof carries the transaction without its witnesses (hsd ``tx.js:write`` up to the locktime),
because that is exactly what the txid commits to: ``txid = BLAKE2b-256(stripped bytes)``. So
nothing a verifier reads can be swapped by a prover. Layout (little-endian)::

    version u32 | varint nIn | nIn x (prev_txid 32 | prev_index u32 | sequence u32)
    | varint nOut | nOut x (value u64 | addr_version u8 | addr_len u8 | addr_hash
                           | covenant_type u8 | varint nItems | items) | locktime u32

Strict: canonical varints, counts bounded by the bytes left, an address of 2..40 bytes and a
version of at most 31, a value below 2^64 and at most hsd's ``MAX_MONEY``, no trailing bytes.
Pure.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from etm_bridge.errors import ValidationError

MAX_TX_SIZE = 1_000_000
#: hsd ``consensus.MAX_MONEY``: 2.04 billion HNS in dollarydoos.
MAX_MONEY = 2_040_000_000 * 1_000_000
NULLDATA_VERSION = 31


def blake2b256(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def blake2b160(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=20).digest()


@dataclass(frozen=True)
class TxIn:
    prev_txid: bytes
    prev_index: int
    sequence: int


@dataclass(frozen=True)
class TxOut:
    value: int
    address_version: int
    address_hash: bytes
    covenant_type: int
    covenant_items: tuple[bytes, ...]

    @property
    def is_nulldata(self) -> bool:
        return self.address_version == NULLDATA_VERSION


@dataclass(frozen=True)
class StrippedTx:
    version: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    locktime: int
    txid: bytes


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValidationError(f"transaction truncated at byte {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def varint(self) -> int:
        first = self.take(1)[0]
        if first < 0xFD:
            return first
        size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
        value = int.from_bytes(self.take(size), "little")
        if value < {2: 0xFD, 4: 0x10000, 8: 0x100000000}[size]:
            raise ValidationError(f"non-canonical varint at byte {self.pos - size - 1}")
        return value

    def count(self, what: str) -> int:
        n = self.varint()
        if n > len(self.data) - self.pos:
            raise ValidationError(f"{what} count {n} exceeds the bytes left")
        return n


def _output(r: _Reader) -> TxOut:
    value = int(struct.unpack("<Q", r.take(8))[0])
    if value > MAX_MONEY:
        raise ValidationError(f"output value {value} exceeds MAX_MONEY")
    version, size = r.take(1)[0], r.take(1)[0]
    if version > 31 or not 2 <= size <= 40:
        raise ValidationError(f"address version {version} / size {size} is not a Handshake address")
    address = r.take(size)
    covenant = r.take(1)[0]
    items = tuple(r.take(r.count("covenant item byte")) for _ in range(r.count("covenant item")))
    return TxOut(value, version, address, covenant, items)


def parse_stripped_tx(raw: bytes) -> StrippedTx:
    """Parse a witness-stripped transaction, all of ``raw`` (ValidationError otherwise)."""
    if not raw or len(raw) > MAX_TX_SIZE:
        raise ValidationError(f"a stripped Handshake transaction is 1..{MAX_TX_SIZE} bytes")
    r = _Reader(bytes(raw))
    version = r.u32()
    inputs = tuple(TxIn(r.take(32), r.u32(), r.u32()) for _ in range(r.count("input")))
    outputs = tuple(_output(r) for _ in range(r.count("output")))
    locktime = r.u32()
    if r.pos != len(raw):
        raise ValidationError(f"{len(raw) - r.pos} trailing bytes after the transaction")
    if not inputs or not outputs:
        raise ValidationError("a transaction has at least one input and one output")
    return StrippedTx(version, inputs, outputs, locktime, blake2b256(bytes(raw)))
