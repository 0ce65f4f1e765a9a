"""What the Handshake verifier reads in a proven transaction: the HTLC template, the lock marker
and the exchange's tagged nulldata outputs. The same bytes as the Handshake adapter's
``script.py`` (a unit test pins them against each other), kept here because a chain folder never
imports an adapter plugin. Pure.

* HTLC (paid to as version 0 + SHA3-256(script))::

      OP_IF OP_SIZE 32 OP_EQUALVERIFY OP_SHA256 <h> OP_EQUALVERIFY <claim>
      OP_ELSE <T> OP_CHECKLOCKTIMEVERIFY OP_DROP <refund> OP_ENDIF OP_CHECKSIG

* Lock marker: the transaction's one nulldata output ``"EB\\x01" | claim (33) | T u32 LE``; the
  refund key is the key input 0 spends with (a pay-to-key coin, witness ``[sig, key]``).
* Deposit: one nulldata ``"ETMD" | owner address20``; payment: one nulldata
  ``"ETMO" | id u64 BE ...`` (at most 4 ids: nulldata holds 40 bytes).
"""

from __future__ import annotations

import hashlib
import struct

from etm_bridge.errors import ValidationError

from ..spv.tx import StrippedTx, blake2b160

MARKER_TAG = b"EB\x01"
DEPOSIT_TAG = b"ETMD"
PAYMENT_TAG = b"ETMO"
MAX_NULLDATA = 40
MAX_PAYMENT_IDS = (MAX_NULLDATA - len(PAYMENT_TAG)) // 8
LOCKTIME_FLAG = 1 << 31
_OP_1, _OP_IF, _OP_ELSE, _OP_ENDIF, _OP_SIZE = 0x51, 0x63, 0x67, 0x68, 0x82
_OP_EQUALVERIFY, _OP_SHA256, _OP_CLTV, _OP_DROP, _OP_CHECKSIG = 0x88, 0xA8, 0xB1, 0x75, 0xAC


def _push(data: bytes) -> bytes:
    if len(data) == 1 and 1 <= data[0] <= 16:
        return bytes([_OP_1 + data[0] - 1])
    assert 2 <= len(data) <= 75 or len(data) == 1
    return bytes([len(data)]) + data


def _script_num(n: int) -> bytes:
    out = n.to_bytes((n.bit_length() + 7) // 8, "little")
    return out + b"\x00" if out and out[-1] & 0x80 else out


def htlc_script(hashlock: bytes, claim: bytes, refund: bytes, timelock: int) -> bytes:
    return b"".join([
        bytes([_OP_IF, _OP_SIZE, 0x01, 0x20, _OP_EQUALVERIFY, _OP_SHA256]), _push(hashlock),
        bytes([_OP_EQUALVERIFY]), _push(claim), bytes([_OP_ELSE]), _push(_script_num(timelock)),
        bytes([_OP_CLTV, _OP_DROP]), _push(refund), bytes([_OP_ENDIF, _OP_CHECKSIG]),
    ])  # fmt: skip


def parse_htlc_script(script: bytes) -> tuple[bytes, bytes, bytes, int]:
    """``(hashlock, claim, refund, timelock_height)`` of exactly the template, or raise."""
    try:
        hashlock, claim, rest = script[7:39], script[41:74], script[75:]
        if rest[0] >= _OP_1:
            timelock, tail = rest[0] - _OP_1 + 1, rest[1:]
        else:
            timelock, tail = int.from_bytes(rest[1 : 1 + rest[0]], "little"), rest[1 + rest[0] :]
        refund = tail[3:36]
    except IndexError:
        raise ValidationError("the witness script is not the etm-bridge HTLC template") from None
    if len(hashlock) != 32 or {len(claim), len(refund)} != {33} or not 0 < timelock < LOCKTIME_FLAG:
        raise ValidationError("the witness script is not the etm-bridge HTLC template")
    if {claim[0], refund[0]} - {2, 3} or htlc_script(hashlock, claim, refund, timelock) != script:
        raise ValidationError("the witness script is not the etm-bridge HTLC template (canonical)")
    return hashlock, claim, refund, timelock


def script_hash(script: bytes) -> bytes:
    """A pay-to-script address hash: SHA3-256 of the witness script."""
    return hashlib.sha3_256(script).digest()


def key_hash(pubkey: bytes) -> bytes:
    """A pay-to-key address hash: BLAKE2b-160 of the compressed key."""
    return blake2b160(pubkey)


def lock_marker(claim: bytes, timelock: int) -> bytes:
    return MARKER_TAG + claim + struct.pack("<I", timelock)


def nulldata(tx: StrippedTx) -> list[bytes]:
    """The data of every nulldata output (consensus allows several; policy one)."""
    return [o.address_hash for o in tx.outputs if o.is_nulldata]


def one_tagged(tx: StrippedTx, tag: bytes, length: int) -> bytes:
    """The data after ``tag`` of the transaction's one nulldata output, or raise."""
    found = nulldata(tx)
    if len(found) != 1 or not found[0].startswith(tag) or len(found[0]) != len(tag) + length:
        raise ValidationError(
            f"the transaction needs exactly one nulldata output {tag.decode()} of "
            f"{len(tag) + length} bytes, found {len(found)} nulldata outputs"
        )
    return found[0][len(tag) :]


def payment_data(obligation_ids: list[int]) -> bytes:
    if not 1 <= len(obligation_ids) <= MAX_PAYMENT_IDS or len(set(obligation_ids)) != len(
        obligation_ids
    ):
        raise ValidationError(f"a Handshake payment lists 1..{MAX_PAYMENT_IDS} distinct ids")
    return PAYMENT_TAG + b"".join(struct.pack(">Q", i) for i in obligation_ids)


def paid_ids(tx: StrippedTx) -> list[int]:
    found = nulldata(tx)
    data = found[0][len(PAYMENT_TAG) :] if len(found) == 1 else b""
    if len(found) != 1 or not found[0].startswith(PAYMENT_TAG) or not data or len(data) % 8:
        raise ValidationError(
            f"the transaction needs exactly one nulldata ETMO output listing 1.."
            f"{MAX_PAYMENT_IDS} obligation ids of 8 bytes"
        )
    ids = [int.from_bytes(data[i : i + 8], "big") for i in range(0, len(data), 8)]
    if len(set(ids)) != len(ids):
        raise ValidationError(f"the payment lists an obligation twice: {ids}")
    return ids
