"""Signed ETM transactions and their deterministic byte encoding.

Encoding (all integers unsigned big-endian; this is the consensus format, test vectors in
``tests/unit/chain/vectors/tx_vectors.json``)::

    version     u8      TX_VERSION (1)
    network     u32     chain parameter ``network_id`` (a signature is valid on one chain only)
    type        u16     registry id of the transaction type (see registry.py)
    sender      32 B    ed25519 public key of the sender (the fee payer)
    nonce       u64     must equal the sender account's nonce; applying increments it (no replay)
    fee         u64     base units paid to the block's forger
    payload     u32 length + bytes (at most MAX_PAYLOAD_BYTES), decoded by the type
    signature   64 B    ed25519 over sha256(all the fields above = the *unsigned* encoding)

``id = sha256(signed encoding)`` (32 bytes, shown as hex). A :class:`Tx` is a frozen value object;
building one validates every length and range, and :meth:`Tx.decode` rejects trailing bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..errors import ValidationError
from .address import address_hash, encode_address
from .codec import U16, U32, U64, Reader, check_bytes, check_uint, sha256
from .keys import SIGNATURE_BYTES, SigningKey, verify

TX_VERSION = 1
MAX_PAYLOAD_BYTES = 1 << 20
#: The fixed fields before the payload: version, network, type, sender, nonce, fee, payload length.
_HEAD = struct.Struct(">BIH32sQQI")


@dataclass(frozen=True)
class Tx:
    """A signed transaction. Use :meth:`create` to sign, :meth:`decode` to parse."""

    network: int
    type_id: int
    sender_public_key: bytes
    nonce: int
    fee: int
    payload: bytes
    signature: bytes = field(repr=False)
    version: int = TX_VERSION

    def __post_init__(self) -> None:
        if self.version != TX_VERSION:
            raise ValidationError(f"tx version must be {TX_VERSION}, got {self.version}")
        check_uint("network", self.network, 32)
        check_uint("type", self.type_id, 16)
        check_bytes("sender public key", self.sender_public_key, 32)
        check_uint("nonce", self.nonce, 64)
        check_uint("fee", self.fee, 64)
        if not isinstance(self.payload, bytes) or len(self.payload) > MAX_PAYLOAD_BYTES:
            raise ValidationError(f"payload must be bytes of at most {MAX_PAYLOAD_BYTES} bytes")
        check_bytes("signature", self.signature, SIGNATURE_BYTES)

    @cached_property
    def unsigned_bytes(self) -> bytes:
        return b"".join(
            (
                bytes((self.version,)),
                U32.pack(self.network),
                U16.pack(self.type_id),
                self.sender_public_key,
                U64.pack(self.nonce),
                U64.pack(self.fee),
                U32.pack(len(self.payload)),
                self.payload,
            )
        )

    @cached_property
    def encoded(self) -> bytes:
        """The signed encoding (what goes into blocks and over the wire)."""
        return self.unsigned_bytes + self.signature

    @cached_property
    def id(self) -> bytes:
        return sha256(self.encoded)

    @cached_property
    def sender(self) -> bytes:
        """The 20-byte address hash of the sender."""
        return address_hash(self.sender_public_key)

    @property
    def size(self) -> int:
        return len(self.encoded)

    def signature_ok(self) -> bool:
        return verify(self.sender_public_key, sha256(self.unsigned_bytes), self.signature)

    @classmethod
    def create(
        cls, key: SigningKey, *, network: int, type_id: int, nonce: int, fee: int, payload: bytes
    ) -> Tx:
        """Build and sign a transaction with ``key`` (the sender)."""
        draft = cls(network, type_id, key.public_key, nonce, fee, payload, bytes(64))
        sig = key.sign(sha256(draft.unsigned_bytes))
        return cls(network, type_id, key.public_key, nonce, fee, payload, sig)

    @classmethod
    def decode(cls, data: bytes) -> Tx:
        """Parse a signed encoding; raises ValidationError naming the malformed field."""
        tx, rest = cls.decode_prefix(data)
        if rest:
            raise ValidationError(f"tx: {rest} unexpected trailing bytes")
        return tx

    @classmethod
    def decode_prefix(cls, data: bytes, offset: int = 0) -> tuple[Tx, int]:
        """Parse one tx at ``offset``; returns it and the number of bytes after it."""
        fast = cls._decode_fast(data, offset)
        if fast is not None:
            return fast
        r = Reader(data, "tx", offset)
        version = r.u8("version")
        if version != TX_VERSION:
            raise ValidationError(f"tx: version must be {TX_VERSION}, got {version}")
        network = r.u32("network")
        type_id = r.u16("type")
        sender = r.take(32, "sender public key")
        nonce = r.u64("nonce")
        fee = r.u64("fee")
        payload = r.var_bytes("payload", MAX_PAYLOAD_BYTES)
        sig = r.take(SIGNATURE_BYTES, "signature")
        tx = cls(network, type_id, sender, nonce, fee, payload, sig, version)
        tx.__dict__["encoded"] = data[offset : r.pos]  # cache: the exact bytes we parsed
        return tx, len(data) - r.pos

    @classmethod
    def _decode_fast(cls, data: bytes, offset: int) -> tuple[Tx, int] | None:
        """One struct call for the fixed fields and no ``__post_init__`` (every width holds by
        construction; version and payload limit are checked here); None when anything is off,
        so the field-naming path reports it."""
        if len(data) - offset < _HEAD.size:
            return None
        version, network, type_id, sender, nonce, fee, n = _HEAD.unpack_from(data, offset)
        start = offset + _HEAD.size
        end = start + n + SIGNATURE_BYTES
        if version != TX_VERSION or n > MAX_PAYLOAD_BYTES or end > len(data):
            return None
        tx = cls.__new__(cls)
        tx.__dict__.update(
            network=network, type_id=type_id, sender_public_key=sender, nonce=nonce, fee=fee,
            payload=bytes(data[start : start + n]), signature=bytes(data[start + n : end]),
            version=version, encoded=bytes(data[offset:end]),
            unsigned_bytes=bytes(data[offset : end - SIGNATURE_BYTES]),
        )  # fmt: skip
        return tx, len(data) - end

    def to_json(self) -> dict[str, Any]:
        """Base fields; the registry adds the decoded payload (``Registry.tx_json``)."""
        return {
            "id": self.id.hex(),
            "version": self.version,
            "network": self.network,
            "type": self.type_id,
            "senderPublicKey": self.sender_public_key.hex(),
            "senderAddress": encode_address(self.sender),
            "nonce": self.nonce,
            "fee": self.fee,
            "payload": self.payload.hex(),
            "signature": self.signature.hex(),
            "size": self.size,
        }

    @classmethod
    def from_hex(cls, text: str) -> Tx:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ValidationError("tx hex is not valid hexadecimal") from None
        return cls.decode(raw)
