"""ETM addresses: bech32m (BIP-350) with human-readable part ``etm`` over a 20-byte key hash.

``address_hash = sha256(public_key)[:20]`` identifies an account in state; its display form is
``etm1...`` (lowercase, 6-character checksum). We use the bech32m constant rather than original
bech32 because bech32m fixes bech32's insertion/deletion weakness next to a final ``p``; the
encoding is otherwise identical. Decoding errors name the problem: mixed case, a character outside
the bech32 alphabet (with its position), a missing separator, a wrong prefix, a bad checksum or a
wrong payload length.
"""

from __future__ import annotations

from ..errors import AddressError
from .codec import sha256

HRP = "etm"
ADDRESS_HASH_BYTES = 20
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= _GEN[i] if (top >> i) & 1 else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc, bits, out = 0, 0, []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad and bits:
        out.append((acc << (to_bits - bits)) & maxv)
    elif not pad and (bits >= from_bits or (acc << (to_bits - bits)) & maxv):
        raise AddressError("address payload has non-zero padding bits")
    return out


def address_hash(public_key: bytes) -> bytes:
    """The 20-byte account identifier of an ed25519 public key."""
    if len(public_key) != 32:
        raise AddressError(f"public key must be 32 bytes, got {len(public_key)}")
    return sha256(public_key)[:ADDRESS_HASH_BYTES]


def encode_address(hash20: bytes) -> str:
    """The ``etm1...`` string of a 20-byte address hash."""
    if len(hash20) != ADDRESS_HASH_BYTES:
        raise AddressError(f"address hash must be 20 bytes, got {len(hash20)}")
    data = _convert_bits(hash20, 8, 5, pad=True)
    poly = _polymod([*_hrp_expand(HRP), *data, 0, 0, 0, 0, 0, 0]) ^ _BECH32M_CONST
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return HRP + "1" + "".join(_CHARSET[d] for d in data + checksum)


def address_of(public_key: bytes) -> str:
    """The ``etm1...`` address of an ed25519 public key."""
    return encode_address(address_hash(public_key))


def decode_address(text: str) -> bytes:
    """The 20-byte hash inside an ``etm1...`` address; raises AddressError naming the problem."""
    if not isinstance(text, str):
        raise AddressError(f"address must be a string, got {type(text).__name__}")
    if text.lower() != text and text.upper() != text:
        raise AddressError(f"address {text!r} mixes upper and lower case")
    s = text.lower()
    sep = s.rfind("1")
    if sep < 1:
        raise AddressError(f"address {text!r} has no '1' separator after the prefix")
    hrp, rest = s[:sep], s[sep + 1 :]
    if hrp != HRP:
        raise AddressError(f"address {text!r} has prefix {hrp!r}, expected {HRP!r}")
    for i, ch in enumerate(rest):
        if ch not in _CHARSET:
            raise AddressError(
                f"address {text!r}: character {ch!r} at position {sep + 1 + i} "
                "is not in the bech32 alphabet"
            )
    values = [_CHARSET.index(c) for c in rest]
    if len(values) < 6:
        raise AddressError(f"address {text!r} is too short to hold a checksum")
    if _polymod(_hrp_expand(hrp) + values) != _BECH32M_CONST:
        raise AddressError(f"address {text!r} has a bad checksum (mistyped character?)")
    data = bytes(_convert_bits(values[:-6], 5, 8, pad=False))
    if len(data) != ADDRESS_HASH_BYTES:
        raise AddressError(f"address {text!r} holds {len(data)} bytes, expected 20")
    return data
