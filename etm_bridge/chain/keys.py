"""ed25519 keys for ETM accounts and delegates (PyNaCl / libsodium).

A :class:`SigningKey` is built from a 32-byte seed; its public key is 32 bytes. :func:`verify`
checks a detached 64-byte signature and returns a bool (it never raises on a bad signature, so
callers decide which typed error to raise). Deterministic seeds (:func:`seed_from_text`) exist for
tests and development chains only: never use them for real funds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions

from .codec import check_bytes, sha256

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
SEED_BYTES = 32


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid ed25519 signature of ``message`` by ``public_key``."""
    if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class SigningKey:
    """An ed25519 private key (seed) with its public key."""

    seed: bytes = field(repr=False)
    public_key: bytes = field(init=False)
    _secret: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_bytes("seed", self.seed, SEED_BYTES)
        pk, sk = nacl.bindings.crypto_sign_seed_keypair(self.seed)
        object.__setattr__(self, "public_key", pk)
        object.__setattr__(self, "_secret", sk)

    def sign(self, message: bytes) -> bytes:
        """The detached 64-byte signature of ``message``."""
        signed = nacl.bindings.crypto_sign(message, self._secret)
        return bytes(signed[:SIGNATURE_BYTES])

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh random key (libsodium's CSPRNG)."""
        import nacl.utils

        return cls(nacl.utils.random(SEED_BYTES))


def seed_from_text(text: str) -> bytes:
    """UNSAFE for real funds: a deterministic seed for tests and development chains."""
    return sha256(b"etm-dev-seed:" + text.encode())


def dev_key(name: str) -> SigningKey:
    """UNSAFE for real funds: the deterministic development key called ``name``."""
    return SigningKey(seed_from_text(name))
