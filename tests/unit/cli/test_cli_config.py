"""Every verb reads config, home and passphrase the same way (etm_bridge.config): the home is
never the current directory, `node`/`spv` follow the configured (stack's) ETM node, the
passphrase order is the same for swap, watch and wallet, and legacy files are pointed out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli

from etm_bridge.wallet import UNSAFE_FAST_KDF, create_keystore

PW = "correct horse"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "ETM_STACK_DIR": str(tmp_path / "no-stack"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
    }


def _run(env: dict[str, str], *args: str, input: str | None = None):
    return CliRunner(env=env).invoke(cli, list(args), input=input)


def _dead_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_swaps_left_in_the_old_default_home_are_pointed_out(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    old = tmp_path / ".etm" / "swaps"
    old.mkdir(parents=True)
    (old / "swaps.db").write_bytes(b"")
    listed = _run(env, "swap", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == []  # the default home: under XDG_DATA_HOME
    assert listed.stderr.count("note: swaps found in ./.etm/swaps (the old default home)") == 1
    assert "pass --home ./.etm/swaps" in listed.stderr
    assert (tmp_path / "xdg-data" / "etm-bridge" / "swaps.db").exists()
    assert (old / "swaps.db").read_bytes() == b""  # nothing moved
    chosen = _run(env, "swap", "list", "--home", str(old), "--json")
    assert chosen.exit_code == 0 and chosen.stderr == ""


def test_node_reads_follow_the_configured_etm_node(env: dict[str, str]) -> None:
    url = _dead_url()
    result = _run({**env, "ETM_BRIDGE_ETM_URL": url}, "node", "status")
    assert result.exit_code == 4 and f"ETM node at {url} did not answer" in result.stderr
    other = _dead_url()
    explicit = _run({**env, "ETM_BRIDGE_ETM_URL": url, "ETM_NODE_URL": other}, "node", "status")
    assert f"ETM node at {other}" in explicit.stderr  # the node verbs' own variable wins
    spv = _run({**env, "ETM_BRIDGE_ETM_URL": url}, "spv", "status")
    assert spv.exit_code == 4 and url in spv.stderr


def test_node_data_defaults_to_the_home_not_the_current_directory(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    made = _run(env, "node", "init", "--home", str(home), "--delegates", "1", "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["data_dir"] == str(home / "node")
    assert not (tmp_path / ".etm").exists()
    offline = _run({**env, "ETM_BRIDGE_HOME": str(tmp_path / "empty")}, "spv", "status")
    assert offline.exit_code == 2
    assert f"{tmp_path / 'empty' / 'node' / 'chain.sqlite'} not found" in offline.stderr


def test_the_passphrase_order_is_the_same_for_every_command(
    env: dict[str, str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    create_keystore(home / "keystore.json", PW, kdf=UNSAFE_FAST_KDF)
    base = {**env, "ETM_BRIDGE_HOME": str(home)}
    # wallet verbs now take ETM_BRIDGE_PASSPHRASE (they only prompted or read --passphrase-env)
    assert _run({**base, "ETM_BRIDGE_PASSPHRASE": PW}, "wallet", "export-seed").exit_code == 0
    wrong = {**base, "ETM_BRIDGE_PASSPHRASE": "wrong", "MINE": PW}
    assert _run(wrong, "wallet", "export-seed", "--passphrase-env", "MINE").exit_code == 0
    assert _run(wrong, "wallet", "export-seed").exit_code == 6
    # swap verbs now take --passphrase-env (they only read ETM_BRIDGE_PASSPHRASE or prompted)
    (home / "config.toml").write_text('[chains.a]\nadapter = "fake"\nchain = "cli-pp"\n')
    tick = ("watch", "--ticks", "1", "--interval", "0", "--passphrase-env", "MINE", "--json")
    watched = _run(wrong, *tick)
    assert watched.exit_code == 0, watched.output
    assert _run({**wrong, "MINE": "wrong"}, *tick).exit_code == 6
    unset = _run(base, *tick)
    assert unset.exit_code == 2  # under --json the error is a JSON object on stdout
    assert "MINE (from --passphrase-env) is not set" in json.loads(unset.stdout)["error"]["message"]
    prompted = _run(base, "watch", "--ticks", "1", "--interval", "0", input=f"{PW}\n")
    assert prompted.exit_code == 0 and "Keystore passphrase" in prompted.output


def test_a_legacy_table_is_read_with_one_note(env: dict[str, str], tmp_path: Path) -> None:
    conf = tmp_path / "config.toml"
    conf.write_text('[bitcoin]\nrpc_url = "http://127.0.0.1:1"\n')
    result = _run({**env, "ETM_BRIDGE_CONFIG": str(conf)}, "wallet", "balance", "--json")
    assert result.exit_code == 6  # no keystore: but the config was read first
    assert result.stderr.splitlines()[0] == (
        f"note: [bitcoin] in config file {conf} is deprecated: rename it [chains.bitcoin]"
    )


def test_a_bad_chain_value_fails_before_the_passphrase_naming_key_and_source(
    env: dict[str, str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[chains.bitcoin]\nrpc_url = "x"\nrpcuser = "u"\n')
    result = _run({**env, "ETM_BRIDGE_HOME": str(home)}, "watch", "--ticks", "1")
    assert result.exit_code == 2
    assert "unknown key 'chains.bitcoin.rpcuser' in config file" in result.stderr
    assert "passphrase" not in result.output.lower()
