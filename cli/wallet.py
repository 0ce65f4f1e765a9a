"""``etm-bridge wallet new|show|balance|export-seed``: the user's keys for ETM, BTC and ETH.

One keystore file (:mod:`etm_bridge.wallet.keystore`) holds all three chains' keys, encrypted
with a passphrase; its location (``<home>/keystore.json``) and the node endpoints come from
:mod:`etm_bridge.config`. ``show`` and ``balance`` read only the keystore's public part (no
passphrase). ``balance`` reads each chain itself: ETM from the ETM node's API, BTC by scanning
the Bitcoin node's blocks for the wallet's P2WPKH output (the Bitcoin adapter's block index,
kept under ``<home>/wallet-cache``; confirmed coins only), ETH from the Ethereum node. A node
that is down or not configured is reported on that chain's row, and the other chains still show.

For other commands (``lp``): :func:`bitcoin_adapter_config` (the Bitcoin adapter's
``from_config`` mapping with this wallet's key and the configured endpoints).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from etm_bridge.config import Config, env_name
from etm_bridge.errors import ConfigError, EtmBridgeError, KeystoreError, NodeUnavailableError
from etm_bridge.units import format_amount
from etm_bridge.wallet import UnlockedWallet, WalletPublic, create_keystore, load_keystore

from .context import get_config, read_passphrase
from .options import common_options, json_option, passphrase_option


@click.group("wallet")
def group() -> None:
    """Your keys for ETM, BTC and ETH in one passphrase-encrypted keystore file."""


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def _addresses(public: WalletPublic, network: str) -> dict[str, str]:
    return {
        "etm": public.etm.address,
        "btc": public.btc.address(network),
        "eth": public.eth.address,
    }


def _show_text(path: Path, public: WalletPublic, network: str) -> None:
    click.echo(f"keystore  {path}")
    click.echo(f"ETM       {public.etm.address}")
    click.echo(f"          public key {public.etm.public_key.hex()}")
    click.echo(f"BTC       {public.btc.address(network)}  ({network}, P2WPKH)")
    click.echo(f"          public key {public.btc.public_key.hex()}")
    click.echo(f"ETH       {public.eth.address}")


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
        _echo_json({"keystore": str(path), "public": keystore.public.to_json()})
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
    """Addresses and public keys for ETM, BTC and ETH (no secrets)."""
    config = get_config()
    keystore = load_keystore(config.keystore_path)
    if verify:
        keystore.unlock(read_passphrase(confirm=False))
    if as_json:
        _echo_json(
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


# --- for other commands (lp): the Bitcoin adapter config -----------------------------------


def bitcoin_adapter_config(config: Config, wallet: UnlockedWallet) -> dict[str, Any]:
    """``BitcoinAdapter.from_config`` input for the wallet's Bitcoin key on the configured node
    (``[chains.bitcoin]``; the addresses' network unless the table names one)."""
    config.require("chains.bitcoin.rpc_url")
    _, options = config.adapter_options("bitcoin", wallet)
    options.setdefault("network", config.network)
    return options


# --- balances ----------------------------------------------------------------------------------


def etm_balance(config: Config, public: WalletPublic, options: Mapping[str, Any]) -> int:
    """The ETM balance (base units) of the wallet's address, from the ETM node's API."""
    from etm_bridge.node.client import NodeClient

    client = NodeClient(config.require("etm.url"), timeout_s=5.0)
    return int(client.account(public.etm.address)["balance"])


def eth_balance(config: Config, public: WalletPublic, options: Mapping[str, Any]) -> int:
    """The wallet's wei at the latest block of the Ethereum node."""
    from etm_bridge_ethereum.node import EthNode

    node = EthNode(str(options["rpc_url"]), {}, timeout_s=5.0)
    try:
        return node.balance(public.eth.address)
    finally:
        node.close()


def btc_balance(config: Config, public: WalletPublic, options: Mapping[str, Any]) -> int:
    """Confirmed sat on the wallet's P2WPKH output, from the node's blocks (no secret needed)."""
    from etm_bridge_bitcoin.adapter import BitcoinAdapter
    from etm_bridge_bitcoin.script import p2wpkh_script_pubkey
    from etm_bridge_bitcoin.txbuild import WalletKey

    from etm_bridge.jsonrpc import JsonRpcClient

    class WatchOnlyKey(WalletKey):
        """The wallet's public key only: enough to find its coins, never to sign."""

        def __init__(self, pubkey: bytes) -> None:
            self.pubkey = pubkey
            self.script_pubkey = p2wpkh_script_pubkey(pubkey)

        def sign(self, sighash: bytes) -> bytes:
            raise KeystoreError("a watch-only key cannot sign")

    rpc = JsonRpcClient(
        str(options["rpc_url"]),
        user=options.get("rpc_user"),
        password=options.get("rpc_password"),
        timeout_s=10.0,
    )
    adapter = BitcoinAdapter(
        rpc,
        WatchOnlyKey(public.btc.public_key),
        config.home.wallet_cache,
        network=config.network,
        birth_height=int(options.get("birth_height", 0)),
    )
    try:
        return adapter.balance()
    finally:
        adapter.close()


Reader = Callable[[Config, WalletPublic, Mapping[str, Any]], int]

#: row -> (asset for units, config table (None: [etm]), key naming its node, reader)
BALANCE_READERS: dict[str, tuple[str, str | None, str, Reader]] = {
    "etm": ("etm", None, "etm.url", etm_balance),
    "btc": ("btc", "bitcoin", "chains.bitcoin.rpc_url", btc_balance),
    "eth": ("eth", "ethereum", "chains.ethereum.rpc_url", eth_balance),
}


def chain_tables(config: Config) -> dict[str, dict[str, Any]]:
    """row -> the checked options of its configured chain table: a bad value is the
    command's error (ConfigError naming key and source), not one row's."""
    return {
        row: config.chain_options(table)[1]
        for row, (_, table, _, _) in BALANCE_READERS.items()
        if table is not None and table in config.chain_names
    }


def read_balances(
    config: Config, public: WalletPublic, tables: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """chain -> {address, node, balance (int base units) or None, display, error or None}."""
    addresses = _addresses(public, config.network)
    tables = chain_tables(config) if tables is None else tables
    rows = {}
    for chain, (asset, _, node_key, reader) in BALANCE_READERS.items():
        url = config.get(node_key)
        row: dict[str, Any] = {"address": addresses[chain], "node": url, "balance": None}
        if url is None:
            row["display"] = row["error"] = (
                f"not configured: set {node_key} ({env_name(node_key)}) or `etm-bridge stack up`"
            )
            rows[chain] = row
            continue
        try:
            row["balance"] = reader(config, public, tables.get(chain, {}))
            row["display"], row["error"] = format_amount(row["balance"], asset), None
        except NodeUnavailableError:
            row["display"] = row["error"] = f"unreachable: {url}"
        except EtmBridgeError as exc:
            row["display"] = row["error"] = f"error: {exc}"
        rows[chain] = row
    return rows


@group.command("balance")
@common_options
@json_option
def balance_command(as_json: bool) -> None:
    """Balances of the wallet's addresses, read from each chain's node."""
    config = get_config()
    tables = chain_tables(config)
    keystore = load_keystore(config.keystore_path)
    rows = read_balances(config, keystore.public, tables)
    if as_json:
        _echo_json({"keystore": str(keystore.path), "network": config.network, "balances": rows})
        return
    for chain, row in rows.items():
        click.echo(f"{chain.upper():<4} {row['address']:<64} {row['display']}")
