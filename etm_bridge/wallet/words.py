"""The wallet's BIP39 mnemonic: 24 English words for 32 bytes of entropy, and the master seed.

Pure (no randomness, no files of ours): the word list, checksum and the BIP39 seed are Trezor's
reference implementation (the ``mnemonic`` package), never a list of our own. The entropy is
drawn by the caller (:func:`etm_bridge.wallet.keystore.create_keystore`).

From the words (and an optional BIP39 passphrase, the "25th word", not the keystore's) to the
32-byte master seed that :mod:`.derive` turns into every key::

    bip39_seed  = PBKDF2-HMAC-SHA512(words NFKD, "mnemonic" + passphrase NFKD, 2048)  # BIP39
    master_seed = HMAC-SHA512(key = b"etm-bridge/wallet/v1/bip39", msg = bip39_seed)[:32]

so any BIP39 tool checks the words and yields the same ``bip39_seed``. A keystore made from a
64-hex seed before mnemonics (version 1) keeps that seed: it has no words (docs/security.md,
"Wallet backup: words, seed and swap secrets").
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from mnemonic import Mnemonic

from ..errors import ValidationError
from .derive import MASTER_SEED_BYTES

WORD_COUNT = 24
ENTROPY_BYTES = 32
BIP39_DOMAIN = b"etm-bridge/wallet/v1/bip39"
_ENGLISH = Mnemonic("english")


def words_of(entropy: bytes) -> str:
    """The 24 words (one space between) of 32 bytes of entropy."""
    if len(entropy) != ENTROPY_BYTES:
        raise ValidationError(f"mnemonic entropy must be {ENTROPY_BYTES} bytes, got {len(entropy)}")
    return str(_ENGLISH.to_mnemonic(entropy))


def normalised(words: str) -> str:
    """``words`` lowercased, NFKD, single-spaced; ValidationError naming what is wrong (count,
    an unknown word, the checksum)."""
    text = " ".join(unicodedata.normalize("NFKD", words).lower().split())
    listed = text.split(" ") if text else []
    if len(listed) != WORD_COUNT:
        raise ValidationError(
            f"a wallet mnemonic has {WORD_COUNT} words, got {len(listed)}; type all of them, "
            "in order, separated by spaces"
        )
    unknown = [f"#{i + 1} {w!r}" for i, w in enumerate(listed) if w not in _ENGLISH.wordlist]
    if unknown:
        raise ValidationError(
            f"not BIP39 English words: {', '.join(unknown)}; check the spelling of your backup"
        )
    if not _ENGLISH.check(text):
        raise ValidationError(
            "the mnemonic's checksum does not match: a word is wrong or two are swapped; "
            "check your backup word by word"
        )
    return text


def entropy_of(words: str) -> bytes:
    """The 32 bytes of entropy the (checked) words encode."""
    return bytes(_ENGLISH.to_entropy(normalised(words)))


def master_seed_of(words: str, bip39_passphrase: str = "") -> bytes:
    """The wallet's 32-byte master seed from its words and optional BIP39 passphrase."""
    bip39_seed = Mnemonic.to_seed(normalised(words), bip39_passphrase)
    return hmac.new(BIP39_DOMAIN, bip39_seed, hashlib.sha512).digest()[:MASTER_SEED_BYTES]
