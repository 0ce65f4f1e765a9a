"""Bad input to the swap CLI on real nodes: each is one ``error:`` line saying what to do, with
a non-zero exit and no traceback, and nothing is broadcast: a swap the wallet cannot pay for
(nothing recorded), refund before the timelock (naming the height and the time), claim without
the secret, wrong passphrase, unknown swap id, a chain node that is down, cancelling a swap
whose lock exists. ``swap cancel`` before anything is locked ends the swap for good."""

from __future__ import annotations

import json
import secrets
import shutil
import socket

from cli_parties import PASS
from cli_parties import home as _home
from click.testing import CliRunner
from eth_account import Account
from etm_bridge_cli.main import cli
from etm_bridge_ethereum import deploy_contract


def _fail(*args, passphrase: str = PASS) -> str:
    result = CliRunner().invoke(
        cli, [str(a) for a in args], env={"ETM_BRIDGE_PASSPHRASE": passphrase}
    )
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def _ok(*args) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], env={"ETM_BRIDGE_PASSPHRASE": PASS})
    assert result.exit_code == 0, result.output
    return result.output


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_swap_commands_fail_in_one_clear_line(bitcoin_node, anvil_node, tmp_path) -> None:
    if bitcoin_node.height() < 101:
        bitcoin_node.mine(101 - bitcoin_node.height())
    deployer = "0x" + secrets.token_hex(32)
    anvil_node.rpc.call("anvil_setBalance", Account.from_key(deployer).address, hex(10**20))
    htlc = deploy_contract(anvil_node.rpc_url, deployer, tmp_path / "deployer")
    user_home, user = _home(tmp_path, "user", bitcoin_node, anvil_node, htlc)
    op_home, op = _home(tmp_path, "op", bitcoin_node, anvil_node, htlc)
    offer = (
        *("--their-claim-key", op.btc.public_key.hex()),
        *("--their-refund-key", op.eth.address, "--hours", "3", "--counter-hours", "1"),
        *("--home", user_home),
    )
    # issue 15: an empty wallet's swap is refused before anything is recorded or locked
    line = _fail("swap", "start", "btc", "eth", "0.01", "--receive", "0.5", *offer)
    assert "not enough on btc" in line and "short by 0.01" in line, line
    assert user.btc.address("regtest") in line and "Nothing was recorded" in line, line
    assert json.loads(_ok("swap", "list", "--home", user_home, "--json")) == []
    bitcoin_node.fund(user.btc.address("regtest"), 3_000_000, confirm=False)
    bitcoin_node.mine(1)
    line = _fail("swap", "start", "btc", "eth", "0.01", "--receive", "0.5", *offer)
    assert "not enough on eth" in line and "network fee" in line, line  # gas of the claim
    anvil_node.rpc.call("anvil_setBalance", user.eth.address, hex(10**18))
    started = json.loads(
        _ok(
            *("swap", "start", "btc", "eth", "0.01", "--receive", "0.5"),
            *("--their-claim-key", op.btc.public_key.hex()),
            *("--their-refund-key", op.eth.address, "--hours", "3", "--counter-hours", "1"),
            *("--home", user_home, "--json"),
        )
    )
    swap_id = started["swap_id"]
    (tmp_path / "terms.json").write_text(json.dumps(started))
    _ok("swap", "accept", tmp_path / "terms.json", "--home", op_home)

    refused = _fail("swap", "refund", swap_id, "--home", user_home)
    assert "nothing to refund now" in refused and f"swap cancel {swap_id}" in refused, refused
    assert "nothing to claim now" in _fail("swap", "claim", swap_id, "--home", op_home)
    assert "wrong passphrase" in _fail(
        "swap", "explain", swap_id, "--home", user_home, passphrase="not it"
    )
    assert "swap list" in _fail("swap", "status", "no-such-swap", "--home", user_home)
    assert "amount" in _fail(
        *("swap", "start", "btc", "eth", "0.000000001", "--receive", "0.5"),
        *("--their-claim-key", op.btc.public_key.hex(), "--their-refund-key", op.eth.address),
        *("--home", user_home),
    )

    down = tmp_path / "down"
    shutil.copytree(user_home, down)
    config = (
        (down / "config.toml")
        .read_text()
        .replace(bitcoin_node.rpc_url, f"http://127.0.0.1:{_closed_port()}")
    )
    (down / "config.toml").write_text(config)
    line = _fail("swap", "explain", swap_id, "--home", down)
    assert "cannot reach node at http://127.0.0.1:" in line and "is it running" in line, line
    # nothing was broadcast by any refusal above
    status = json.loads(_ok("swap", "status", swap_id, "--home", user_home, "--json"))
    assert status["state"] == "created" and status["intents"] == []
    assert json.loads(_ok("swap", "status", swap_id, "--home", op_home, "--json"))["intents"] == []

    # issue 15: cancelled before anything is locked; the watcher never acts on it
    assert "cancelled" in _ok("swap", "cancel", swap_id, "--home", user_home)
    _ok("watch", "--ticks", "1", "--interval", "0", "--home", user_home)
    status = json.loads(_ok("swap", "status", swap_id, "--home", user_home, "--json"))
    assert status["state"] == "cancelled" and status["intents"] == []
    assert "already ended" in _fail("swap", "cancel", swap_id, "--home", user_home)
    # once the lock exists: refused, naming the refund's height and time
    locked = json.loads(_ok("swap", "start", "btc", "eth", "0.01", "--receive", "0.5", *offer,
                            "--json"))["swap_id"]  # fmt: skip
    _ok("watch", "--ticks", "1", "--interval", "0", "--home", user_home)
    height = bitcoin_node.height()
    line = _fail("swap", "cancel", locked, "--home", user_home)
    assert "cannot be cancelled" in line and "refund possible after height" in line, line
    line = _fail("swap", "refund", locked, "--home", user_home)
    assert f"(now {height})" in line and "min" in line, line
