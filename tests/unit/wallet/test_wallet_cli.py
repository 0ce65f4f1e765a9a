"""``etm-bridge wallet`` via click: new, show, export-seed, restore, errors, nodes that are down."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli

from etm_bridge.wallet.derive import UnlockedWallet

SEED_HEX = bytes(range(32)).hex()


def closed_port_url() -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


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
        "WALLET_PW": "a passphrase",
        "WALLET_SEED": SEED_HEX,
    }


def run(env: dict[str, str], *args: str, input: str | None = None):
    return CliRunner(env=env).invoke(cli, ["wallet", *args], input=input)


def test_new_prompts_twice_and_show_prints_public_data_only(env: dict[str, str]) -> None:
    made = run(env, "new", "--json", input="a passphrase\na passphrase\n")
    assert made.exit_code == 0, made.output
    shown = run(env, "show", "--json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    keystore = Path(env["ETM_BRIDGE_DATA_DIR"]) / "keystore.json"
    assert data["keystore"] == str(keystore)
    assert data["addresses"]["btc"].startswith("bcrt1q")
    assert data["addresses"]["etm"].startswith("etm1")
    assert data["public"] == json.loads(made.stdout[made.stdout.index("{") :])["public"]
    assert oct(os.stat(keystore).st_mode & 0o777) == "0o600"


def test_mismatched_confirmation_creates_nothing(env: dict[str, str]) -> None:
    result = run(env, "new", input="one passphrase\nanother one\n")
    assert result.exit_code != 0
    assert not (Path(env["ETM_BRIDGE_DATA_DIR"]) / "keystore.json").exists()


def test_export_seed_restores_the_same_wallet_elsewhere(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert run(env, "new", "--passphrase-env", "WALLET_PW").exit_code == 0
    exported = run(env, "export-seed", "--passphrase-env", "WALLET_PW")
    assert exported.exit_code == 0, exported.output
    seed_hex = exported.stdout.strip().splitlines()[-1]
    other = {**env, "ETM_BRIDGE_DATA_DIR": str(tmp_path / "other"), "SEED": seed_hex}
    restored = run(other, "new", "--passphrase-env", "WALLET_PW", "--restore-seed-env", "SEED")
    assert restored.exit_code == 0, restored.output
    first = json.loads(run(env, "show", "--json").stdout)["public"]
    second = json.loads(run(other, "show", "--json").stdout)["public"]
    assert first == second


def test_restore_from_known_seed_gives_the_derived_addresses(env: dict[str, str]) -> None:
    args = ("new", "--passphrase-env", "WALLET_PW", "--restore-seed-env", "WALLET_SEED")
    assert run(env, *args).exit_code == 0
    shown = json.loads(run(env, "show", "--json", "--network", "mainnet").stdout)
    public = UnlockedWallet(bytes.fromhex(SEED_HEX)).public()
    assert shown["addresses"] == {
        "etm": public.etm.address,
        "btc": public.btc.address("mainnet"),
        "eth": public.eth.address,
    }


def test_wrong_passphrase_is_one_line_not_a_traceback(env: dict[str, str]) -> None:
    assert run(env, "new", "--passphrase-env", "WALLET_PW").exit_code == 0
    result = run({**env, "WALLET_PW": "wrong"}, "show", "--verify", "--passphrase-env", "WALLET_PW")
    assert result.exit_code == 6
    assert result.stderr.startswith("error: wrong passphrase for keystore")
    assert "Traceback" not in result.output
    verified = run(env, "show", "--verify", "--passphrase-env", "WALLET_PW", "--json")
    assert json.loads(verified.stdout)["verified"] is True


def test_second_new_refuses_to_replace_the_keystore(env: dict[str, str]) -> None:
    assert run(env, "new", "--passphrase-env", "WALLET_PW").exit_code == 0
    again = run(env, "new", "--passphrase-env", "WALLET_PW")
    assert again.exit_code == 6 and "already exists" in again.stderr


def test_world_readable_keystore_is_refused(env: dict[str, str]) -> None:
    assert run(env, "new", "--passphrase-env", "WALLET_PW").exit_code == 0
    os.chmod(Path(env["ETM_BRIDGE_DATA_DIR"]) / "keystore.json", 0o644)
    result = run(env, "show")
    assert result.exit_code == 6 and "chmod 600" in result.stderr


def test_missing_keystore_and_bad_config_are_one_line_errors(env: dict[str, str]) -> None:
    missing = run(env, "show")
    assert missing.exit_code == 6 and "etm-bridge wallet new" in missing.stderr
    bad = run({**env, "ETM_BRIDGE_BITCOIN_BIRTH_HEIGHT": "soon"}, "balance")
    assert bad.exit_code == 2
    assert "ETM_BRIDGE_BITCOIN_BIRTH_HEIGHT" in bad.stderr


def test_balance_reports_each_down_node_as_unreachable(env: dict[str, str]) -> None:
    assert run(env, "new", "--passphrase-env", "WALLET_PW").exit_code == 0
    urls = {
        "ETM_BRIDGE_ETM_URL": closed_port_url(),
        "ETM_BRIDGE_BITCOIN_RPC_URL": closed_port_url(),
        "ETM_BRIDGE_ETHEREUM_RPC_URL": closed_port_url(),
    }
    result = run({**env, **urls}, "balance", "--json")
    assert result.exit_code == 4, result.output  # issue 15: not 0, as if the balance were 0
    body = json.loads(result.stdout)
    rows = body["balances"]
    assert rows["etm"]["error"] == f"unreachable: {urls['ETM_BRIDGE_ETM_URL']}"
    assert rows["btc"]["error"] == f"unreachable: {urls['ETM_BRIDGE_BITCOIN_RPC_URL']}"
    assert rows["eth"]["error"] == f"unreachable: {urls['ETM_BRIDGE_ETHEREUM_RPC_URL']}"
    assert all(row["balance"] is None for row in rows.values())
    assert body["error"]["code"] == "node_unavailable"
    assert f"btc node at {urls['ETM_BRIDGE_BITCOIN_RPC_URL']}" in body["error"]["message"]
    text = run({**env, **urls}, "balance")
    assert text.exit_code == 4 and text.stdout.count("unreachable: http://127.0.0.1:") == 3
    [error] = text.stderr.splitlines()
    assert error.startswith("error: cannot read every balance: etm node at http://127.0.0.1:")


def test_balance_without_endpoints_says_what_to_set(env: dict[str, str]) -> None:
    assert run(env, "new", "--passphrase-env", "WALLET_PW").exit_code == 0
    rows = json.loads(run(env, "balance", "--json").stdout)["balances"]
    assert rows["btc"]["error"].startswith("not configured: set chains.bitcoin.rpc_url")
    assert "ETM_BRIDGE_ETM_URL" in rows["etm"]["error"]


def test_config_file_and_keystore_option_choose_the_keystore(
    env: dict[str, str], tmp_path: Path
) -> None:
    conf = tmp_path / "conf" / "config.toml"
    conf.parent.mkdir()
    conf.write_text('network = "testnet"\nkeystore = "mine.json"\n')
    made = run(env, "new", "--config", str(conf), "--passphrase-env", "WALLET_PW", "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["keystore"] == str(conf.parent / "mine.json")
    shown = json.loads(run(env, "show", "--config", str(conf), "--json").stdout)
    assert shown["network"] == "testnet" and shown["addresses"]["btc"].startswith("tb1q")
    elsewhere = tmp_path / "elsewhere.json"
    other = run(env, "show", "--config", str(conf), "--keystore", str(elsewhere))
    assert other.exit_code == 6 and str(elsewhere) in other.stderr
    bad = run(env, "show", "--config", str(tmp_path / "missing.toml"))
    assert bad.exit_code == 2 and "missing.toml does not exist" in bad.stderr


def test_adapter_configs_carry_the_wallet_keys_and_endpoints(tmp_path: Path) -> None:
    from etm_bridge_bitcoin.adapter import BitcoinAdapter
    from etm_bridge_ethereum.config import EthereumConfig

    from etm_bridge.config import load_config

    env = {
        "ETM_STACK_DIR": str(tmp_path / "no-stack"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "ETM_BRIDGE_DATA_DIR": str(tmp_path / "data"),
        "ETM_BRIDGE_BITCOIN_RPC_URL": closed_port_url(),
        "ETM_BRIDGE_ETHEREUM_RPC_URL": closed_port_url(),
    }
    config = load_config(env=env)
    wallet = UnlockedWallet(bytes.fromhex(SEED_HEX))
    adapter = BitcoinAdapter.from_config(config.adapter_options("bitcoin", wallet)[1])
    assert adapter.address() == wallet.public().btc.address("regtest")
    htlc = "0x" + "11" * 20
    eth_options = {**config.adapter_options("ethereum", wallet)[1], "htlc_address": htlc}
    eth = EthereumConfig.from_mapping(eth_options)
    assert eth.private_key == "0x" + wallet.unsafe_export_chain_secret("eth").hex()
    assert eth.data_dir == tmp_path / "data" / "ethereum"


def test_show_text_is_the_chain_profiles_rows_unchanged(env: dict[str, str]) -> None:
    """Each chain's rows come from its profile's ``WalletSpec.describe``; the text is pinned."""
    made = run(env, "new", "--passphrase-env", "WALLET_PW", "--restore-seed-env", "WALLET_SEED")
    assert made.exit_code == 0, made.output
    shown = run(env, "show").stdout.splitlines()
    assert shown[0].startswith("keystore  ")
    assert shown[1:] == [
        "ETM       etm16cq7zlwkce9pnuxjzrpx2llhr6emaf95xx6me6",
        "          public key ad9f6567c374d5e21cf382e1375e39ec61435686820f803fca3fd976cc42b57c",
        "BTC       bcrt1q8zklz6c7jt6ggxklkepqpuuea5gtd6x7d4rf3s  (regtest, P2WPKH)",
        "          public key 033c2dae55f96e9bb3c8d4235b9802aa8f57dbef10313cc816dab4f4692c939aaf",
        "ETH       0x2159bDfa155aD7936300A05eDcae7FC61fcF625b",
    ]
