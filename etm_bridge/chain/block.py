"""ETM blocks: the header of whitepaper 5.2 (with full 256-bit links), Merkle payload hash, JSON.

Header encoding, version 2 (unsigned big-endian; ``unsigned_bytes`` is everything but the
signature; 296 bytes)::

    version u32 | network u32 | timestamp u32 (ETM-epoch seconds) | height u32 |
    previous_block 32 B | number_of_transactions u32 | total_amount u64 | total_fee u64 |
    reward u64 | payload_length u32 | payload_hash 32 B | generator_public_key 32 B |
    reveal 80 B | nonce u64 | block_signature 64 B  (ed25519 over signing_root(genesis id))

* The signature signs ``signing_root(genesis_id) = sha256("ETM-block-signature" || genesis id ||
  unsigned_bytes)``: the chain's genesis id is the **signing domain** (as the beacon
  chain's ``genesis_validators_root``). Every ``node init`` chain shares the network id and the
  development keys, so without it a header a key signed on one chain was a valid signature, and
  double-forging evidence, on every other; with it a header signed for another genesis never
  verifies here, as a block or as evidence.

* ``network`` is the chain parameter ``network_id``: the signature covers it (and the genesis
  id, above), so a header a key signed for another network is never a valid block, nor
  double-forging evidence, here.
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

import struct
from dataclasses import dataclass, field, fields, replace
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
UNSIGNED_HEADER_BYTES = HEADER_BYTES - 64
#: The block signature's domain tag; the genesis id follows it (``BlockHeader.signing_root``).
SIGNING_DOMAIN_TAG = b"ETM-block-signature"


def merkle_root(leaves: list[bytes]) -> bytes:
    """Root over 32-byte leaves; inner node = sha256(0x01 || left || right); an odd last node is
    promoted unchanged (no duplication of the last node, so no CVE-2012-2459 mutation)."""
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

    def signing_root(self, genesis_id: bytes) -> bytes:
        """What the block signature signs: sha256(tag || ``genesis_id`` || unsigned header).

        ``genesis_id`` (the id of the chain's genesis block) is the signing domain: a header
        signed for a chain with another genesis never verifies on this one (module doc)."""
        check_bytes("genesis id", genesis_id, 32)
        return sha256(SIGNING_DOMAIN_TAG + genesis_id + self.unsigned_bytes)

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

    def signature_ok(self, genesis_id: bytes) -> bool:
        """True if the generator signed this header for the chain of ``genesis_id``."""
        root = self.signing_root(genesis_id)
        return verify(self.generator_public_key, root, self.block_signature)

    def solve(self, target: int, max_tries: int = 1 << 32) -> BlockHeader:
        """The first header from ``self.nonce`` on that passes the hashing test (unsigned)."""
        draft = self
        for _ in range(max_tries):
            if draft.hash_value() < target:
                return draft
            draft = replace(draft, nonce=draft.nonce + 1)
        raise ValidationError(f"no nonce below the hashing target in {max_tries} tries")

    def signed(self, key: SigningKey, genesis_id: bytes) -> BlockHeader:
        """This header with ``key``'s signature for the chain of ``genesis_id`` (the forger
        checks slashing protection first)."""
        return replace(self, block_signature=key.sign(self.signing_root(genesis_id)))

    def solve_and_sign(
        self, key: SigningKey, target: int, genesis_id: bytes, max_tries: int = 1 << 32
    ) -> BlockHeader:
        """Search the nonce for the hashing test from ``self.nonce`` on, then sign for the chain
        of ``genesis_id`` (tests and tools; the forger goes through ``Chain.forge_next``, which
        guards the signature)."""
        return self.solve(target, max_tries).signed(key, genesis_id)

    @classmethod
    def read(cls, r: Reader) -> BlockHeader:
        if r.left() >= HEADER_BYTES:  # one struct call; a short header takes the naming path
            values = r.unpack(_HEADER_LAYOUT)
            if values[0] != BLOCK_VERSION:
                raise ValidationError(
                    f"block header version {values[0]}: this node reads version"
                    f" {BLOCK_VERSION} only"
                )
            return cls._from_layout_unchecked(values)
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
    def _from_layout_unchecked(cls, values: tuple[object, ...]) -> BlockHeader:
        """A header from the fields of ``_HEADER_LAYOUT`` without ``__post_init__``: every
        range and length it checks holds by construction (fixed-width fields, bytes)."""
        header = cls.__new__(cls)
        header.__dict__.update(zip(_HEADER_FIELDS, values, strict=True))
        return header

    @classmethod
    def decode(cls, data: bytes) -> BlockHeader:
        r = Reader(data, "block header")
        header = cls.read(r)
        r.done()
        return header._with_encoding(bytes(data))

    def _with_encoding(self, encoded: bytes) -> BlockHeader:
        """Cache the exact bytes this header was read from (its encoding is one-to-one: every
        field has a fixed width), so nothing is encoded again to hash or store it."""
        self.__dict__["encoded"] = encoded
        self.__dict__["unsigned_bytes"] = encoded[:UNSIGNED_HEADER_BYTES]
        return self

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


#: The header's wire layout, in field order (``BlockHeader.read``'s fast path).
_HEADER_LAYOUT = struct.Struct(f">IIII32sIQQQI32s32s{PROOF_BYTES}sQ64s")
_HEADER_FIELDS = tuple(f.name for f in fields(BlockHeader))
assert _HEADER_LAYOUT.size == HEADER_BYTES and len(_HEADER_FIELDS) == 15


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
        header = BlockHeader.read(r)._with_encoding(bytes(data[:HEADER_BYTES]))
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
        block = cls(header, tuple(txs))
        block.__dict__["encoded"] = bytes(data)  # the exact bytes parsed (one-to-one encoding)
        return block

    def to_json(self, with_transactions: bool = False) -> dict[str, Any]:
        out = self.header.to_json()
        out["transactionIds"] = [tx.id.hex() for tx in self.transactions]
        if with_transactions:
            out["transactions"] = [tx.to_json() for tx in self.transactions]
        return out


def payload_summary(txs: tuple[Tx, ...] | list[Tx]) -> tuple[int, bytes]:
    """(payload_length, payload_hash) of a tx list."""
    return sum(tx.size for tx in txs), merkle_root([tx.id for tx in txs])
