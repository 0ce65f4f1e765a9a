"""``etm-bridge wallet new|restore|show|balance|export-seed``: the user's keys for ETM and each
chain.

``new`` makes fresh keys from 24 BIP39 words, shown once (:mod:`etm_bridge.wallet.words`);
``restore`` makes the keystore again from those words (and the optional BIP39 passphrase);
``export-seed`` prints the master seed (hex) or, with ``--words``, the words. A keystore made
from 64 hex digits (``new --restore-seed-env``, or before mnemonics) keeps working and has no
words. A new keystore's passphrase must be strong
(:func:`etm_bridge.config.passphrase.check_strength`).

One keystore file (:mod:`etm_bridge.wallet.keystore`) holds the keys of ETM and of every
installed chain, encrypted with a passphrase; its location (``<home>/keystore.json``) and the
node endpoints come from :mod:`etm_bridge.config`. ``show`` and ``balance`` read only the
keystore's public part (no passphrase). ``balance`` reads each chain itself through its
adapter's watch-only balance (ETM from the ETM node's API; a chain whose node cannot look up an
address scans blocks with an index kept under ``<home>/wallet-cache``, confirmed coins only). A
node that is down or not configured is reported on that chain's row, and the other chains still
show; a node that is down also makes the command fail (exit 4, naming it): a balance it could
not read is not 0. Under ``--json`` a balance is a string of base units (18-decimal units
exceed 2**53) next to its ``display``, and the failure is the object's ``error``.

The balances are :func:`etm_bridge.app.wallet.balances` (each chain's watch-only balance).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from etm_bridge.app import wallet as balances
from etm_bridge.chains.registry import chain_registry
from etm_bridge.errors import ConfigError, EtmBridgeError, KeystoreError, NodeUnavailableError
from etm_bridge.wallet import Keystore, WalletPublic, create_keystore, load_keystore
from etm_bridge.wallet.words import normalised, words_of

from .context import app_context, get_config, read_passphrase
from .options import common_options, echo_json, json_option, passphrase_option
from .output import error_json


@click.group("wallet")
def group() -> None:
    """Your keys for ETM and each chain in one passphrase-encrypted keystore file."""


def _shown(public: WalletPublic, network: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """(label, ``wallet show`` rows) of each installed chain that describes its key."""
    out = []
    for profile in chain_registry().profiles:
        chain = public.chains.get(profile.wallet.label)
        rows = profile.wallet.describe(chain, network) if chain is not None else []
        if rows:
            out.append((profile.wallet.label, rows))
    return out


def _addresses(public: WalletPublic, network: str) -> dict[str, str]:
    shown = _shown(public, network)
    chains = {label: public.chains[label].display_address(network) for label, _ in shown}
    return {"etm": public.etm.address, **chains}


def _show_text(path: Path, public: WalletPublic, network: str) -> None:
    click.echo(f"keystore  {path}")
    click.echo(f"ETM       {public.etm.address}")
    click.echo(f"          public key {public.etm.public_key.hex()}")
    for _, rows in _shown(public, network):
        for label, text in rows:
            click.echo(f"{label:<10}{text}")


def _seed_from_env(name: str) -> bytes:
    text = os.environ.get(name, "").strip().removeprefix("0x")
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"environment variable {name} must hold 64 hex digits") from None
    if len(seed) != 32:
        raise ConfigError(f"environment variable {name} must hold 64 hex digits (32 bytes)")
    return seed


@group.command("new")
@common_options
@passphrase_option
@click.option(
    "--restore-seed-env",
    metavar="NAME",
    help="Restore from a backed-up master seed (64 hex digits) in environment variable NAME.",
)
@json_option
def new_command(restore_seed_env: str | None, as_json: bool) -> None:
    """Create a keystore with fresh keys (asks for the passphrase twice)."""
    config = get_config()
    path = config.keystore_path
    if path.exists():
        raise KeystoreError(
            f"keystore {path} already exists; move it away first (its keys may hold funds)"
        )
    seed = _seed_from_env(restore_seed_env) if restore_seed_env else None
    kdf = config.kdf()
    passphrase = read_passphrase(confirm=True)
    keystore = create_keystore(path, passphrase, master_seed=seed, kdf=kdf)
    words = None
    if seed is None:  # shown once: the keystore holds them encrypted (export-seed --words)
        entropy = keystore.unlock(passphrase).unsafe_export_mnemonic_entropy()
        words = words_of(entropy) if entropy is not None else None
    _report_new(keystore, config.network, as_json, words)


def _report_new(keystore: Keystore, network: str, as_json: bool, words: str | None) -> None:
    if as_json:
        made: dict[str, object] = {"keystore": str(keystore.path),
                                   "public": keystore.public.to_json()}  # fmt: skip
        if words is not None:
            made["mnemonic"] = words
        echo_json(made)
        return
    _show_text(keystore.path, keystore.public, network)
    if words is not None:
        click.echo("\nYour recovery words (write them down, in order, and keep them offline):")
        listed = words.split()
        for row in range(0, len(listed), 6):
            cells = (f"{i + 1:>2}. {w:<9}" for i, w in enumerate(listed[row : row + 6], row))
            click.echo(("  " + "  ".join(cells)).rstrip())
        click.echo(
            "They restore every key and every swap secret (`etm-bridge wallet restore`, then "
            "`etm-bridge swap recover`); anyone who sees them can spend your coins. "
            "They are not shown again (`wallet export-seed --words` prints them).",
            err=True,
        )
    else:
        click.echo(
            "Back up the master seed (`etm-bridge wallet export-seed`) and remember the "
            "passphrase: without them these keys cannot be recovered.",
            err=True,
        )


def _secret_from_env_or_prompt(env_name: str | None, prompt: str) -> str:
    if env_name is not None:
        value = os.environ.get(env_name, "")
        if not value.strip():
            raise ConfigError(f"environment variable {env_name} is not set")
        return value
    return str(click.prompt(prompt, hide_input=True, err=True))


@group.command("restore")
@common_options
@passphrase_option
@click.option(
    "--words-env",
    metavar="NAME",
    help="Read the 24 words from environment variable NAME (else they are asked).",
)
@click.option(
    "--bip39-passphrase-env",
    metavar="NAME",
    help="The optional BIP39 passphrase (the '25th word') in variable NAME.",
)
@click.option(
    "--bip39-passphrase", "ask_bip39", is_flag=True, help="Ask for the optional BIP39 passphrase."
)
@json_option
def restore_command(
    words_env: str | None, bip39_passphrase_env: str | None, ask_bip39: bool, as_json: bool
) -> None:
    """Make the keystore again from your 24 recovery words (then `swap recover`)."""  # fmt: skip
    config = get_config()
    path = config.keystore_path
    if path.exists():
        raise KeystoreError(
            f"keystore {path} already exists; move it away first (its keys may hold funds)"
        )
    words = _secret_from_env_or_prompt(words_env, "Recovery words (24, separated by spaces)")
    bip39 = ""
    if bip39_passphrase_env is not None or ask_bip39:
        bip39 = _secret_from_env_or_prompt(bip39_passphrase_env, "BIP39 passphrase")
    try:
        normalised(words)  # before the passphrase is asked: a typo is the first thing said
    except EtmBridgeError as exc:
        raise ConfigError(f"cannot restore: {exc}") from None
    passphrase = read_passphrase(confirm=True)
    keystore = create_keystore(path, passphrase, words=words, bip39_passphrase=bip39,
                               kdf=config.kdf())  # fmt: skip
    if as_json:
        echo_json({"keystore": str(path), "public": keystore.public.to_json(), "restored": True})
        return
    _show_text(path, keystore.public, config.network)
    click.echo("restored: run `etm-bridge swap recover` to find swaps that were open", err=True)


@group.command("show")
@common_options
@click.option("--verify", is_flag=True, help="Ask for the passphrase and check the keys match.")
@passphrase_option
@json_option
def show_command(verify: bool, as_json: bool) -> None:
    """Addresses and public keys for ETM and each chain (no secrets)."""
    config = get_config()
    keystore = load_keystore(config.keystore_path)
    if verify:
        keystore.unlock(read_passphrase(confirm=False))
    if as_json:
        echo_json(
            {
                "keystore": str(keystore.path),
                "network": config.network,
                "addresses": _addresses(keystore.public, config.network),
                "public": keystore.public.to_json(),
                "verified": verify,
            }
        )
        return
    _show_text(keystore.path, keystore.public, config.network)
    if verify:
        click.echo("verified: the passphrase opens this keystore and its keys match")


@group.command("export-seed")
@common_options
@passphrase_option
@click.option(
    "--words",
    "as_words",
    is_flag=True,
    help="Print the 24 recovery words instead of the hex master seed.",
)
def export_seed_command(as_words: bool) -> None:
    """Print the master seed (hex) or the recovery words: either restores every key."""
    config = get_config()
    wallet = load_keystore(config.keystore_path).unlock(read_passphrase(confirm=False))
    entropy = wallet.unsafe_export_mnemonic_entropy()
    if as_words and entropy is None:
        raise KeystoreError(
            f"keystore {config.keystore_path} was made from a 64-hex seed and has no recovery "
            "words: back up `wallet export-seed` (hex), or make a new wallet (`wallet new`) and "
            "move the funds to it (docs/security.md, migration)"
        )
    click.echo("WARNING: anyone who sees this seed can spend every coin of this wallet.", err=True)
    if as_words and entropy is not None:
        click.echo(words_of(entropy))
        return
    click.echo(wallet.unsafe_export_master_seed().hex())


@group.command("balance")
@common_options
@json_option
def balance_command(as_json: bool) -> None:
    """Balances of the wallet's addresses, read from each chain's node."""
    config = get_config()
    tables = balances.chain_tables(config)
    rows = balances.balances(app_context(), tables)
    down = [f"{chain} node at {row['node']}" for chain, row in rows.items()
            if (row.get("error") or "").startswith("unreachable")]  # fmt: skip
    failure = None
    if down:  # a balance we could not read is not 0: say which node, fail (exit 4)
        failure = NodeUnavailableError(
            f"cannot read every balance: {', '.join(down)} did not answer; start it or correct "
            "its URL (the other rows are shown)"
        )
    if as_json:
        shown = {chain: {**row, "balance": None if row["balance"] is None else str(row["balance"])}
                 for chain, row in rows.items()}  # fmt: skip
        echo_json({"keystore": str(config.keystore_path), "network": config.network,
                   "balances": shown, **(error_json(failure) if failure else {})})  # fmt: skip
    else:
        for chain, row in rows.items():
            click.echo(f"{chain.upper():<4} {row['address']:<64} {row['display']}")
        if failure is not None:
            click.echo(f"error: {failure}", err=True)
    if failure is not None:
        sys.exit(failure.exit_code)
