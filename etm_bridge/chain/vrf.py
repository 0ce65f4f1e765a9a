"""ECVRF-EDWARDS25519-SHA512-TAI (RFC 9381, suite 0x03) on the delegates' ed25519 keys.

A VRF proof ``pi`` shows that ``beta = proof_to_hash(pi)`` is *the* output of the key holder's
VRF on ``alpha``: anyone verifies it with the public key, and for a (not low-order) public key
there is exactly one ``beta`` per ``alpha`` that verifies. That uniqueness is why the RANDAO
reveal of a block is a VRF proof and not an ed25519 signature: an ed25519 signature is
deterministic only if the signer follows RFC 8032; a signer may pick any nonce and produce as
many valid signatures of one message as it likes (``tests/unit/chain/test_chain_randao.py``
does it), so a signature-based reveal could still be ground.

    pi = prove(seed, alpha)              # 80 bytes: Gamma (32) || c (16) || s (32)
    beta = verify(public_key, alpha, pi) # 64 bytes, or None if the proof does not verify
    beta = proof_to_hash(pi)             # the output without verifying (only for own proofs)

The secret scalar and the nonce key are derived from the 32-byte ed25519 seed exactly as
RFC 8032 does (so the VRF key *is* the delegate's ed25519 key). Group operations use libsodium
through PyNaCl (the try-and-increment decoding must accept points outside the prime-order
subgroup before the cofactor is cleared: ``_decode_times_cofactor`` says how). Checked against
RFC 9381 Appendix B.3 (``tests/unit/chain/test_chain_vrf.py``).

Stricter than the RFC in two places, both only ever refusing what an honest prover never
produces: the public key and ``Gamma`` must be canonical points of the prime-order subgroup
(libsodium's scalar multiplication refuses anything else), not merely points not of low order.

No well-kept Python package implements RFC 9381 on ed25519 (checked PyPI when this was written:
only unmaintained single-author packages), hence this small module on top of libsodium.
"""

from __future__ import annotations

import hashlib

import nacl.bindings as sodium
import nacl.exceptions

from .codec import check_bytes

SUITE = b"\x03"
PROOF_BYTES = 80
OUTPUT_BYTES = 64
_P = 2**255 - 19
_Q = 2**252 + 27742317777372353535851937790883648493
_C_LEN = 16


def _int(data: bytes) -> int:
    return int.from_bytes(data, "little")


def _scalar(value: int) -> bytes:
    return (value % _Q).to_bytes(32, "little")


def _double(point: bytes) -> bytes:
    return sodium.crypto_core_ed25519_add(point, point)


def _decode_times_cofactor(encoded: bytes) -> bytes | None:
    """8 * string_to_point(encoded) (RFC 8032 5.1.3 decoding), or None if it is no point.

    libsodium's ``crypto_core_ed25519_add`` decodes any point on the curve (also outside the
    prime-order subgroup) and fails when there is none; the two encodings RFC 8032 refuses but
    libsodium would reduce (``y >= p``; ``x = 0`` with the sign bit set) are refused here first.
    """
    y = _int(encoded) & ((1 << 255) - 1)
    if y >= _P or (encoded[31] >> 7 and y in (1, _P - 1)):
        return None
    try:
        return _double(_double(_double(encoded)))
    except nacl.exceptions.RuntimeError:
        return None


def _hash_to_curve(public_key: bytes, alpha: bytes) -> bytes:
    """ECVRF_encode_to_curve_try_and_increment (RFC 9381 5.4.1.1)."""
    for ctr in range(256):
        digest = hashlib.sha512(SUITE + b"\x01" + public_key + alpha + bytes((ctr,)) + b"\x00")
        point = _decode_times_cofactor(digest.digest()[:32])
        if point is not None:
            return point
    raise ValueError("no curve point in 256 tries")  # probability 2**-256


def _challenge(*points: bytes) -> int:
    digest = hashlib.sha512(SUITE + b"\x02" + b"".join(points) + b"\x00").digest()
    return _int(digest[:_C_LEN])


def _secret(seed: bytes) -> tuple[int, bytes]:
    """(secret scalar x, nonce key) from the ed25519 seed, as RFC 8032 5.1.5."""
    h = hashlib.sha512(seed).digest()
    a = bytearray(h[:32])
    a[0] &= 248
    a[31] &= 127
    a[31] |= 64
    return _int(bytes(a)) % _Q, h[32:]


def prove(seed: bytes, alpha: bytes) -> bytes:
    """The 80-byte proof of the VRF of ``alpha`` under the ed25519 key with this seed."""
    check_bytes("seed", seed, 32)
    x, nonce_key = _secret(seed)
    public_key = sodium.crypto_scalarmult_ed25519_base_noclamp(_scalar(x))
    h = _hash_to_curve(public_key, alpha)
    gamma = sodium.crypto_scalarmult_ed25519_noclamp(_scalar(x), h)
    k = _int(hashlib.sha512(nonce_key + h).digest()) % _Q
    u = sodium.crypto_scalarmult_ed25519_base_noclamp(_scalar(k))
    v = sodium.crypto_scalarmult_ed25519_noclamp(_scalar(k), h)
    c = _challenge(public_key, h, gamma, u, v)
    s = (k + c * x) % _Q
    return gamma + c.to_bytes(_C_LEN, "little") + s.to_bytes(32, "little")


def proof_to_hash(proof: bytes) -> bytes:
    """beta: sha512(suite || 0x03 || 8*Gamma || 0x00). Does not verify the proof."""
    check_bytes("vrf proof", proof, PROOF_BYTES)
    gamma8 = _double(_double(_double(proof[:32])))
    return hashlib.sha512(SUITE + b"\x03" + gamma8 + b"\x00").digest()


def verify(public_key: bytes, alpha: bytes, proof: bytes) -> bytes | None:
    """beta if ``proof`` is the VRF proof of ``alpha`` under ``public_key``, else None."""
    if len(public_key) != 32 or len(proof) != PROOF_BYTES:
        return None
    gamma, c, s = proof[:32], _int(proof[32:48]), _int(proof[48:])
    if s >= _Q:
        return None
    try:  # libsodium refuses a key or Gamma outside the prime-order subgroup (module doc)
        h = _hash_to_curve(public_key, alpha)
        c_bytes = c.to_bytes(32, "little")
        u = sodium.crypto_core_ed25519_sub(
            sodium.crypto_scalarmult_ed25519_base_noclamp(proof[48:]),
            sodium.crypto_scalarmult_ed25519_noclamp(c_bytes, public_key),
        )
        v = sodium.crypto_core_ed25519_sub(
            sodium.crypto_scalarmult_ed25519_noclamp(proof[48:], h),
            sodium.crypto_scalarmult_ed25519_noclamp(c_bytes, gamma),
        )
    except (nacl.exceptions.RuntimeError, nacl.exceptions.ValueError, ValueError):
        return None  # a zero scalar or an identity result: never an honest proof
    if _challenge(public_key, h, gamma, u, v) != c:
        return None
    return proof_to_hash(proof)
