"""Deterministic per-chain keys from one 32-byte master seed, and the wallet's public view.

Pure: bytes in, keys and addresses out (no files, no nodes). One master seed gives all three
chains' keys, so a backup of the seed restores the whole wallet:

    secret(chain) = HMAC-SHA512(key = b"etm-bridge/wallet/v1/" + chain,
                                msg = master_seed || counter)[:32]

with ``chain`` one of ``etm``, ``btc``, ``eth`` (the label separates the domains, so no two
chains ever share a key) and ``counter`` a single byte starting at 0. For ``btc`` and ``eth`` a
candidate that is not a valid secp256k1 secret (0 or >= the group order, probability ~2^-128)
is skipped by incrementing the counter; an ed25519 seed is any 32 bytes.

- ETM: the secret is the ed25519 seed; address ``etm1...`` (bech32m of sha256(pubkey)[:20]).
- BTC: compressed secp256k1 public key; P2WPKH address (bech32 v0 of hash160(pubkey)) with the
  network's prefix: ``bc`` mainnet, ``tb`` testnet/signet, ``bcrt`` regtest (python-bitcoinlib's
  ``segwit_addr``, no global ``SelectParams`` state).
- ETH: secp256k1 through eth-account; the EIP-55 checksummed address.

:class:`WalletPublic` holds public data only and is safe to print. :class:`UnlockedWallet` holds
the master seed; raw keys leave it only through methods named ``unsafe_export_...``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from bitcoin.segwit_addr import decode as bech32_decode
from bitcoin.segwit_addr import encode as bech32_encode
from bitcoin.wallet import CKey

from ..chain.address import address_of, decode_address
from ..chain.keys import SigningKey
from ..errors import ValidationError

MASTER_SEED_BYTES = 32
CHAINS = ("etm", "btc", "eth")
DOMAIN_PREFIX = b"etm-bridge/wallet/v1/"
#: Order of the secp256k1 group: a private key is an integer in [1, N - 1].
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
#: Bitcoin network -> bech32 human-readable part.
BTC_HRP = {"mainnet": "bc", "testnet": "tb", "signet": "tb", "regtest": "bcrt"}


def check_master_seed(master_seed: bytes) -> bytes:
    """``master_seed`` if it is 32 bytes, else ValidationError."""
    if not isinstance(master_seed, bytes | bytearray) or len(master_seed) != MASTER_SEED_BYTES:
        size = len(master_seed) if isinstance(master_seed, bytes | bytearray) else "not bytes"
        raise ValidationError(f"master seed must be {MASTER_SEED_BYTES} bytes, got {size}")
    return bytes(master_seed)


def _valid_secp256k1(candidate: bytes) -> bool:
    return 0 < int.from_bytes(candidate, "big") < SECP256K1_N


def derive_secret(master_seed: bytes, chain: str) -> bytes:
    """The 32-byte secret of ``chain`` ("etm", "btc" or "eth") under ``master_seed``."""
    check_master_seed(master_seed)
    if chain not in CHAINS:
        raise ValidationError(f"unknown chain {chain!r}; wallet chains are {', '.join(CHAINS)}")
    key = DOMAIN_PREFIX + chain.encode()
    for counter in range(256):
        digest = hmac.new(key, master_seed + bytes([counter]), hashlib.sha512).digest()
        candidate = digest[:32]
        if chain == "etm" or _valid_secp256k1(candidate):
            return candidate
    raise ValidationError("no valid secp256k1 key in 256 candidates (impossible in practice)")


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
class EtmPublic:
    public_key: bytes
    address: str

    def __post_init__(self) -> None:
        if len(self.public_key) != 32:
            raise ValidationError(f"ETM public key must be 32 bytes, got {len(self.public_key)}")
        decode_address(self.address)
        if address_of(self.public_key) != self.address:
            raise ValidationError(f"ETM address {self.address} is not that of its public key")


@dataclass(frozen=True)
class BtcPublic:
    public_key: bytes

    def __post_init__(self) -> None:
        btc_address(self.public_key, "regtest")  # validates the key's shape

    def address(self, network: str) -> str:
        return btc_address(self.public_key, network)

    def addresses(self) -> dict[str, str]:
        """network -> P2WPKH address, for every known network."""
        return {network: self.address(network) for network in BTC_HRP}


@dataclass(frozen=True)
class EthPublic:
    address: str

    def __post_init__(self) -> None:
        from eth_utils import is_checksum_address

        if not is_checksum_address(self.address):
            raise ValidationError(f"{self.address!r} is not an EIP-55 checksummed address")


@dataclass(frozen=True)
class WalletPublic:
    """Addresses and public keys of the three chains: safe to show and to store unencrypted."""

    etm: EtmPublic
    btc: BtcPublic
    eth: EthPublic

    def to_json(self) -> dict[str, Any]:
        return {
            "etm": {"public_key": self.etm.public_key.hex(), "address": self.etm.address},
            "btc": {"public_key": self.btc.public_key.hex(), "addresses": self.btc.addresses()},
            "eth": {"address": self.eth.address},
        }

    @classmethod
    def from_json(cls, data: Any) -> WalletPublic:
        """Parse :meth:`to_json` output; ValidationError naming the missing/bad field."""
        try:
            return cls(
                etm=EtmPublic(bytes.fromhex(data["etm"]["public_key"]), data["etm"]["address"]),
                btc=BtcPublic(bytes.fromhex(data["btc"]["public_key"])),
                eth=EthPublic(data["eth"]["address"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValidationError(f"public section lacks or mistypes {exc}") from None
        except ValueError as exc:
            raise ValidationError(f"public section: {exc}") from None


def decode_btc_address(address: str) -> tuple[str, bytes]:
    """(network hrp, 20-byte key hash) of a P2WPKH address; ValidationError if not one."""
    for hrp in sorted(set(BTC_HRP.values()), key=len, reverse=True):
        if address.lower().startswith(hrp + "1"):
            version, program = bech32_decode(hrp, address)
            if version == 0 and program is not None and len(program) == 20:
                return hrp, bytes(program)
    raise ValidationError(f"{address!r} is not a P2WPKH (bech32 v0, 20-byte) Bitcoin address")


@dataclass(frozen=True)
class UnlockedWallet:
    """The decrypted master seed. Never printed (repr hides it); keys leave via unsafe_export_*."""

    master_seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_master_seed(self.master_seed)

    def etm_signing_key(self) -> SigningKey:
        """The ETM ed25519 key, ready to sign transactions."""
        return SigningKey(derive_secret(self.master_seed, "etm"))

    def unsafe_export_master_seed(self) -> bytes:
        """UNSAFE: the 32-byte master seed (a backup of it restores every key)."""
        return self.master_seed

    def unsafe_export_etm_seed(self) -> bytes:
        """UNSAFE: the raw 32-byte ed25519 seed of the ETM key."""
        return derive_secret(self.master_seed, "etm")

    def unsafe_export_btc_secret(self) -> bytes:
        """UNSAFE: the raw 32-byte secp256k1 secret of the Bitcoin key (adapter ``secret_hex``)."""
        return derive_secret(self.master_seed, "btc")

    def unsafe_export_chain_secret(self, label: str) -> bytes:
        """UNSAFE: the raw 32-byte secret of the key labelled ``label`` (one of :data:`CHAINS`);
        ValidationError for another label."""
        return derive_secret(self.master_seed, label)

    def unsafe_export_eth_private_key(self) -> str:
        """UNSAFE: the Ethereum private key as ``0x`` hex (adapter ``private_key``)."""
        return "0x" + derive_secret(self.master_seed, "eth").hex()

    def public(self) -> WalletPublic:
        """The public view derived from the seed."""
        from eth_account import Account  # ~1 s to import; only needed here

        etm_key = self.etm_signing_key()
        btc_pub = bytes(CKey(self.unsafe_export_btc_secret(), compressed=True).pub)
        eth_address = Account.from_key(self.unsafe_export_eth_private_key()).address
        return WalletPublic(
            etm=EtmPublic(etm_key.public_key, address_of(etm_key.public_key)),
            btc=BtcPublic(btc_pub),
            eth=EthPublic(str(eth_address)),
        )
