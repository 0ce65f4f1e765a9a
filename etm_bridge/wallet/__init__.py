"""The user's wallet: one passphrase-encrypted keystore with a key for ETM and every chain.

- :mod:`.derive` (pure): per-chain keys from one 32-byte master seed, the public view
  (:class:`WalletPublic`) and the unlocked secret (:class:`UnlockedWallet`, ``unsafe_export_*``).
  Each chain's part of the public view comes from its profile (``etm_bridge/chains/<name>/``).
- :mod:`.keystore`: the versioned, encrypted, 0600 keystore file (format in its docstring).

This package talks to no node: balances are read through the chains' adapters.
"""

from .derive import EtmPublic, UnlockedWallet, WalletPublic, derive_secret
from .keystore import (
    DEFAULT_KDF,
    UNSAFE_FAST_KDF,
    KdfParams,
    Keystore,
    create_keystore,
    load_keystore,
)

__all__ = [
    "DEFAULT_KDF",
    "UNSAFE_FAST_KDF",
    "EtmPublic",
    "KdfParams",
    "Keystore",
    "UnlockedWallet",
    "WalletPublic",
    "create_keystore",
    "derive_secret",
    "load_keystore",
]
