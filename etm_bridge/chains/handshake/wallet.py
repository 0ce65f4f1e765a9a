"""Handshake's part of the wallet: the public view of its key and its pay-to-key addresses. Pure.

The wallet derives the key under the label ``hns``; a candidate outside the secp256k1 range is
skipped. The key is the compressed secp256k1 key; the address is version 0 + BLAKE2b-160(key)
in bech32 (BIP173) with hsd's prefixes: ``hs`` main, ``ts`` testnet, ``rs`` regtest, ``ss``
simnet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bitcoin.segwit_addr import encode as bech32_encode

from etm_bridge.errors import ValidationError
from etm_bridge.wallet.derive import valid_secp256k1_secret

HRP = {"main": "hs", "testnet": "ts", "regtest": "rs", "simnet": "ss"}


def is_valid_secret(candidate: bytes) -> bool:
    return valid_secp256k1_secret(candidate)


def hns_address(public_key: bytes, network: str) -> str:
    """The pay-to-key address of a compressed key on ``network``."""
    if network not in HRP:
        raise ValidationError(f"unknown Handshake network {network!r}; known: {', '.join(HRP)}")
    if len(public_key) != 33 or public_key[0] not in (2, 3):
        raise ValidationError("a Handshake public key must be 33 bytes, compressed (02/03)")
    digest = hashlib.blake2b(public_key, digest_size=20).digest()
    return str(bech32_encode(HRP[network], 0, digest))


@dataclass(frozen=True)
class HnsPublic:
    public_key: bytes

    def __post_init__(self) -> None:
        hns_address(self.public_key, "regtest")

    @property
    def key(self) -> bytes:
        return self.public_key

    def address(self, network: str) -> str:
        return hns_address(self.public_key, network)

    def display_address(self, network: str) -> str:
        return self.address(network)

    def to_json(self) -> dict[str, Any]:
        return {
            "public_key": self.public_key.hex(),
            "addresses": {n: self.address(n) for n in HRP},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HnsPublic:
        return cls(bytes.fromhex(data["public_key"]))


def public_of(secret: bytes) -> HnsPublic:
    from .binding import hns_pubkey_of

    return HnsPublic(hns_pubkey_of(secret))


def describe(public: HnsPublic, network: str) -> list[tuple[str, str]]:
    """The ``wallet show`` rows of this chain's key: (label, text); "" continues the row above."""
    return []  # the Handshake key is in `wallet show --json` only (the text view predates it)
