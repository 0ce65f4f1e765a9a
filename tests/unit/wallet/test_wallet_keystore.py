"""The keystore file: encryption round trip, wrong passphrase, damage, edits and permissions."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etm_bridge.errors import (
    KeystoreCorruptError,
    KeystoreError,
    KeystorePermissionError,
    ValidationError,
    WrongPassphraseError,
)
from etm_bridge.wallet.derive import UnlockedWallet
from etm_bridge.wallet.keystore import (
    MAX_MEMLIMIT_BYTES,
    UNSAFE_FAST_KDF,
    KdfParams,
    Keystore,
    create_keystore,
    load_keystore,
    parse_keystore,
    seal,
    write_private_file,
)

SEED = bytes(range(32))
PASS = "correct horse battery staple"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    create_keystore(tmp_path / "ks.json", PASS, master_seed=SEED, kdf=UNSAFE_FAST_KDF)
    return tmp_path / "ks.json"


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_round_trip_restores_the_seed_and_public_view(path: Path) -> None:
    keystore = load_keystore(path)
    wallet = keystore.unlock(PASS)
    assert wallet.unsafe_export_master_seed() == SEED
    assert keystore.public == UnlockedWallet(SEED).public()
    assert keystore.sealed.kdf == UNSAFE_FAST_KDF


def test_file_is_0600_holds_no_plain_secret_and_leaves_no_temp_file(path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    wallet = UnlockedWallet(SEED)
    for secret in (
        SEED.hex(),
        wallet.unsafe_export_chain_secret("btc").hex(),
        wallet.unsafe_export_etm_seed().hex(),
    ):
        assert secret not in text
    assert wallet.unsafe_export_chain_secret("eth").hex() not in text
    assert [p.name for p in path.parent.iterdir()] == ["ks.json"]


def test_wrong_passphrase_is_a_clear_error(path: Path) -> None:
    with pytest.raises(WrongPassphraseError, match=f"wrong passphrase for keystore {path}"):
        load_keystore(path).unlock("Correct horse battery staple")


def test_damaged_ciphertext_names_the_field(path: Path) -> None:
    def flip(data: dict) -> None:
        ct = bytearray.fromhex(data["cipher"]["ciphertext"])
        ct[5] ^= 1
        data["cipher"]["ciphertext"] = ct.hex()

    _edit(path, flip)
    with pytest.raises(KeystoreCorruptError, match=r"cipher\.ciphertext is damaged"):
        load_keystore(path)


def test_tampered_ciphertext_with_matching_checksum_fails_authentication(path: Path) -> None:
    import hashlib

    def tamper(data: dict) -> None:
        ct = bytearray.fromhex(data["cipher"]["ciphertext"])
        ct[-1] ^= 0x80
        data["cipher"]["ciphertext"] = ct.hex()
        data["cipher"]["ciphertext_sha256"] = hashlib.sha256(bytes(ct)).hexdigest()

    _edit(path, tamper)
    with pytest.raises(WrongPassphraseError):
        load_keystore(path).unlock(PASS)


def test_edited_public_section_is_detected_on_unlock(path: Path) -> None:
    other = UnlockedWallet(bytes(32)).public().to_json()
    _edit(path, lambda data: data.__setitem__("public", other))
    keystore = load_keystore(path)  # parses: the public view alone is self-consistent
    with pytest.raises(KeystoreCorruptError, match="does not match the encrypted keys"):
        keystore.unlock(PASS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("kdf"), "field 'kdf.name' is missing"),
        (lambda d: d.__setitem__("version", 3), "has version 3"),
        (lambda d: d.__setitem__("format", "geth"), "is not an etm-bridge keystore"),
        (lambda d: d["kdf"].__setitem__("opslimit", "3"), "'kdf.opslimit' must be int"),
        (lambda d: d["kdf"].__setitem__("memlimit", 1 << 40), "kdf memlimit must be"),
        (lambda d: d["kdf"].__setitem__("salt", "zz"), "'kdf.salt' is not hex"),
        (lambda d: d["cipher"].__setitem__("nonce", "00"), "nonce must be 24 bytes"),
        (lambda d: d["public"]["btc"].__setitem__("public_key", "04" * 33), "compressed"),
        (lambda d: d["cipher"].__setitem__("name", "aes"), "cipher.name must be"),
    ],
)
def test_corrupted_fields_are_named(path: Path, change, message: str) -> None:
    _edit(path, change)
    with pytest.raises(KeystoreCorruptError, match=message):
        load_keystore(path)


def test_not_json_is_named(path: Path) -> None:
    path.write_text('{"format": ')
    with pytest.raises(KeystoreCorruptError, match="is not valid JSON"):
        load_keystore(path)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_group_or_world_accessible_keystore_is_refused(path: Path, mode: int) -> None:
    os.chmod(path, mode)
    with pytest.raises(KeystorePermissionError, match=f"chmod 600 {path}"):
        load_keystore(path)


def test_existing_keystore_is_never_replaced(path: Path) -> None:
    before = path.read_bytes()
    with pytest.raises(KeystoreError, match="already exists"):
        create_keystore(path, "another passphrase", kdf=UNSAFE_FAST_KDF)
    assert path.read_bytes() == before


def test_missing_keystore_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="etm-bridge wallet new"):
        load_keystore(tmp_path / "none.json")


def test_fresh_keystores_get_fresh_seeds_salts_and_nonces(tmp_path: Path) -> None:
    a = create_keystore(tmp_path / "a.json", PASS, kdf=UNSAFE_FAST_KDF)
    b = create_keystore(tmp_path / "b.json", PASS, kdf=UNSAFE_FAST_KDF)
    assert a.public != b.public
    assert a.sealed.salt != b.sealed.salt and a.sealed.nonce != b.sealed.nonce


def test_passphrase_is_unicode_normalised() -> None:
    composed, decomposed = "caf\u00e9 passphrase", "cafe\u0301 passphrase"
    sealed = seal(SEED, composed, UNSAFE_FAST_KDF)
    assert sealed.open(decomposed) == SEED


def test_empty_passphrase_and_out_of_range_kdf_are_refused() -> None:
    with pytest.raises(ValidationError, match="non-empty"):
        seal(SEED, "", UNSAFE_FAST_KDF)
    with pytest.raises(ValidationError, match="opslimit"):
        KdfParams(0, UNSAFE_FAST_KDF.memlimit_bytes)
    with pytest.raises(ValidationError, match="memlimit"):
        KdfParams(1, MAX_MEMLIMIT_BYTES + 1)


def test_kdf_parameters_change_the_key() -> None:
    salt, nonce = bytes(16), bytes(24)
    slow = KdfParams(2, UNSAFE_FAST_KDF.memlimit_bytes)
    a = seal(SEED, PASS, UNSAFE_FAST_KDF, salt=salt, nonce=nonce)
    b = seal(SEED, PASS, slow, salt=salt, nonce=nonce)
    assert a.ciphertext != b.ciphertext
    assert b.open(PASS) == SEED


@settings(max_examples=25, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), passphrase=st.text(min_size=1, max_size=40))
def test_any_seed_and_passphrase_round_trip_through_the_file_format(
    seed: bytes, passphrase: str
) -> None:
    sealed = seal(seed, passphrase, UNSAFE_FAST_KDF)
    keystore = Keystore(
        Path("mem.json"), UnlockedWallet(seed).public(), sealed, "2026-01-01T00:00:00Z"
    )
    parsed = parse_keystore(json.loads(json.dumps(keystore.to_json())), Path("mem.json"))
    assert parsed == keystore
    assert parsed.unlock(passphrase).unsafe_export_master_seed() == seed


def test_private_file_write_never_clobbers_and_replace_keeps_0600(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.json"
    write_private_file(target, "one")
    with pytest.raises(KeystoreError, match="was not overwritten"):
        write_private_file(target, "two")
    assert target.read_text() == "one"
    write_private_file(target, "three", replace=True)
    assert target.read_text() == "three"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def _install_a_chain(monkeypatch: pytest.MonkeyPatch) -> str:
    """A chain installed after the keystore was made (a distribution's profile, Bitcoin's
    wallet under the label ``lbtc``); its wallet label."""
    from dataclasses import replace

    from etm_bridge.chains import registry as reg
    from etm_bridge.chains.bitcoin import PROFILE as BITCOIN
    from etm_bridge.chains.profile import AssetSpec

    late = replace(BITCOIN, name="litebit", ticker="lbtc", aliases=(), relay=None, exchange=None,
                   client=None, proof_kinds={}, node_init=None, custody=None,
                   wallet=replace(BITCOIN.wallet, label="lbtc"),
                   assets=AssetSpec("lbtc", lambda a: a == "lbtc", lambda a: None))  # fmt: skip
    core = reg.chain_registry()
    grown = reg.ChainRegistry([*core.entries(), reg.Registered(late, "distribution litebit 1")])
    monkeypatch.setattr(reg, "chain_registry", lambda: grown)
    return "lbtc"


def test_installing_a_chain_keeps_older_keystores_readable_and_their_keys(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # attack (r12): install a chain plugin after the wallet was made; the wallet's public
    # section has no entry for it. Before the fix every existing keystore failed to load as
    # "corrupt" ("public section lacks 'lbtc'"), telling the user to restore from the seed.
    before = load_keystore(path).public.to_json()
    label = _install_a_chain(monkeypatch)
    keystore = load_keystore(path)
    assert keystore.public.to_json() == before  # the pinned entries stay as they were
    wallet = keystore.unlock(PASS)
    derived = wallet.public()
    assert label in derived.chains and label not in keystore.public.chains
    for old in keystore.public.chains:  # the new chain moves no existing key
        assert derived.chains[old].to_json() == before[old]
    secrets = {wallet.unsafe_export_chain_secret(x) for x in (*keystore.public.chains, label)}
    assert len(secrets) == len(keystore.public.chains) + 1  # its own domain, no shared key
    # an edited entry is still detected with the chain installed
    other = UnlockedWallet(bytes(32)).public().to_json()["btc"]
    _edit(path, lambda d: d["public"].__setitem__("btc", other))
    with pytest.raises(KeystoreCorruptError):
        load_keystore(path).unlock(PASS)
