"""Handshake transactions as values, and their exact wire encoding (pure, no I/O).

Layout (hsd ``lib/primitives/tx.js``), every integer little-endian::

    tx      = version u32 | varint nIn | nIn x (prev_txid 32 | prev_index u32 | sequence u32)
              | varint nOut | nOut x output | locktime u32 | nIn x witness
    output  = value u64 | addr_version u8 | addr_len u8 | addr_hash | covenant_type u8
              | varint nItems | nItems x varbytes
    witness = varint nItems | nItems x varbytes

There is no scriptSig and no segwit marker: the witnesses simply follow the locktime. The txid
is BLAKE2b-256 of everything before the witnesses, the wtxid BLAKE2b-256(txid | BLAKE2b-256(the
witnesses)), vsize ceil((3 x base + total) / 4). Hashes are shown as plain hex of their bytes
(never reversed, unlike Bitcoin). :func:`decode_tx` is strict: trailing bytes, truncation, an
address outside 2..40 bytes or an absurd count raise :class:`ValidationError`.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from etm_bridge.errors import ValidationError

#: Largest transaction hsd relays (policy.MAX_TX_SIZE); also bounds every count we parse.
MAX_TX_SIZE = 1_000_000
#: Address versions: 0 = witness v0 (20: BLAKE2b-160 of a key, 32: SHA3-256 of a script),
#: 31 = nulldata (unspendable data of 2..40 bytes).
NULLDATA_VERSION = 31
MAX_NULLDATA = 40
COVENANT_NONE = 0


def blake2b256(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def blake2b160(data: bytes) -> bytes:
    """BLAKE2b with a 20-byte output (not a truncated 256-bit digest)."""
    return hashlib.blake2b(data, digest_size=20).digest()


def sha3_256(data: bytes) -> bytes:
    return hashlib.sha3_256(data).digest()


def varint(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + struct.pack("<I", n)
    return b"\xff" + struct.pack("<Q", n)


def varbytes(data: bytes) -> bytes:
    return varint(len(data)) + data


@dataclass(frozen=True)
class Address:
    """An output's address: version and hash (20/32 bytes for v0, data for nulldata)."""

    version: int
    hash: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.version <= 31 or not 2 <= len(self.hash) <= 40:
            raise ValidationError(
                f"a Handshake address is a version 0..31 and 2..40 bytes, got version "
                f"{self.version} with {len(self.hash)} bytes"
            )

    @property
    def key(self) -> bytes:
        """A compact, hashable form (version byte + hash) for indexes."""
        return bytes([self.version]) + self.hash

    def encode(self) -> bytes:
        return bytes([self.version, len(self.hash)]) + self.hash


@dataclass(frozen=True)
class Output:
    value: int
    address: Address
    covenant_type: int = COVENANT_NONE
    covenant_items: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.value < 1 << 64:
            raise ValidationError(f"output value {self.value} out of range")

    def encode(self) -> bytes:
        items = b"".join(varbytes(i) for i in self.covenant_items)
        return (
            struct.pack("<Q", self.value)
            + self.address.encode()
            + bytes([self.covenant_type])
            + varint(len(self.covenant_items))
            + items
        )


@dataclass(frozen=True)
class Input:
    prev_txid: bytes
    prev_index: int
    sequence: int = 0xFFFFFFFF
    witness: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if len(self.prev_txid) != 32:
            raise ValidationError(f"an input's prev txid is 32 bytes, got {len(self.prev_txid)}")

    @property
    def outpoint(self) -> tuple[str, int]:
        return self.prev_txid.hex(), self.prev_index


@dataclass(frozen=True)
class Tx:
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    locktime: int = 0
    version: int = 0
    #: The base encoding, computed once (not an init field: ``dataclasses.replace`` gets a new one).
    _cache: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def encode_base(self) -> bytes:
        """Everything before the witnesses (what the txid commits to)."""
        if "base" not in self._cache:
            parts = [struct.pack("<I", self.version), varint(len(self.inputs))]
            for i in self.inputs:
                parts.append(i.prev_txid + struct.pack("<II", i.prev_index, i.sequence))
            parts.append(varint(len(self.outputs)))
            parts.extend(o.encode() for o in self.outputs)
            parts.append(struct.pack("<I", self.locktime))
            self._cache["base"] = b"".join(parts)
        return bytes(self._cache["base"])

    def encode_witnesses(self) -> bytes:
        return b"".join(
            varint(len(i.witness)) + b"".join(varbytes(w) for w in i.witness) for i in self.inputs
        )

    def encode(self) -> bytes:
        return self.encode_base() + self.encode_witnesses()

    @property
    def txid(self) -> bytes:
        return blake2b256(self.encode_base())

    @property
    def txid_hex(self) -> str:
        return self.txid.hex()

    @property
    def wtxid(self) -> bytes:
        return blake2b256(self.txid + blake2b256(self.encode_witnesses()))

    @property
    def vsize(self) -> int:
        base, total = len(self.encode_base()), len(self.encode())
        return -(-(3 * base + total) // 4)

    def without_witnesses(self) -> Tx:
        inputs = tuple(Input(i.prev_txid, i.prev_index, i.sequence) for i in self.inputs)
        return Tx(inputs, self.outputs, self.locktime, self.version)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValidationError(f"transaction truncated at byte {self.pos} (needs {n} more)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def varint(self) -> int:
        first = self.u8()
        if first < 0xFD:
            return first
        size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
        value = int.from_bytes(self.take(size), "little")
        if value < (0xFD, 0x10000, 0x100000000)[size.bit_length() - 2]:
            raise ValidationError(f"non-canonical varint at byte {self.pos - size - 1}")
        return value

    def count(self, what: str) -> int:
        n = self.varint()
        if n > len(self.data) - self.pos:
            left = len(self.data) - self.pos
            raise ValidationError(
                f"{what} count {n} at byte {self.pos} exceeds the {left} bytes left "
                "(truncated or corrupt transaction)"
            )
        return n

    def varbytes(self) -> bytes:
        return self.take(self.count("byte"))


def _read_output(r: _Reader) -> Output:
    value = r.u64()
    version, size = r.u8(), r.u8()
    address = Address(version, r.take(size))
    covenant_type = r.u8()
    items = tuple(r.varbytes() for _ in range(r.count("covenant item")))
    return Output(value, address, covenant_type, items)


def decode_tx(raw: bytes) -> Tx:
    """Parse one transaction, all of ``raw`` and nothing else (ValidationError otherwise)."""
    if not isinstance(raw, bytes | bytearray) or not raw:
        raise ValidationError("a Handshake transaction must be non-empty bytes")
    if len(raw) > MAX_TX_SIZE:
        raise ValidationError(f"transaction of {len(raw)} bytes exceeds {MAX_TX_SIZE}")
    r = _Reader(bytes(raw))
    tx, end = _read_tx(r)
    if end != len(raw):
        raise ValidationError(f"{len(raw) - end} trailing bytes after the transaction")
    return tx


def decode_tx_base(raw: bytes) -> Tx:
    """Parse a witness-stripped transaction (what the txid commits to), all of ``raw``."""
    if not isinstance(raw, bytes | bytearray) or not raw or len(raw) > MAX_TX_SIZE:
        raise ValidationError("a stripped Handshake transaction must be 1..1e6 bytes")
    tx, end = _read_tx(_Reader(bytes(raw)), witnesses=False)
    if end != len(raw):
        raise ValidationError(f"{len(raw) - end} trailing bytes after the transaction")
    return tx


def _read_tx(r: _Reader, witnesses: bool = True) -> tuple[Tx, int]:
    version = r.u32()
    heads = []
    for _ in range(r.count("input")):
        prev, index, sequence = r.take(32), r.u32(), r.u32()
        heads.append((prev, index, sequence))
    outputs = tuple(_read_output(r) for _ in range(r.count("output")))
    locktime = r.u32()
    inputs = []
    for prev, index, sequence in heads:
        if not witnesses:
            inputs.append(Input(prev, index, sequence))
            continue
        witness = tuple(r.varbytes() for _ in range(r.count("witness item")))
        inputs.append(Input(prev, index, sequence, witness))
    return Tx(tuple(inputs), outputs, locktime, version), r.pos


def read_tx_at(data: bytes, pos: int) -> tuple[Tx, int]:
    """Parse the transaction starting at ``data[pos]``; returns it and the end offset (blocks)."""
    r = _Reader(data)
    r.pos = pos
    return _read_tx(r)
