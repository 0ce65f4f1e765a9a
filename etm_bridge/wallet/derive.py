"""Deterministic per-chain keys from one 32-byte master seed, and the wallet's public view.

Pure: bytes in, keys and addresses out (no files, no nodes). One master seed gives every
chain's key, so a backup of the seed restores the whole wallet:

    secret(label) = HMAC-SHA512(key = b"etm-bridge/wallet/v1/" + label,
                                msg = master_seed || counter)[:32]

with ``label`` ``etm`` or an installed chain's wallet label (its ticker; the label separates
the domains, so no two chains ever share a key) and ``counter`` a single byte starting at 0.
A candidate the chain's key scheme cannot use (e.g. 0 or >= the secp256k1 group order,
probability ~2^-128) is skipped by incrementing the counter; an ed25519 seed is any 32 bytes.

- ETM: the secret is the ed25519 seed; address ``etm1...`` (bech32m of sha256(pubkey)[:20]).
- Every other chain: its profile's ``wallet`` part gives the public view (key, addresses);
  ``public.<label>`` reads it (e.g. ``public.<label>.display_address(network)``).

:class:`WalletPublic` holds public data only and is safe to print. :class:`UnlockedWallet` holds
the master seed; raw keys leave it only through methods named ``unsafe_export_...``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..chain.address import address_of, decode_address
from ..chain.keys import SigningKey
from ..errors import ValidationError

if TYPE_CHECKING:
    from ..chains.profile import ChainProfile, ChainPublic

MASTER_SEED_BYTES = 32
#: The core chain's derivation label.
ETM_LABEL = "etm"
DOMAIN_PREFIX = b"etm-bridge/wallet/v1/"
#: The label of swap preimages (:func:`swap_secret`): not a chain label, so never a chain key.
SWAP_PREIMAGE_LABEL = b"swap-preimage"
#: Order of the secp256k1 group: a private key is an integer in [1, N - 1].
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def check_master_seed(master_seed: bytes) -> bytes:
    """``master_seed`` if it is 32 bytes, else ValidationError."""
    if not isinstance(master_seed, bytes | bytearray) or len(master_seed) != MASTER_SEED_BYTES:
        size = len(master_seed) if isinstance(master_seed, bytes | bytearray) else "not bytes"
        raise ValidationError(f"master seed must be {MASTER_SEED_BYTES} bytes, got {size}")
    return bytes(master_seed)


def valid_secp256k1_secret(candidate: bytes) -> bool:
    """A usable secp256k1 private key: an integer in [1, N - 1]."""
    return 0 < int.from_bytes(candidate, "big") < SECP256K1_N


_valid_secp256k1 = valid_secp256k1_secret


def _wallet_chains() -> tuple[ChainProfile, ...]:
    from ..chains.registry import chain_registry

    return chain_registry().profiles


def labels() -> tuple[str, ...]:
    """Every derivation label: ``etm``, then each installed chain's."""
    return (ETM_LABEL, *(p.wallet.label for p in _wallet_chains()))


def __getattr__(name: str) -> Any:
    if name == "CHAINS":  # the labels, as a constant of this module (they are the registry's)
        return labels()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def derive_secret(master_seed: bytes, chain: str) -> bytes:
    """The 32-byte secret labelled ``chain`` (``etm`` or a chain's label) under ``master_seed``."""
    check_master_seed(master_seed)
    profile = next((p for p in _wallet_chains() if p.wallet.label == chain), None)
    if chain != ETM_LABEL and profile is None:
        raise ValidationError(f"unknown chain {chain!r}; wallet chains are {', '.join(labels())}")
    key = DOMAIN_PREFIX + chain.encode()
    for counter in range(256):
        digest = hmac.new(key, master_seed + bytes([counter]), hashlib.sha512).digest()
        candidate = digest[:32]
        if profile is None or profile.wallet.is_valid_secret(candidate):
            return candidate
    raise ValidationError("no valid key in 256 candidates (impossible in practice)")


def swap_secret(master_seed: bytes, index: int) -> bytes:
    """The 32-byte preimage of swap number ``index`` (0, 1, ...) under ``master_seed``::

        HMAC-SHA512(key = b"etm-bridge/wallet/v1/swap-preimage",
                    msg = master_seed || index as 8 bytes big-endian)[:32]

    Its own label, so no swap secret is ever a chain key (their labels are chain names)."""
    check_master_seed(master_seed)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 1 << 64:
        raise ValidationError(f"swap index must be an int in 0..2^64-1, got {index!r}")
    key = DOMAIN_PREFIX + SWAP_PREIMAGE_LABEL
    return hmac.new(key, master_seed + index.to_bytes(8, "big"), hashlib.sha512).digest()[:32]


#: The seed of the quote-only wallet (:func:`quote_only_wallet`): public on purpose.
QUOTE_ONLY_SEED = hashlib.sha256(b"etm-bridge/wallet/v1/quote-only: public, never funded").digest()


def quote_only_wallet() -> UnlockedWallet:
    """A wallet made from a PUBLIC seed, for verbs that read chains and sign nothing
    (``swap quote``): chain adapters are made with a key, but fee rates, block times and pool
    quotes need none of ours, so quoting asks for no passphrase. Everyone can derive these keys:
    nothing may ever be paid to them or signed with them (``swap quote`` only reads)."""
    return UnlockedWallet(QUOTE_ONLY_SEED)


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
class WalletPublic:
    """Addresses and public keys of ETM and every chain (by label): safe to show and to store
    unencrypted. ``public.<label>`` is that chain's view (the label is its profile's)."""

    etm: EtmPublic
    chains: Mapping[str, ChainPublic] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        chains = self.__dict__.get("chains", {})
        if name in chains:
            return chains[name]
        raise AttributeError(f"the wallet has no {name!r} key (chains: {', '.join(chains)})")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "etm": {"public_key": self.etm.public_key.hex(), "address": self.etm.address}
        }
        out.update({label: public.to_json() for label, public in self.chains.items()})
        return out

    @classmethod
    def from_json(cls, data: Any) -> WalletPublic:
        """Parse :meth:`to_json` output; ValidationError naming the missing/bad field.

        ``etm`` is required; a chain's entry is read when that chain is installed and the entry
        is there: a keystore made before a chain was installed has none (installing a chain
        must not make existing wallets unreadable), and an entry of a chain no longer
        installed is left alone."""
        try:
            etm = EtmPublic(bytes.fromhex(data["etm"]["public_key"]), data["etm"]["address"])
            chains = {
                p.wallet.label: p.wallet.public_from_json(data[p.wallet.label])
                for p in _wallet_chains()
                if p.wallet.label in data
            }
            return cls(etm=etm, chains=chains)
        except (KeyError, TypeError) as exc:
            raise ValidationError(f"public section lacks or mistypes {exc}") from None
        except ValueError as exc:
            raise ValidationError(f"public section: {exc}") from None


@dataclass(frozen=True)
class UnlockedWallet:
    """The decrypted master seed (and, for a wallet made from words, the mnemonic's entropy).
    Never printed (repr hides them); keys leave via unsafe_export_*."""

    master_seed: bytes = field(repr=False)
    mnemonic_entropy: bytes | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_master_seed(self.master_seed)
        if self.mnemonic_entropy is not None:
            check_master_seed(self.mnemonic_entropy)

    def etm_signing_key(self) -> SigningKey:
        """The ETM ed25519 key, ready to sign transactions."""
        return SigningKey(derive_secret(self.master_seed, ETM_LABEL))

    def unsafe_export_master_seed(self) -> bytes:
        """UNSAFE: the 32-byte master seed (a backup of it restores every key)."""
        return self.master_seed

    def unsafe_export_mnemonic_entropy(self) -> bytes | None:
        """UNSAFE: the 32 bytes the wallet's 24 words encode (None for a wallet made from a
        64-hex seed, which has no words)."""
        return self.mnemonic_entropy

    def unsafe_swap_secret(self, index: int) -> bytes:
        """UNSAFE: the preimage of the wallet's swap number ``index`` (:func:`swap_secret`)."""
        return swap_secret(self.master_seed, index)

    def unsafe_export_etm_seed(self) -> bytes:
        """UNSAFE: the raw 32-byte ed25519 seed of the ETM key."""
        return derive_secret(self.master_seed, ETM_LABEL)

    def unsafe_export_chain_secret(self, label: str) -> bytes:
        """UNSAFE: the raw 32-byte secret of the key labelled ``label`` (``etm`` or a chain's);
        ValidationError for another label."""
        return derive_secret(self.master_seed, label)

    def matches(self, stored: WalletPublic) -> bool:
        """True when every entry of ``stored`` (a keystore's public section) is the one this
        seed derives: the ETM key and each chain entry it holds (a chain installed after the
        keystore was made has no entry there; its key is derived as for any other)."""
        derived = self.public()
        if derived.etm != stored.etm:
            return False
        return all(
            label in derived.chains and derived.chains[label].to_json() == public.to_json()
            for label, public in stored.chains.items()
        )

    def public(self) -> WalletPublic:
        """The public view derived from the seed."""
        etm_key = self.etm_signing_key()
        chains = {
            p.wallet.label: p.wallet.public_of(derive_secret(self.master_seed, p.wallet.label))
            for p in _wallet_chains()
        }
        return WalletPublic(etm=EtmPublic(etm_key.public_key, address_of(etm_key.public_key)),
                            chains=chains)  # fmt: skip
