"""The user's wallet: one passphrase-encrypted keystore with keys for ETM, BTC and ETH.

- :mod:`.derive` (pure): per-chain keys from one 32-byte master seed, the public view
  (:class:`WalletPublic`) and the unlocked secret (:class:`UnlockedWallet`, ``unsafe_export_*``).
- :mod:`.keystore`: the versioned, encrypted, 0600 keystore file (format in its docstring).

Reading balances from the chains is the CLI's job (``etm-bridge wallet balance``): this package
talks to no node.
"""

from .derive import BtcPublic, EthPublic, EtmPublic, UnlockedWallet, WalletPublic, derive_secret
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
    "BtcPublic",
    "EthPublic",
    "EtmPublic",
    "KdfParams",
    "Keystore",
    "UnlockedWallet",
    "WalletPublic",
    "create_keystore",
    "derive_secret",
    "load_keystore",
]
