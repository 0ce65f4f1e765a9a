"""Handshake signature hashing and our signing key (pure, no I/O).

``signature_hash`` is hsd's ``TX.signatureHash`` (``lib/primitives/tx.js``): BIP143's layout with
single BLAKE2b-256 in place of double SHA-256 and the type as a u32::

    version u32 | hashPrevouts | hashSequence | prev_txid | prev_index u32 | varbytes(script)
    | value u64 | sequence u32 | hashOutputs | locktime u32 | type u32

ANYONECANPAY zeroes hashPrevouts; NONE, SINGLE and SINGLEREVERSE zero hashSequence; SINGLE
(SINGLEREVERSE) hashes only the output at the input's index (mirrored index), or zeroes when
there is none; NOINPUT replaces this input's outpoint and sequence by an empty input's
(``00..00``, index and sequence 0xffffffff). ``script`` is the witness script, or for a
pay-to-key input the implied ``DUP BLAKE160 <h> EQUALVERIFY CHECKSIG``.

Signatures are 65 bytes: the 64-byte compact ``r || s`` (low S, RFC 6979) and the type byte;
hsd refuses DER.
"""

from __future__ import annotations

import struct

import coincurve

from etm_bridge.errors import ValidationError

from .codec import Tx, blake2b256, varbytes
from .script import key_address, p2pkh_script

SIGHASH_ALL, SIGHASH_NONE, SIGHASH_SINGLE, SIGHASH_SINGLEREVERSE = 1, 2, 3, 4
SIGHASH_NOINPUT, SIGHASH_ANYONECANPAY = 0x40, 0x80
_ZERO = bytes(32)


def signature_hash(tx: Tx, index: int, script: bytes, value: int, hash_type: int) -> bytes:
    """The digest input ``index`` signs (see the module docstring)."""
    if not 0 <= index < len(tx.inputs):
        raise ValidationError(f"input {index} out of range (tx has {len(tx.inputs)})")
    base = hash_type & 0x1F
    if base not in (SIGHASH_ALL, SIGHASH_NONE, SIGHASH_SINGLE, SIGHASH_SINGLEREVERSE):
        raise ValidationError(f"unknown sighash type {hash_type:#x}")
    single = base in (SIGHASH_SINGLE, SIGHASH_SINGLEREVERSE)
    prevouts = sequences = outputs = _ZERO
    if not hash_type & SIGHASH_ANYONECANPAY:
        prevouts = blake2b256(
            b"".join(i.prev_txid + struct.pack("<I", i.prev_index) for i in tx.inputs)
        )
    if not hash_type & SIGHASH_ANYONECANPAY and base == SIGHASH_ALL:
        sequences = blake2b256(b"".join(struct.pack("<I", i.sequence) for i in tx.inputs))
    if not single and base != SIGHASH_NONE:
        outputs = blake2b256(b"".join(o.encode() for o in tx.outputs))
    elif single:
        at = index if base == SIGHASH_SINGLE else len(tx.outputs) - 1 - index
        if 0 <= at < len(tx.outputs):
            outputs = blake2b256(tx.outputs[at].encode())
    this = tx.inputs[index]
    prev_txid, prev_index, sequence = this.prev_txid, this.prev_index, this.sequence
    if hash_type & SIGHASH_NOINPUT:
        prev_txid, prev_index, sequence = _ZERO, 0xFFFFFFFF, 0xFFFFFFFF
    preimage = b"".join([
        struct.pack("<I", tx.version), prevouts, sequences, prev_txid,
        struct.pack("<I", prev_index), varbytes(script), struct.pack("<QI", value, sequence),
        outputs, struct.pack("<II", tx.locktime, hash_type),
    ])  # fmt: skip
    return blake2b256(preimage)


class WalletKey:
    """Our single signing key (compressed secp256k1) and its pay-to-key address."""

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) != 32:
            raise ValidationError("a Handshake private key is 32 bytes")
        try:
            self._key = coincurve.PrivateKey(secret)
        except ValueError as exc:
            raise ValidationError(f"not a valid secp256k1 private key: {exc}") from None
        self.pubkey: bytes = self._key.public_key.format(compressed=True)
        self.address = key_address(self.pubkey)
        self.p2pkh_script = p2pkh_script(self.pubkey)

    def sign(self, digest: bytes, hash_type: int = SIGHASH_ALL) -> bytes:
        """64-byte compact ``r || s`` (low S) plus the type byte."""
        compact = self._key.sign_recoverable(digest, hasher=None)[:64]
        return compact + bytes([hash_type])


class WatchOnlyKey(WalletKey):
    """A public key read without its secret (``balance_of``): an address, no signatures."""

    def __init__(self, pubkey: bytes) -> None:  # no secret: WalletKey's __init__ is not run
        try:
            self.pubkey = coincurve.PublicKey(pubkey).format(compressed=True)
        except (ValueError, TypeError):
            raise ValidationError("not a compressed secp256k1 public key") from None
        self.address = key_address(self.pubkey)
        self.p2pkh_script = p2pkh_script(self.pubkey)

    def sign(self, digest: bytes, hash_type: int = SIGHASH_ALL) -> bytes:
        raise ValidationError("a watch-only Handshake key cannot sign")


def verify_signature(pubkey: bytes, digest: bytes, signature: bytes) -> bool:
    """True if ``signature`` (65 bytes, as hsd wants them) signs ``digest`` for ``pubkey``."""
    if len(signature) != 65:
        return False
    try:
        der = coincurve.ecdsa.cdata_to_der(coincurve.ecdsa.deserialize_compact(signature[:64]))
        return bool(coincurve.PublicKey(pubkey).verify(der, digest, hasher=None))
    except (ValueError, TypeError):
        return False
