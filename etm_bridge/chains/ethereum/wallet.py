"""Ethereum's part of the wallet: its key kind and the public view of its key. Pure.

The wallet derives the key under the label ``eth`` (:mod:`etm_bridge.wallet.derive`); a
candidate outside the secp256k1 range is skipped. The public view is the EIP-55 checksummed
address (eth-account), which is also the key swaps, bindings and pools use (20 bytes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etm_bridge.errors import ValidationError
from etm_bridge.observations import KeyKind

#: Ethereum keys are 20-byte addresses (an HTLC names the claimer's address).
ETHEREUM_ADDRESS = KeyKind("ethereum-address", 20)


def is_valid_secret(candidate: bytes) -> bool:
    """A usable secp256k1 secret (in [1, N - 1])."""
    from etm_bridge.wallet.derive import valid_secp256k1_secret

    return valid_secp256k1_secret(candidate)


@dataclass(frozen=True)
class EthPublic:
    address: str

    def __post_init__(self) -> None:
        from eth_utils import is_checksum_address

        if not is_checksum_address(self.address):
            raise ValidationError(f"{self.address!r} is not an EIP-55 checksummed address")

    @property
    def key(self) -> bytes:
        """The swap, binding and claim key: the 20-byte address."""
        return bytes.fromhex(self.address[2:])

    def display_address(self, network: str) -> str:
        return self.address

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EthPublic:
        return cls(data["address"])


def private_key_hex(secret: bytes) -> str:
    """The ``0x`` hex form eth-account and the adapter take."""
    return "0x" + secret.hex()


def public_of(secret: bytes) -> EthPublic:
    """The public view of a 32-byte secret."""
    from eth_account import Account  # ~1 s to import; only needed here

    return EthPublic(str(Account.from_key(private_key_hex(secret)).address))


def describe(public: EthPublic, network: str) -> list[tuple[str, str]]:
    """The ``wallet show`` rows of this chain's key: (label, text); "" continues the row above."""
    return [("ETH", public.address)]
