"""``etm-bridge wallet new|show|balance|export-seed``: the user's keys for ETM and each chain.

One keystore file (:mod:`etm_bridge.wallet.keystore`) holds the keys of ETM and of every
installed chain, encrypted with a passphrase; its location (``<home>/keystore.json``) and the
node endpoints come from :mod:`etm_bridge.config`. ``show`` and ``balance`` read only the
keystore's public part (no passphrase). ``balance`` reads each chain itself through its
adapter's watch-only balance (ETM from the ETM node's API; a chain whose node cannot look up an
address scans blocks with an index kept under ``<home>/wallet-cache``, confirmed coins only). A
node that is down or not configured is reported on that chain's row, and the other chains still
show.

The balances are :func:`etm_bridge.app.wallet.balances` (each chain's watch-only balance).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from etm_bridge.app import wallet as balances
from etm_bridge.chains.registry import chain_registry
from etm_bridge.errors import ConfigError, KeystoreError
from etm_bridge.wallet import WalletPublic, create_keystore, load_keystore

from .context import app_context, get_config, read_passphrase
from .options import common_options, echo_json, json_option, passphrase_option


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
    if as_json:
        echo_json({"keystore": str(path), "public": keystore.public.to_json()})
        return
    _show_text(path, keystore.public, config.network)
    click.echo(
        "Back up the master seed (`etm-bridge wallet export-seed`) and remember the passphrase: "
        "without them these keys cannot be recovered.",
        err=True,
    )


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
def export_seed_command() -> None:
    """Print the master seed (hex): a backup of it restores all three chains' keys."""
    config = get_config()
    wallet = load_keystore(config.keystore_path).unlock(read_passphrase(confirm=False))
    click.echo("WARNING: anyone who sees this seed can spend every coin of this wallet.", err=True)
    click.echo(wallet.unsafe_export_master_seed().hex())


@group.command("balance")
@common_options
@json_option
def balance_command(as_json: bool) -> None:
    """Balances of the wallet's addresses, read from each chain's node."""
    config = get_config()
    tables = balances.chain_tables(config)
    rows = balances.balances(app_context(), tables)
    if as_json:
        echo_json({"keystore": str(config.keystore_path), "network": config.network,
                   "balances": rows})  # fmt: skip
        return
    for chain, row in rows.items():
        click.echo(f"{chain.upper():<4} {row['address']:<64} {row['display']}")
