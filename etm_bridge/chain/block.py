"""ETM blocks: the header of whitepaper 5.2 (with full 256-bit links), Merkle payload hash, JSON.

Header encoding, version 2 (unsigned big-endian; ``unsigned_bytes`` is everything but the
signature; 296 bytes)::

    version u32 | network u32 | timestamp u32 (ETM-epoch seconds) | height u32 |
    previous_block 32 B | number_of_transactions u32 | total_amount u64 | total_fee u64 |
    reward u64 | payload_length u32 | payload_hash 32 B | generator_public_key 32 B |
    reveal 80 B | nonce u64 | block_signature 64 B  (ed25519 over sha256(unsigned_bytes))

* ``network`` is the chain parameter ``network_id``: the signature covers it, so a header a key
  signed for another network is never a valid block, nor double-forging evidence, here.
* ``reveal`` is the forger's RANDAO reveal: its VRF proof (``vrf.py``, RFC 9381) over
  ``rounds.reveal_alpha(network, round of height)``; the next round's seed hashes the round's
  reveals (``rounds.py``). Zero bytes in the genesis block.

* ``id = sha256(signed header)``; ``short_id`` = the first 8 bytes as a big-endian decimal string
  (the whitepaper's ``"id": "15787022670460703397"`` form, display only).
* **Deviation from the whitepaper**: ``previous_block`` is the full 32-byte id, not a 64-bit one.
  A 64-bit link can be ground (~2^32 work for a birthday collision); Lisk moved to full hashes in
  LIP-0019 for this reason.
* Light hashing test: ``int(sha256d(unsigned_bytes), big-endian) < params.hash_target``; the
  forger increments ``nonce`` until it passes, then signs once.
* ``payload`` = the signed tx encodings concatenated in block order; ``payload_length`` its byte
  length; ``payload_hash`` = :func:`merkle_root` of the tx ids (sha256 of b"" for no txs).
* Wire form of a block: signed header || u32 tx count || txs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from ..errors import ValidationError
from .codec import U32, U64, Reader, check_bytes, check_uint, sha256, sha256d
from .keys import SigningKey, verify
from .tx import Tx
from .vrf import PROOF_BYTES

#: The header layout this code reads and writes (1: before network id and reveal).
BLOCK_VERSION = 2
ZERO32 = bytes(32)
NO_REVEAL = bytes(PROOF_BYTES)
EMPTY_PAYLOAD_HASH = sha256(b"")
HEADER_BYTES = 4 * 6 + 8 * 4 + 32 * 3 + PROOF_BYTES + 64


def merkle_root(leaves: list[bytes]) -> bytes:
    """Root over 32-byte leaves; inner node = sha256(0x01 || left || right); an odd last node is
    promoted unchanged (no Bitcoin-style duplication, so no CVE-2012-2459 mutation)."""
    if not leaves:
        return EMPTY_PAYLOAD_HASH
    level = leaves
    while len(level) > 1:
        nxt = [sha256(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


@dataclass(frozen=True)
class BlockHeader:
    version: int
    network: int
    timestamp: int
    height: int
    previous_block: bytes
    number_of_transactions: int
    total_amount: int
    total_fee: int
    reward: int
    payload_length: int
    payload_hash: bytes
    generator_public_key: bytes
    reveal: bytes = field(default=NO_REVEAL, repr=False)
    nonce: int = 0
    block_signature: bytes = field(default=bytes(64), repr=False)

    def __post_init__(self) -> None:
        for name in ("version", "network", "timestamp", "height", "number_of_transactions",
                     "payload_length"):  # fmt: skip
            check_uint(name, getattr(self, name), 32)
        for name in ("total_amount", "total_fee", "reward", "nonce"):
            check_uint(name, getattr(self, name), 64)
        check_bytes("previous_block", self.previous_block, 32)
        check_bytes("payload_hash", self.payload_hash, 32)
        check_bytes("generator_public_key", self.generator_public_key, 32)
        check_bytes("reveal", self.reveal, PROOF_BYTES)
        check_bytes("block_signature", self.block_signature, 64)

    @cached_property
    def unsigned_bytes(self) -> bytes:
        return b"".join((
            U32.pack(self.version), U32.pack(self.network), U32.pack(self.timestamp),
            U32.pack(self.height), self.previous_block, U32.pack(self.number_of_transactions),
            U64.pack(self.total_amount), U64.pack(self.total_fee), U64.pack(self.reward),
            U32.pack(self.payload_length), self.payload_hash, self.generator_public_key,
            self.reveal, U64.pack(self.nonce),
        ))  # fmt: skip

    @property
    def signing_root(self) -> bytes:
        """What the block signature signs: sha256 of the unsigned header."""
        return sha256(self.unsigned_bytes)

    @cached_property
    def encoded(self) -> bytes:
        return self.unsigned_bytes + self.block_signature

    @cached_property
    def id(self) -> bytes:
        return sha256(self.encoded)

    @property
    def short_id(self) -> str:
        return str(int.from_bytes(self.id[:8], "big"))

    def hash_value(self) -> int:
        """The light hashing test's value: sha256d of the unsigned header, big-endian."""
        return int.from_bytes(sha256d(self.unsigned_bytes), "big")

    def signature_ok(self) -> bool:
        return verify(self.generator_public_key, self.signing_root, self.block_signature)

    def solve(self, target: int, max_tries: int = 1 << 32) -> BlockHeader:
        """The first header from ``self.nonce`` on that passes the hashing test (unsigned)."""
        draft = self
        for _ in range(max_tries):
            if draft.hash_value() < target:
                return draft
            draft = replace(draft, nonce=draft.nonce + 1)
        raise ValidationError(f"no nonce below the hashing target in {max_tries} tries")

    def signed(self, key: SigningKey) -> BlockHeader:
        """This header with ``key``'s signature (the forger checks slashing protection first)."""
        return replace(self, block_signature=key.sign(self.signing_root))

    def solve_and_sign(self, key: SigningKey, target: int, max_tries: int = 1 << 32) -> BlockHeader:
        """Search the nonce for the hashing test from ``self.nonce`` on, then sign (tests and
        tools; the forger goes through ``Chain.forge_next``, which guards the signature)."""
        return self.solve(target, max_tries).signed(key)

    @classmethod
    def read(cls, r: Reader) -> BlockHeader:
        version = r.u32("version")
        if version != BLOCK_VERSION:
            raise ValidationError(
                f"block header version {version}: this node reads version {BLOCK_VERSION} only"
            )
        return cls(
            version, r.u32("network"), r.u32("timestamp"), r.u32("height"),
            r.take(32, "previous_block"), r.u32("number_of_transactions"), r.u64("total_amount"),
            r.u64("total_fee"), r.u64("reward"), r.u32("payload_length"),
            r.take(32, "payload_hash"), r.take(32, "generator_public_key"),
            r.take(PROOF_BYTES, "reveal"), r.u64("nonce"), r.take(64, "block_signature"),
        )  # fmt: skip

    @classmethod
    def decode(cls, data: bytes) -> BlockHeader:
        r = Reader(data, "block header")
        header = cls.read(r)
        r.done()
        return header

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.short_id,
            "fullId": self.id.hex(),
            "version": self.version,
            "network": self.network,
            "timestamp": self.timestamp,
            "height": self.height,
            "previousBlock": str(int.from_bytes(self.previous_block[:8], "big")),
            "previousBlockId": self.previous_block.hex(),
            "numberOfTransactions": self.number_of_transactions,
            "totalAmount": self.total_amount,
            "totalFee": self.total_fee,
            "reward": self.reward,
            "payloadLength": self.payload_length,
            "payloadHash": self.payload_hash.hex(),
            "generatorPublicKey": self.generator_public_key.hex(),
            "reveal": self.reveal.hex(),
            "blockSignature": self.block_signature.hex(),
            "nonce": self.nonce,
            "totalForged": str(self.reward + self.total_fee),
        }


@dataclass(frozen=True)
class Block:
    header: BlockHeader
    transactions: tuple[Tx, ...] = ()

    @property
    def id(self) -> bytes:
        return self.header.id

    @property
    def height(self) -> int:
        return self.header.height

    @cached_property
    def encoded(self) -> bytes:
        head = self.header.encoded + U32.pack(len(self.transactions))
        return head + b"".join(tx.encoded for tx in self.transactions)

    @classmethod
    def decode(cls, data: bytes) -> Block:
        r = Reader(data, "block")
        header = BlockHeader.read(r)
        count = r.u32("transaction count")
        if count > len(data) // 100:
            raise ValidationError(f"block: {count} transactions cannot fit in {len(data)} bytes")
        txs, pos = [], r.pos
        for _ in range(count):
            tx, rest = Tx.decode_prefix(data, pos)
            pos = len(data) - rest
            txs.append(tx)
        if pos != len(data):
            raise ValidationError(f"block: {len(data) - pos} unexpected trailing bytes")
        return cls(header, tuple(txs))

    def to_json(self, with_transactions: bool = False) -> dict[str, Any]:
        out = self.header.to_json()
        out["transactionIds"] = [tx.id.hex() for tx in self.transactions]
        if with_transactions:
            out["transactions"] = [tx.to_json() for tx in self.transactions]
        return out


def payload_summary(txs: tuple[Tx, ...] | list[Tx]) -> tuple[int, bytes]:
    """(payload_length, payload_hash) of a tx list."""
    return sum(tx.size for tx in txs), merkle_root([tx.id for tx in txs])
