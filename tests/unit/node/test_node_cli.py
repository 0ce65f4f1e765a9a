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
from etm_bridge.errors import ConfigError
from etm_bridge.node.config import NodeConfig
from etm_bridge.node.service import load_forging_keys


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
