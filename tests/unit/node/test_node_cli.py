"""``etm-bridge node init``: files, permissions, refusal to overwrite, config validation."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli

from etm_bridge.chain.genesis import GenesisConfig
from etm_bridge.chain.keys import dev_key
from etm_bridge.chains.bitcoin.etm.relay_types import btc_policy_of
from etm_bridge.errors import ConfigError, StoreError
from etm_bridge.node.config import NodeConfig
from etm_bridge.node.server import open_service
from etm_bridge.node.service import load_forging_keys
from etm_bridge.node.setup import init_node
from etm_bridge.spv.relay_status import relay_status


def test_init_writes_genesis_keys_and_a_private_config(tmp_path: Path) -> None:
    data = tmp_path / "n"
    args = ["node", "init", "--data-dir", str(data), "--delegates", "4", "--block-time", "2"]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["delegates"] == 4
    genesis = GenesisConfig.from_json(json.loads((data / "genesis.json").read_text()))
    assert genesis.params.block_time_s == 2 and genesis.params.delegates_per_round == 4
    keys = load_forging_keys(data / "forging_keys.json")
    assert set(keys) == {dev_key(f"delegate-{i}").public_key for i in range(4)}
    config = NodeConfig.load(data)
    assert config.host == "127.0.0.1" and len(config.admin_token) >= 32
    for name in ("node.json", "forging_keys.json"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600

    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 2 and "--force" in again.output
    forced = CliRunner().invoke(cli, [*args, "--force"])
    assert forced.exit_code == 0
    assert NodeConfig.load(data).admin_token != config.admin_token


def test_config_refuses_unknown_keys_and_weak_tokens(tmp_path: Path) -> None:
    (tmp_path / "node.json").write_text(json.dumps({"admin_token": "x" * 32, "colour": "red"}))
    with pytest.raises(ConfigError, match="unknown keys"):
        NodeConfig.load(tmp_path)
    with pytest.raises(ConfigError, match="admin_token"):
        NodeConfig(data_dir=tmp_path, admin_token="short")
    with pytest.raises(ConfigError, match="node init"):
        NodeConfig.load(tmp_path / "missing")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("port", "26657", "port must be a int"),
        ("port", True, "port must be a int"),
        ("admin_token", None, "admin_token must be a str"),
        ("forging", "yes", "forging must be a bool"),
        ("max_body_bytes", 1.5e6, "max_body_bytes must be a int"),
        ("log_level", "loud", "log_level 'loud' is not one of"),
        ("log_level", "WARNING", "log_level 'WARNING' is not one of"),
    ],
)
def test_node_run_names_a_mistyped_config_value(
    tmp_path: Path, field: str, value: object, message: str
) -> None:
    init_node(tmp_path, delegates=1, block_time_s=1, port=0)
    raw = json.loads((tmp_path / "node.json").read_text())
    (tmp_path / "node.json").write_text(json.dumps({**raw, field: value}))
    result = CliRunner().invoke(cli, ["node", "run", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_a_config_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    (tmp_path / "node.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold a JSON object, got list"):
        NodeConfig.load(tmp_path)


def test_init_refuses_a_negative_number_of_funded_accounts(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["node", "init", "--data-dir", str(tmp_path), "--funded", "-1"]
    )
    assert result.exit_code == 2 and "funded accounts must be 0 or more" in result.output
    assert not (tmp_path / "node.json").exists()


def _checkpointed_db(data_dir: Path) -> Path:
    """A node data dir whose chain database holds genesis, with the WAL folded into the file."""
    init_node(data_dir, delegates=1, block_time_s=1, port=0)
    _service, store = open_service(NodeConfig.load(data_dir))
    store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return data_dir / "chain.sqlite"


def test_a_database_file_that_is_not_sqlite_is_a_store_error(tmp_path: Path) -> None:
    _checkpointed_db(tmp_path).write_bytes(b"not a database at all" * 300)
    result = CliRunner().invoke(cli, ["node", "run", "--data-dir", str(tmp_path), "--port", "0"])
    assert result.exit_code == StoreError.exit_code and "chain.sqlite" in result.output
    assert "resync from genesis" in result.output and "Traceback" not in result.output


def test_a_database_with_damaged_pages_is_a_store_error(tmp_path: Path) -> None:
    db = _checkpointed_db(tmp_path)
    damaged = bytearray(db.read_bytes())
    page_size = int.from_bytes(damaged[16:18], "big")
    for page in range(page_size, len(damaged), page_size):
        damaged[page] = 0x55  # not a b-tree page type: every table page is unreadable
    db.write_bytes(bytes(damaged))
    with pytest.raises(StoreError, match=r"chain\.sqlite is corrupt"):
        open_service(NodeConfig.load(tmp_path))


def _init(tmp_path: Path, *extra: str) -> tuple[int, str, dict]:
    data = tmp_path / "btc"
    result = CliRunner().invoke(cli, ["node", "init", "--data-dir", str(data), *extra])
    path = data / "genesis.json"
    genesis = json.loads(path.read_text()) if path.exists() else {}
    return result.exit_code, result.output, genesis


def test_init_btc_network_mainnet_starts_the_relay_at_the_built_in_checkpoint(
    tmp_path: Path,
) -> None:
    """Issue 11, item 13: the relay of a ``node init`` chain can be a real network's."""
    code, output, genesis = _init(tmp_path, "--btc-network", "mainnet", "--json")
    assert code == 0, output
    spv = genesis["plugins"]["spv"]
    assert spv["btc_network"] == "mainnet" and spv["btc_checkpoint"]["height"] == 826_560
    assert spv["allow_dev_pools"] is False
    config = NodeConfig.load(tmp_path / "btc")
    service, store = open_service(config)
    try:
        status = relay_status(service.chain.store_view())["bitcoin"]
        assert status["network"] == "mainnet" and status["tip"]["height"] == 826_560
        policy = btc_policy_of(service.chain.store_view())
        assert policy.min_confirmations == 6 and policy.value_depth(10**8) == 6
    finally:
        store.close()


def test_init_refuses_signet_with_the_reason_and_writes_nothing(tmp_path: Path) -> None:
    code, output, genesis = _init(tmp_path, "--btc-network", "signet")
    assert code != 0 and "signature" in output and "Traceback" not in output
    assert genesis == {}


def test_init_dev_pools_is_explicit(tmp_path: Path) -> None:
    code, output, genesis = _init(tmp_path, "--dev-pools", "--json")
    assert code == 0, output
    assert json.loads(output)["dev_pools"] is True
    assert genesis["plugins"]["spv"]["allow_dev_pools"] is True
    assert genesis["plugins"]["spv"]["btc_network"] is None  # regtest, started by first batch


def test_init_says_in_one_line_which_tx_plugins_the_genesis_enables(tmp_path: Path) -> None:
    """The summary comes from the genesis written: a chain with its own relay plug-in
    (Handshake) appears only when its option asked for it."""
    code, output, genesis = _init(tmp_path, "--hns-network", "regtest", "--json")
    assert code == 0, output
    shown = json.loads(output)
    assert shown["tx_plugins"] == genesis["params"]["tx_plugins"]
    assert shown["tx_plugins"][-1] == "etm_bridge.chains.handshake.etm.plugin"
    assert shown["enables"] == (
        "SPV relays (bitcoin, ethereum), exchange (pools, swaps), handshake relay"
    )
    human = CliRunner().invoke(cli, ["node", "init", "--data-dir", str(tmp_path / "b")])
    [line] = [t for t in human.output.splitlines() if t.startswith("enables")]
    assert "handshake" not in line and "exchange (pools, swaps)" in line
    core = CliRunner().invoke(
        cli, ["node", "init", "--data-dir", str(tmp_path / "c"), "--core-only", "--json"]
    )
    assert json.loads(core.output)["enables"] == "core transactions only"
