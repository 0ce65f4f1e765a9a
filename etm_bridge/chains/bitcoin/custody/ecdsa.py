"""secp256k1 ECDSA for custody shares and fraud bodies, through libsecp256k1 (coincurve).

A Bitcoin signature push is ``DER || hash type``. :func:`split_signature` enforces BIP66's
strict DER (``IsValidSignatureEncoding``, ported) and returns ``(der, hash type)``;
:func:`verify` normalises S first (a high-S signature is valid Bitcoin consensus, so a fraud
proof must accept it) and then asks libsecp256k1. :func:`sign` uses RFC 6979 and low S, so
signing one digest twice gives the identical signature (a restarted signer repeats itself).
python-bitcoinlib verifies through OpenSSL with lax DER: not used here. Pure.
"""

from __future__ import annotations

import coincurve

from etm_bridge.errors import ValidationError

SIGHASH_ALL = 0x01
#: The group order n of secp256k1.
ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def is_strict_der(sig: bytes) -> bool:
    """BIP66 ``IsValidSignatureEncoding`` over ``DER || hash type`` (Bitcoin Core's rule)."""
    if not 9 <= len(sig) <= 73 or sig[0] != 0x30 or sig[1] != len(sig) - 3:
        return False
    len_r = sig[3]
    if 5 + len_r >= len(sig):
        return False
    len_s = sig[5 + len_r]
    if len_r + len_s + 7 != len(sig):
        return False
    if sig[2] != 0x02 or len_r == 0 or sig[4] & 0x80:
        return False
    if len_r > 1 and sig[4] == 0 and not sig[5] & 0x80:
        return False
    if sig[len_r + 4] != 0x02 or len_s == 0 or sig[len_r + 6] & 0x80:
        return False
    return not (len_s > 1 and sig[len_r + 6] == 0 and not sig[len_r + 7] & 0x80)


def split_signature(sig: bytes) -> tuple[bytes, int]:
    """``(der, hash type)`` of a strict-DER signature push; ValidationError otherwise."""
    if not isinstance(sig, bytes) or not is_strict_der(sig):
        raise ValidationError("signature is not strict DER || hash type (BIP66)")
    return sig[:-1], sig[-1]


def _der_int(value: int) -> bytes:
    raw = value.to_bytes(32, "big").lstrip(b"\x00") or b"\x00"
    if raw[0] & 0x80:
        raw = b"\x00" + raw
    return b"\x02" + bytes([len(raw)]) + raw


def low_s(der: bytes) -> bytes:
    """The same signature with S in the lower half (strict DER input)."""
    len_r = der[3]
    r = int.from_bytes(der[4 : 4 + len_r], "big")
    s = int.from_bytes(der[6 + len_r :], "big")
    if s > ORDER // 2:
        s = ORDER - s
    body = _der_int(r) + _der_int(s)
    return b"\x30" + bytes([len(body)]) + body


def verify(key: bytes, digest: bytes, sig: bytes) -> int | None:
    """The hash type of ``sig`` if it is ``key``'s valid signature of ``digest``, else None.

    Strict DER, S normalised, any hash type (the caller decides which it accepts)."""
    try:
        der, hash_type = split_signature(sig)
        r_s = low_s(der)
        ok = coincurve.PublicKey(key).verify(r_s, digest, hasher=None)
    except (ValidationError, ValueError, TypeError):
        return None
    return hash_type if ok else None


def verify_share(digest: bytes, key: bytes, sig: bytes) -> bool:
    """A committee share: valid, strict DER, low S and exactly SIGHASH_ALL.

    Low S is required here (not in :func:`verify`): a high-S share is valid consensus but
    non-standard, so a member gossiping one would make every assembled spend unrelayable."""
    try:
        der, _ = split_signature(sig)
    except ValidationError:
        return False
    return low_s(der) == der and verify(key, digest, sig) == SIGHASH_ALL


def sign(secret: bytes, digest: bytes, hash_type: int = SIGHASH_ALL) -> bytes:
    """RFC 6979, low-S ``DER || hash type``."""
    return coincurve.PrivateKey(secret).sign(digest, hasher=None) + bytes([hash_type])


def pubkey(secret: bytes) -> bytes:
    return coincurve.PrivateKey(secret).public_key.format(compressed=True)
