"""``node init --nodes N --network-dir`` / ``--genesis``: one genesis, each node only its own
keys, peers between them; node.json peer settings are validated."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli

from etm_bridge.chain.keys import dev_key
from etm_bridge.errors import ConfigError
from etm_bridge.node.config import NodeConfig
from etm_bridge.node.service import load_forging_keys


def test_init_network_deals_each_node_only_its_own_delegates(tmp_path: Path) -> None:
    net = tmp_path / "net"
    args = ["node", "init", "--nodes", "3", "--delegates", "5", "--network-dir", str(net),
            "--port", "30000", "--block-time", "1", "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["nodes"]) == 3
    genesis = {(net / f"node-{i}" / "genesis.json").read_text() for i in range(3)}
    assert len(genesis) == 1
    held = [set(load_forging_keys(net / f"node-{i}" / "forging_keys.json")) for i in range(3)]
    delegates = [dev_key(f"delegate-{i}").public_key for i in range(5)]
    assert held == [{delegates[0], delegates[3]}, {delegates[1], delegates[4]}, {delegates[2]}]
    configs = [NodeConfig.load(net / f"node-{i}") for i in range(3)]
    assert [c.port for c in configs] == [30000, 30001, 30002]
    assert configs[1].peers == ("127.0.0.1:30000", "127.0.0.1:30002")
    assert len({c.admin_token for c in configs}) == 3
    for i in range(3):
        mode = (net / f"node-{i}" / "forging_keys.json").stat().st_mode
        assert stat.S_IMODE(mode) == 0o600


def test_join_copies_the_genesis_and_holds_no_keys_unless_given(tmp_path: Path) -> None:
    net = tmp_path / "net"
    CliRunner().invoke(cli, ["node", "init", "--nodes", "2", "--network-dir", str(net)])
    joiner = tmp_path / "joiner"
    args = [
        "node",
        "init",
        "--data-dir",
        str(joiner),
        "--genesis",
        str(net / "node-0" / "genesis.json"),
        "--peer",
        "127.0.0.1:26657",
        "--port",
        "0",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (joiner / "genesis.json").read_text() == (net / "node-0" / "genesis.json").read_text()
    assert load_forging_keys(joiner / "forging_keys.json") == {}
    assert NodeConfig.load(joiner).peers == ("127.0.0.1:26657",)
    mover = tmp_path / "mover"
    keys = net / "node-1" / "forging_keys.json"
    moved = CliRunner().invoke(cli, [*args[:3], str(mover), *args[4:], "--forging-keys", str(keys)])
    assert moved.exit_code == 0, moved.output
    assert load_forging_keys(mover / "forging_keys.json") == load_forging_keys(keys)
    missing = CliRunner().invoke(cli, ["node", "init", "--data-dir", str(tmp_path / "x"),
                                       "--genesis", str(tmp_path / "nope.json")])  # fmt: skip
    assert missing.exit_code != 0 and "not found" in missing.output


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("peers", ["nohost"], "HOST:PORT"), ("peers", "a:1", "peers"),
     ("max_inbound", -1, ">= 0"), ("peer_exchange", "yes", "peer_exchange")],
)  # fmt: skip
def test_bad_peer_settings_in_node_json_are_one_clear_error(
    tmp_path: Path, field: str, value: object, message: str
) -> None:
    CliRunner().invoke(cli, ["node", "init", "--data-dir", str(tmp_path)])
    path = tmp_path / "node.json"
    data = json.loads(path.read_text())
    data[field] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message):
        NodeConfig.load(tmp_path)
