"""Bitcoin's part of the wallet: the public view of its key and P2WPKH addresses. Pure.

The wallet derives the key under the label ``btc`` (:mod:`etm_bridge.wallet.derive`); a
candidate outside the secp256k1 range is skipped. The public key is the compressed secp256k1
key; the address is P2WPKH (bech32 v0 of hash160(pubkey)) with the network's prefix: ``bc``
mainnet, ``tb`` testnet/signet, ``bcrt`` regtest (python-bitcoinlib's ``segwit_addr``, no
global ``SelectParams`` state).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bitcoin.segwit_addr import decode as bech32_decode
from bitcoin.segwit_addr import encode as bech32_encode

from etm_bridge.errors import ValidationError
from etm_bridge.wallet.derive import valid_secp256k1_secret

#: Bitcoin network -> bech32 human-readable part.
BTC_HRP = {"mainnet": "bc", "testnet": "tb", "signet": "tb", "regtest": "bcrt"}


def is_valid_secret(candidate: bytes) -> bool:
    """A usable secp256k1 secret (in [1, N - 1])."""
    return valid_secp256k1_secret(candidate)


def hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def btc_address(public_key: bytes, network: str) -> str:
    """The P2WPKH address of a 33-byte compressed public key on ``network``."""
    if network not in BTC_HRP:
        raise ValidationError(f"unknown Bitcoin network {network!r}; known: {', '.join(BTC_HRP)}")
    if len(public_key) != 33 or public_key[0] not in (2, 3):
        raise ValidationError("a Bitcoin public key must be 33 bytes, compressed (02/03 prefix)")
    return str(bech32_encode(BTC_HRP[network], 0, hash160(public_key)))


@dataclass(frozen=True)
class BtcPublic:
    public_key: bytes

    def __post_init__(self) -> None:
        btc_address(self.public_key, "regtest")  # validates the key's shape

    @property
    def key(self) -> bytes:
        """The swap, binding and claim key: the compressed public key."""
        return self.public_key

    def address(self, network: str) -> str:
        return btc_address(self.public_key, network)

    def display_address(self, network: str) -> str:
        return self.address(network)

    def addresses(self) -> dict[str, str]:
        """network -> P2WPKH address, for every known network."""
        return {network: self.address(network) for network in BTC_HRP}

    def to_json(self) -> dict[str, Any]:
        return {"public_key": self.public_key.hex(), "addresses": self.addresses()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BtcPublic:
        return cls(bytes.fromhex(data["public_key"]))


def public_of(secret: bytes) -> BtcPublic:
    """The public view of a 32-byte secret."""
    from bitcoin.wallet import CKey

    return BtcPublic(bytes(CKey(secret, compressed=True).pub))


def decode_btc_address(address: str) -> tuple[str, bytes]:
    """(network hrp, 20-byte key hash) of a P2WPKH address; ValidationError if not one."""
    for hrp in sorted(set(BTC_HRP.values()), key=len, reverse=True):
        if address.lower().startswith(hrp + "1"):
            version, program = bech32_decode(hrp, address)
            if version == 0 and program is not None and len(program) == 20:
                return hrp, bytes(program)
    raise ValidationError(f"{address!r} is not a P2WPKH (bech32 v0, 20-byte) Bitcoin address")


def describe(public: BtcPublic, network: str) -> list[tuple[str, str]]:
    """The ``wallet show`` rows of this chain's key: (label, text); "" continues the row above."""
    return [
        ("BTC", f"{public.address(network)}  ({network}, P2WPKH)"),
        ("", f"public key {public.public_key.hex()}"),
    ]
