"""Strict parsing of raw Bitcoin transactions for inclusion proofs (txid, inputs, outputs).

A proof carries the raw transaction, not its txid: the txid is computed here from the
witness-stripped serialization (so a wtxid can never stand in for a txid), and the outputs
are what the ETM contract inspects (e.g. the HTLC lock's value and script). Parsing is strict:
canonical CompactSize, the segwit marker/flag exactly ``00 01``, no superfluous empty witness,
at least one input and one output, and no trailing bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from etm_bridge.chains.bitcoin.spv.headers import HEADER_SIZE, BlockHeader, dsha256
from etm_bridge.errors import InclusionProofError

MAX_TX_SIZE = 4_000_000
MAX_MONEY_SAT = 21_000_000 * 100_000_000


@dataclass(frozen=True)
class TxIn:
    prev_txid_le: bytes
    prev_index: int
    script_sig: bytes
    sequence: int


@dataclass(frozen=True)
class TxOut:
    value_sat: int
    script_pubkey: bytes


@dataclass(frozen=True)
class ParsedTx:
    """A parsed transaction. ``txid_le`` hashes the serialization without witness data, which
    is ``stripped_size`` bytes long (the size the 64-byte rule applies to)."""

    version: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    locktime: int
    has_witness: bool
    txid_le: bytes
    stripped_size: int

    @property
    def txid_hex(self) -> str:
        return self.txid_le[::-1].hex()

    @property
    def is_coinbase(self) -> bool:
        only = self.inputs[0]
        return (
            len(self.inputs) == 1
            and only.prev_txid_le == bytes(32)
            and only.prev_index == 0xFFFFFFFF
        )


class ByteReader:
    """A cursor over wire-format bytes; errors carry ``reason`` and name ``what`` ended."""

    __slots__ = ("data", "pos", "reason", "what")

    def __init__(self, data: bytes, reason: str = "bad-tx", what: str = "transaction") -> None:
        self.data = data
        self.pos = 0
        self.reason = reason
        self.what = what

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise InclusionProofError(self.reason, f"{self.what} ends early")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "little")

    def compact_size(self) -> int:
        """Core's ReadCompactSize with its canonical-encoding check."""
        first = self.take(1)[0]
        if first < 0xFD:
            return first
        width = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
        value = int.from_bytes(self.take(width), "little")
        if value < {2: 0xFD, 4: 0x10000, 8: 0x100000000}[width]:
            raise InclusionProofError(self.reason, "non-canonical CompactSize")
        if value > MAX_TX_SIZE:
            raise InclusionProofError(self.reason, f"CompactSize {value} is too large")
        return value

    def var_bytes(self) -> bytes:
        return self.take(self.compact_size())


def _inputs(reader: ByteReader, count: int) -> tuple[TxIn, ...]:
    items = []
    for _ in range(count):
        prev = reader.take(32)
        index = reader.u32()
        items.append(TxIn(prev, index, reader.var_bytes(), reader.u32()))
    return tuple(items)


def _outputs(reader: ByteReader) -> tuple[TxOut, ...]:
    items = []
    for _ in range(reader.compact_size()):
        value = struct.unpack("<q", reader.take(8))[0]
        if not 0 <= value <= MAX_MONEY_SAT:
            raise InclusionProofError("bad-tx", f"output value {value} sat is out of range")
        items.append(TxOut(value, reader.var_bytes()))
    return tuple(items)


def parse_tx(raw: bytes) -> ParsedTx:
    """Parse a wire-format transaction (legacy or segwit); raises ``bad-tx`` when malformed."""
    raw = bytes(raw)
    if len(raw) > MAX_TX_SIZE:
        raise InclusionProofError("bad-tx", f"transaction of {len(raw)} bytes is too large")
    reader = ByteReader(raw)
    tx = _parse_at(reader)
    if reader.pos != len(raw):
        raise InclusionProofError("bad-tx", f"{len(raw) - reader.pos} trailing bytes")
    return tx


def _parse_at(reader: ByteReader) -> ParsedTx:
    """Parse the transaction that starts at ``reader.pos``; leaves the reader after it."""
    data, start = reader.data, reader.pos
    version = struct.unpack("<i", reader.take(4))[0]
    body_start = reader.pos
    count = reader.compact_size()
    has_witness = count == 0
    if has_witness:
        if reader.take(1) != b"\x01":
            raise InclusionProofError(
                "bad-tx", "unknown segwit flag (or a transaction with no inputs)"
            )
        body_start = reader.pos
        count = reader.compact_size()
    inputs = _inputs(reader, count)
    outputs = _outputs(reader)
    body_end = reader.pos
    if has_witness:
        stacks = [[reader.var_bytes() for _ in range(reader.compact_size())] for _ in inputs]
        if not any(stacks):
            raise InclusionProofError("bad-tx", "superfluous witness record")
    locktime = reader.u32()
    if not inputs or not outputs:
        raise InclusionProofError("bad-tx", "a transaction needs inputs and outputs")
    stripped = (
        data[start : start + 4] + data[body_start:body_end] + data[reader.pos - 4 : reader.pos]
    )
    return ParsedTx(
        version, inputs, outputs, locktime, has_witness, dsha256(stripped), len(stripped)
    )


def split_block(raw_block: bytes) -> tuple[BlockHeader, list[bytes]]:
    """Split a wire-format block (``getblock <hash> 0``) into its header and raw transactions.

    Each transaction is parsed strictly on the way (so it is well formed); raises ``bad-tx``
    naming the index of the first one that is not, or trailing bytes after the last.
    """
    raw_block = bytes(raw_block)
    if len(raw_block) < HEADER_SIZE + 1:
        raise InclusionProofError("bad-block", f"a block of {len(raw_block)} bytes is too short")
    header = BlockHeader.from_bytes(raw_block[:HEADER_SIZE])
    reader = ByteReader(raw_block)
    reader.pos = HEADER_SIZE
    txs = []
    for index in range(reader.compact_size()):
        start = reader.pos
        try:
            _parse_at(reader)
        except InclusionProofError as exc:
            raise InclusionProofError(
                "bad-tx", f"transaction {index} of the block: {exc}"
            ) from None
        txs.append(raw_block[start : reader.pos])
    if reader.pos != len(raw_block) or not txs:
        raise InclusionProofError("bad-block", "a block needs transactions and no trailing bytes")
    return header, txs
