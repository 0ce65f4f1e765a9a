"""Recovery words (BIP39), swap secrets from the seed, and a new keystore's passphrase strength:
through the CLI (``wallet new|restore|export-seed``) and the pure derivations they use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli
from mnemonic import Mnemonic

from etm_bridge.errors import ValidationError
from etm_bridge.wallet import UNSAFE_FAST_KDF, create_keystore, load_keystore
from etm_bridge.wallet.derive import swap_secret
from etm_bridge.wallet.words import entropy_of, master_seed_of, normalised, words_of

pytestmark = pytest.mark.unit

PW = "correct horse battery staple"
#: BIP39's published vector (Trezor): 24 words, passphrase "TREZOR".
VECTOR_WORDS = " ".join(["abandon"] * 23 + ["art"])
VECTOR_BIP39_SEED = (
    "bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8d5"
    "61a7c3de6f5d4a10be8ed2a5e608d68f92fcc8"
)


PINNED_SWAP_SECRET_0 = "aa14d23b87a1cc36e4cfae008acbcc558e497e648241d40381399df465b111b2"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "ETM_STACK_DIR": str(tmp_path / "no-stack"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "ETM_BRIDGE_CONFIG": "",
        "ETM_BRIDGE_DATA_DIR": str(tmp_path / "data"),
        "ETM_BRIDGE_KEYSTORE": "",
        "ETM_BRIDGE_KDF_OPSLIMIT": "1",
        "ETM_BRIDGE_KDF_MEMLIMIT": "8192",
        "WALLET_PW": PW,
    }


def run(env: dict[str, str], *args: str, input: str | None = None):
    return CliRunner(env=env).invoke(cli, ["wallet", *args], input=input)


def test_the_bip39_vector_and_our_master_seed_are_pinned() -> None:
    assert Mnemonic.to_seed(VECTOR_WORDS, "TREZOR").hex() == VECTOR_BIP39_SEED
    assert entropy_of(VECTOR_WORDS) == bytes(32)
    assert words_of(bytes(32)) == VECTOR_WORDS
    assert master_seed_of(VECTOR_WORDS, "TREZOR").hex() == (
        "cb758bd16a151937ab55a823688d82066ad1a04485f6e7cc00a19a7986f257cc"
    )


def test_swap_secrets_are_pinned_domain_separated_and_distinct() -> None:
    seed = bytes(range(32))
    assert swap_secret(seed, 0).hex() == PINNED_SWAP_SECRET_0
    first = [swap_secret(seed, i) for i in range(64)]
    assert len(set(first)) == 64
    assert swap_secret(seed, 0) != swap_secret(bytes(32), 0)
    from etm_bridge.wallet.derive import labels

    keys = {load_label(seed, label) for label in labels()}
    assert not keys & set(first)
    with pytest.raises(ValidationError, match="swap index"):
        swap_secret(seed, -1)


def load_label(seed: bytes, label: str) -> bytes:
    from etm_bridge.wallet.derive import derive_secret

    return derive_secret(seed, label)


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        (" ".join(["abandon"] * 23), "has 24 words, got 23"),
        (" ".join(["abandon"] * 23 + ["artt"]), "#24 'artt'"),
        (" ".join(["abandon"] * 24), "checksum does not match"),
    ],
)
def test_bad_words_are_named(typed: str, said: str) -> None:
    with pytest.raises(ValidationError, match=said):
        normalised(typed)


def test_new_shows_24_words_once_and_restore_gives_the_same_wallet(
    env: dict[str, str], tmp_path: Path
) -> None:
    made = run(env, "new", "--passphrase-env", "WALLET_PW", "--json")
    assert made.exit_code == 0, made.output
    data = json.loads(made.stdout)
    words = data["mnemonic"]
    assert len(words.split()) == 24 and normalised(words) == words
    keystore = load_keystore(Path(env["ETM_BRIDGE_DATA_DIR"]) / "keystore.json")
    assert json.loads(keystore.path.read_text())["version"] == 2
    assert words not in keystore.path.read_text()
    assert "mnemonic" not in run(env, "show", "--json").stdout
    exported = run(env, "export-seed", "--words", "--passphrase-env", "WALLET_PW")
    assert exported.exit_code == 0 and exported.stdout.strip() == words
    other = {**env, "ETM_BRIDGE_DATA_DIR": str(tmp_path / "other"), "WORDS": words.upper()}
    restored = run(other, "restore", "--words-env", "WORDS", "--passphrase-env", "WALLET_PW",
                   "--json")  # fmt: skip
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.stdout)["public"] == data["public"]
    again = run(other, "export-seed", "--words", "--passphrase-env", "WALLET_PW")
    assert again.stdout.strip() == words
    # the hex seed of a words wallet restores it too (a version 1 keystore, no words)
    hex_seed = run(env, "export-seed", "--passphrase-env", "WALLET_PW").stdout.strip()
    third = {**env, "ETM_BRIDGE_DATA_DIR": str(tmp_path / "third"), "SEED": hex_seed}
    assert run(third, "new", "--passphrase-env", "WALLET_PW", "--restore-seed-env",
               "SEED").exit_code == 0  # fmt: skip
    assert json.loads(run(third, "show", "--json").stdout)["public"] == data["public"]


def test_a_bip39_passphrase_gives_another_wallet(env: dict[str, str], tmp_path: Path) -> None:
    plain = {**env, "WORDS": VECTOR_WORDS}
    assert run(plain, "restore", "--words-env", "WORDS", "--passphrase-env",
               "WALLET_PW").exit_code == 0  # fmt: skip
    other = {**plain, "ETM_BRIDGE_DATA_DIR": str(tmp_path / "o"), "B39": "TREZOR"}
    done = run(other, "restore", "--words-env", "WORDS", "--bip39-passphrase-env", "B39",
               "--passphrase-env", "WALLET_PW")  # fmt: skip
    assert done.exit_code == 0, done.output
    a = json.loads(run(plain, "show", "--json").stdout)["public"]
    b = json.loads(run(other, "show", "--json").stdout)["public"]
    assert a != b
    ks = load_keystore(Path(other["ETM_BRIDGE_DATA_DIR"]) / "keystore.json")
    assert ks.unlock(PW).master_seed == master_seed_of(VECTOR_WORDS, "TREZOR")


def test_restore_with_a_typo_names_the_word_and_writes_nothing(env: dict[str, str]) -> None:
    typo = {**env, "WORDS": " ".join(["abandon"] * 23 + ["arts"])}
    result = run(typo, "restore", "--words-env", "WORDS", "--passphrase-env", "WALLET_PW")
    assert result.exit_code != 0
    assert "#24 'arts'" in result.output
    assert not (Path(env["ETM_BRIDGE_DATA_DIR"]) / "keystore.json").exists()


def test_an_old_hex_keystore_still_opens_and_says_it_has_no_words(
    env: dict[str, str],
) -> None:
    path = Path(env["ETM_BRIDGE_DATA_DIR"]) / "keystore.json"
    path.parent.mkdir(parents=True)
    create_keystore(path, PW, master_seed=bytes(range(32)), kdf=UNSAFE_FAST_KDF)
    assert json.loads(path.read_text())["version"] == 1
    exported = run(env, "export-seed", "--passphrase-env", "WALLET_PW")
    assert exported.stdout.strip() == bytes(range(32)).hex()
    words = run(env, "export-seed", "--words", "--passphrase-env", "WALLET_PW")
    assert words.exit_code != 0
    assert "has no recovery words" in words.output and "wallet new" in words.output


@pytest.mark.parametrize(
    ("passphrase", "said"),
    [("abc", "too short (3 characters)"), ("password123", "too weak (score 0 of 4)"),
     ("password1234", "too weak (score")],
)  # fmt: skip
def test_a_weak_new_passphrase_is_refused_naming_the_rule(
    env: dict[str, str], passphrase: str, said: str
) -> None:
    result = run({**env, "WALLET_PW": passphrase}, "new", "--passphrase-env", "WALLET_PW")
    assert result.exit_code != 0
    assert said in result.output
    assert "at least 10 characters and a strength score of at least 3 of 4" in result.output
    assert not (Path(env["ETM_BRIDGE_DATA_DIR"]) / "keystore.json").exists()


def test_a_keystore_made_with_a_weak_passphrase_still_opens(env: dict[str, str]) -> None:
    path = Path(env["ETM_BRIDGE_DATA_DIR"]) / "keystore.json"
    path.parent.mkdir(parents=True)
    create_keystore(path, "abc", kdf=UNSAFE_FAST_KDF)  # made before the rule
    shown = run({**env, "WALLET_PW": "abc"}, "show", "--verify", "--passphrase-env", "WALLET_PW")
    assert shown.exit_code == 0, shown.output
    assert "verified" in shown.output


def test_restore_asks_for_the_words_then_the_passphrase_twice(env: dict[str, str]) -> None:
    answers = f"{VECTOR_WORDS}\n{PW}\n{PW}\n"
    done = run({**env, "WALLET_PW": ""}, "restore", "--json", input=answers)
    assert done.exit_code == 0, done.output
    ks = load_keystore(Path(env["ETM_BRIDGE_DATA_DIR"]) / "keystore.json")
    assert ks.unlock(PW).master_seed == master_seed_of(VECTOR_WORDS)
    again = run(env, "restore", "--words-env", "WALLET_PW")
    assert again.exit_code != 0 and "already exists" in again.output


def test_new_in_text_shows_the_numbered_words(env: dict[str, str]) -> None:
    made = run(env, "new", "--passphrase-env", "WALLET_PW")
    assert made.exit_code == 0, made.output
    assert " 1. " in made.stdout and "24. " in made.stdout
    words = run(env, "export-seed", "--words", "--passphrase-env", "WALLET_PW").stdout.split()
    assert len(words) == 24 and all(w in made.stdout for w in words)
