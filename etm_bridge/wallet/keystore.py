"""The wallet keystore: ONE passphrase-encrypted file holding the ETM key and every chain's.

What is encrypted is the 32-byte master seed; every chain key is derived from it
(:mod:`etm_bridge.wallet.derive`). The public view (addresses, public keys) is stored in clear
so ``wallet show`` and ``wallet balance`` need no passphrase; :meth:`Keystore.unlock` checks it
against the keys derived from the decrypted seed, so an edited public section is detected as
soon as the wallet is unlocked.

File format, version 2 (JSON, UTF-8, mode 0600)::

    {
      "format": "etm-bridge-keystore",
      "version": 2,
      "created_at": "2026-11-25T15:20:00Z",
      "public": {"etm": {"public_key": hex32, "address": "etm1..."},
                 "<label>": {...the chain's public view: key, addresses...}, ...},
      "kdf": {"name": "argon2id", "salt": hex16, "opslimit": int, "memlimit": int (bytes)},
      "cipher": {"name": "xsalsa20-poly1305", "nonce": hex24, "ciphertext": hex,
                 "ciphertext_sha256": hex32}
    }

Key = argon2id(passphrase NFC-normalised UTF-8, salt, opslimit, memlimit) (libsodium
``crypto_pwhash``), then ``SecretBox(key).encrypt(secret, nonce)``. Version 2 (a wallet made from
words, :mod:`.words`): ``secret`` is the mnemonic's 32 bytes of entropy followed by the 32-byte
master seed they give (with the BIP39 passphrase, which is not stored), so ``export-seed`` can
print the words. Version 1 (a 64-hex seed, made before mnemonics or restored from hex):
``secret`` is the master seed alone; it is still read and written, and has no words.
``ciphertext_sha256`` tells accidental damage
(:class:`~etm_bridge.errors.KeystoreCorruptError`) apart from a wrong passphrase
(:class:`~etm_bridge.errors.WrongPassphraseError`); it is not a security feature (the Poly1305
tag is). KDF limits read from a file are bounded, so a damaged file cannot make us
allocate gigabytes. Files are written atomically (a temporary 0600 file, fsync, then link into
place), never replacing an existing keystore; a keystore readable by group or others is refused
(:class:`~etm_bridge.errors.KeystorePermissionError`).
"""

from __future__ import annotations

import hashlib
import json
import stat
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.secret
import nacl.utils
from nacl.pwhash import argon2id

from ..errors import (
    KeystoreCorruptError,
    KeystoreError,
    KeystorePermissionError,
    PrivateFileError,
    ValidationError,
    WrongPassphraseError,
)
from ..private_files import write_private
from .derive import MASTER_SEED_BYTES, UnlockedWallet, WalletPublic, check_master_seed
from .words import ENTROPY_BYTES, entropy_of, master_seed_of, words_of

FORMAT = "etm-bridge-keystore"
VERSION = 2
#: Every version read: 1 (the master seed alone) and 2 (the words' entropy, then the seed).
VERSIONS = (1, 2)
KDF_NAME = "argon2id"
CIPHER_NAME = "xsalsa20-poly1305"
SALT_BYTES = argon2id.SALTBYTES
NONCE_BYTES = nacl.secret.SecretBox.NONCE_SIZE
#: Upper bounds accepted from a file (libsodium's "sensitive" level is 4 ops / 1 GiB).
MAX_OPSLIMIT = 20
MAX_MEMLIMIT_BYTES = 1 << 30
#: What a keystore may seal: the master seed (version 1), or the entropy and the seed (2).
SECRET_SIZES = (MASTER_SEED_BYTES, 2 * MASTER_SEED_BYTES)


@dataclass(frozen=True)
class KdfParams:
    """argon2id cost: ``opslimit`` passes over ``memlimit_bytes`` of memory."""

    opslimit: int
    memlimit_bytes: int

    def __post_init__(self) -> None:
        if not argon2id.OPSLIMIT_MIN <= self.opslimit <= MAX_OPSLIMIT:
            raise ValidationError(
                f"kdf opslimit must be {argon2id.OPSLIMIT_MIN}..{MAX_OPSLIMIT}, got {self.opslimit}"
            )
        if not argon2id.MEMLIMIT_MIN <= self.memlimit_bytes <= MAX_MEMLIMIT_BYTES:
            raise ValidationError(
                f"kdf memlimit must be {argon2id.MEMLIMIT_MIN}..{MAX_MEMLIMIT_BYTES} bytes, "
                f"got {self.memlimit_bytes}"
            )


#: ~0.15 s and 64 MiB on a small machine: a fair default for a hot wallet.
DEFAULT_KDF = KdfParams(opslimit=3, memlimit_bytes=64 * 1024 * 1024)
#: UNSAFE for real funds: libsodium's minimum cost, so tests stay fast.
UNSAFE_FAST_KDF = KdfParams(opslimit=argon2id.OPSLIMIT_MIN, memlimit_bytes=argon2id.MEMLIMIT_MIN)


def _passphrase_bytes(passphrase: str) -> bytes:
    if not isinstance(passphrase, str) or not passphrase:
        raise ValidationError("the passphrase must be a non-empty string")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


@dataclass(frozen=True)
class SealedSeed:
    """The encrypted master seed and everything needed to decrypt it, given the passphrase."""

    kdf: KdfParams
    salt: bytes
    nonce: bytes
    ciphertext: bytes = field(repr=False)

    def __post_init__(self) -> None:
        for name, value, size in (
            ("salt", self.salt, SALT_BYTES),
            ("nonce", self.nonce, NONCE_BYTES),
        ):
            if len(value) != size:
                raise ValidationError(f"{name} must be {size} bytes, got {len(value)}")
        sizes = {n + nacl.secret.SecretBox.MACBYTES for n in SECRET_SIZES}
        if len(self.ciphertext) not in sizes:
            raise ValidationError(
                f"ciphertext must be {' or '.join(map(str, sorted(sizes)))} bytes, "
                f"got {len(self.ciphertext)}"
            )

    @property
    def has_words(self) -> bool:
        """The sealed secret holds the mnemonic's entropy (a version 2 keystore)."""
        return len(self.ciphertext) - nacl.secret.SecretBox.MACBYTES == 2 * MASTER_SEED_BYTES

    def _box(self, passphrase: str) -> nacl.secret.SecretBox:
        key = argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE,
            _passphrase_bytes(passphrase),
            self.salt,
            opslimit=self.kdf.opslimit,
            memlimit=self.kdf.memlimit_bytes,
        )
        return nacl.secret.SecretBox(key)

    def open(self, passphrase: str) -> bytes:
        """The sealed secret (the master seed, or the words' entropy then the master seed);
        WrongPassphraseError if the passphrase does not decrypt it."""
        try:
            return bytes(self._box(passphrase).decrypt(self.ciphertext, self.nonce))
        except nacl.exceptions.CryptoError:
            raise WrongPassphraseError("wrong passphrase for the keystore") from None


def seal(
    master_seed: bytes,
    passphrase: str,
    kdf: KdfParams = DEFAULT_KDF,
    *,
    salt: bytes | None = None,
    nonce: bytes | None = None,
    entropy: bytes | None = None,
) -> SealedSeed:
    """Encrypt ``master_seed`` (after the words' ``entropy``, if given) under ``passphrase``
    (fresh random salt and nonce by default)."""
    check_master_seed(master_seed)
    secret = master_seed if entropy is None else check_master_seed(entropy) + master_seed
    salt = nacl.utils.random(SALT_BYTES) if salt is None else salt
    nonce = nacl.utils.random(NONCE_BYTES) if nonce is None else nonce
    empty = SealedSeed(kdf, salt, nonce, bytes(len(secret) + nacl.secret.SecretBox.MACBYTES))
    encrypted = empty._box(passphrase).encrypt(secret, nonce)
    return SealedSeed(kdf, salt, nonce, bytes(encrypted.ciphertext))


@dataclass(frozen=True)
class Keystore:
    """A parsed keystore file: the public view in clear and the sealed master seed."""

    path: Path
    public: WalletPublic
    sealed: SealedSeed
    created_at: str

    def unlock(self, passphrase: str) -> UnlockedWallet:
        """Decrypt the seed; check the stored public view is the one the seed derives."""
        try:
            seed = self.sealed.open(passphrase)
        except WrongPassphraseError:
            raise WrongPassphraseError(
                f"wrong passphrase for keystore {self.path} (nothing was changed; try again)"
            ) from None
        entropy = seed[:MASTER_SEED_BYTES] if len(seed) > MASTER_SEED_BYTES else None
        wallet = UnlockedWallet(seed[-MASTER_SEED_BYTES:], mnemonic_entropy=entropy)
        if not wallet.matches(self.public):
            raise KeystoreCorruptError(
                f"keystore {self.path}: the 'public' section does not match the encrypted keys "
                "(the file was edited); do not use its addresses, restore from your seed backup"
            )
        return wallet

    def to_json(self) -> dict[str, Any]:
        s = self.sealed
        return {
            "format": FORMAT,
            "version": 2 if s.has_words else 1,
            "created_at": self.created_at,
            "public": self.public.to_json(),
            "kdf": {
                "name": KDF_NAME,
                "salt": s.salt.hex(),
                "opslimit": s.kdf.opslimit,
                "memlimit": s.kdf.memlimit_bytes,
            },
            "cipher": {
                "name": CIPHER_NAME,
                "nonce": s.nonce.hex(),
                "ciphertext": s.ciphertext.hex(),
                "ciphertext_sha256": hashlib.sha256(s.ciphertext).hexdigest(),
            },
        }


def _field(data: Any, dotted: str, kind: type, path: Path) -> Any:
    """``data[a][b]`` for ``dotted`` "a.b", of type ``kind``; KeystoreCorruptError naming it."""
    value = data
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeystoreCorruptError(f"keystore {path}: field {dotted!r} is missing")
        value = value[part]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise KeystoreCorruptError(
            f"keystore {path}: field {dotted!r} must be {kind.__name__}, got {value!r:.40}"
        )
    return value


def _hex_field(data: Any, dotted: str, path: Path) -> bytes:
    try:
        return bytes.fromhex(_field(data, dotted, str, path))
    except ValueError:
        raise KeystoreCorruptError(f"keystore {path}: field {dotted!r} is not hex") from None


def parse_keystore(data: Any, path: Path) -> Keystore:
    """A :class:`Keystore` from the file's JSON; KeystoreCorruptError naming what is wrong."""
    if _field(data, "format", str, path) != FORMAT:
        raise KeystoreCorruptError(
            f"{path} is not an etm-bridge keystore (format {data['format']!r})"
        )
    version = _field(data, "version", int, path)
    if version not in VERSIONS:
        raise KeystoreCorruptError(
            f"keystore {path} has version {version}; this etm-bridge reads versions "
            f"{', '.join(map(str, VERSIONS))} (a newer etm-bridge made it: upgrade)"
        )
    for dotted, expected in (("kdf.name", KDF_NAME), ("cipher.name", CIPHER_NAME)):
        if _field(data, dotted, str, path) != expected:
            raise KeystoreCorruptError(f"keystore {path}: {dotted} must be {expected!r}")
    ciphertext = _hex_field(data, "cipher.ciphertext", path)
    if hashlib.sha256(ciphertext).digest() != _hex_field(data, "cipher.ciphertext_sha256", path):
        raise KeystoreCorruptError(
            f"keystore {path}: cipher.ciphertext is damaged (its sha256 does not match)"
        )
    try:
        kdf = KdfParams(
            _field(data, "kdf.opslimit", int, path), _field(data, "kdf.memlimit", int, path)
        )
        sealed = SealedSeed(
            kdf,
            _hex_field(data, "kdf.salt", path),
            _hex_field(data, "cipher.nonce", path),
            ciphertext,
        )
        public = WalletPublic.from_json(_field(data, "public", dict, path))
    except ValidationError as exc:
        raise KeystoreCorruptError(f"keystore {path}: {exc}") from None
    if sealed.has_words != (version == 2):
        raise KeystoreCorruptError(
            f"keystore {path}: a version {version} keystore's ciphertext has the wrong size"
        )
    return Keystore(path, public, sealed, _field(data, "created_at", str, path))


# --- files -------------------------------------------------------------------------------------


def check_permissions(path: Path) -> None:
    """KeystorePermissionError if ``path`` is readable or writable by group or others."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeystorePermissionError(
            f"keystore {path} has mode {mode:04o}: other users may have read it. "
            f"Run `chmod 600 {path}`, and move your funds to a new wallet if it was exposed"
        )


def write_private_file(path: Path, text: str, *, replace: bool = False) -> None:
    """Write ``text`` atomically to ``path`` with mode 0600 (parent directory created 0700).

    :func:`etm_bridge.private_files.write_private`: a fresh 0600 temporary file (fsynced) becomes
    ``path`` in one step, never through a symlink; unless ``replace``, an existing file (or link)
    is never overwritten (KeystoreError). A crash leaves the old file or the new one.
    """
    try:
        write_private(path, text, overwrite=replace)
    except PrivateFileError as exc:
        raise KeystoreError(str(exc)) from None


def create_keystore(
    path: Path,
    passphrase: str,
    *,
    master_seed: bytes | None = None,
    kdf: KdfParams = DEFAULT_KDF,
    words: str | None = None,
    bip39_passphrase: str = "",
) -> Keystore:
    """Create a new keystore at ``path``: from ``master_seed`` (64 hex digits restored: a
    version 1 keystore, no words), else from ``words`` (and ``bip39_passphrase``), else from
    fresh random words (version 2; :meth:`UnlockedWallet.unsafe_export_words` reads them).

    Refuses to replace an existing file: its keys may hold funds.
    """
    if master_seed is not None and words is not None:
        raise ValidationError("give a master seed or words, not both")
    path = Path(path)
    if path.exists():
        raise KeystoreError(
            f"keystore {path} already exists; move it away first (its keys may hold funds)"
        )
    entropy = None
    if master_seed is None:
        entropy = nacl.utils.random(ENTROPY_BYTES) if words is None else entropy_of(words)
        master_seed = master_seed_of(words_of(entropy), bip39_passphrase)
    wallet = UnlockedWallet(check_master_seed(master_seed), mnemonic_entropy=entropy)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sealed = seal(master_seed, passphrase, kdf, entropy=entropy)
    keystore = Keystore(path, wallet.public(), sealed, created)
    write_private_file(path, json.dumps(keystore.to_json(), indent=2) + "\n")
    return keystore


def load_keystore(path: Path) -> Keystore:
    """Read and validate the keystore at ``path`` (no passphrase needed for the public view)."""
    path = Path(path)
    if not path.is_file():
        raise KeystoreError(
            f"no keystore at {path}: run `etm-bridge wallet new` or pass --keystore"
        )
    check_permissions(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise KeystoreCorruptError(f"keystore {path} is not valid JSON ({exc})") from None
    except OSError as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc.strerror}") from None
    return parse_keystore(data, path)
