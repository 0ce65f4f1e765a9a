"""A watcher left running through a node outage, on real nodes (issue 15): both parties run
``etm-bridge watch --until-done`` as processes; once the user's BTC lock is sent, the swap's
anvil (a real process, its chain saved to disk) is stopped. Both watchers say once that the
ethereum node is unreachable (in ``<home>/logs/watch.log``) and keep running; anvil is started
again on the same port, both say it is back, and the swap ends ``claimed_both`` with both
watchers exiting 0 by themselves; meanwhile ``etm-bridge status`` shows the open swap, its next
deadline and the node that is down. Bitcoin is the session's regtest node; anvil is this test's.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from eth_account import Account
from etm_bridge_cli.main import cli
from etm_bridge_ethereum import deploy_contract
from etm_bridge_regtest import procs
from etm_bridge_regtest.anvil import AnvilService
from etm_bridge_regtest.service import Started, start, stop

from etm_bridge.wallet import UNSAFE_FAST_KDF, create_keystore

PASS = "correct horse battery staple"
DEADLINE_S = 240.0


def _home(tmp_path: Path, name: str, bitcoin_node, anvil_url: str, htlc):
    home = tmp_path / name
    home.mkdir()
    keystore = create_keystore(home / "keystore.json", PASS, kdf=UNSAFE_FAST_KDF)
    (home / "config.toml").write_text(
        'keystore = "keystore.json"\n'
        '[chains.btc]\nadapter = "bitcoin"\n'
        f'rpc_url = "{bitcoin_node.rpc_url}"\nrpc_user = "{bitcoin_node.rpc_user}"\n'
        f'rpc_password = "{bitcoin_node.rpc_password}"\ndata_dir = "{home / "btc"}"\n'
        f"birth_height = {bitcoin_node.height()}\n"
        '[chains.eth]\nadapter = "ethereum"\n'
        f'rpc_url = "{anvil_url}"\nhtlc_address = "{htlc.address}"\n'
        f'data_dir = "{home / "eth"}"\nfrom_block = {htlc.block_number}\n'
        "[policy]\nleg_margin_s = 3600\nretry_after_s = 0\n"
        "reveal_margin_s = 600\nmin_counter_lock_s = 1800\n"
    )
    return home, keystore.public


def _cli(*args) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], env={"ETM_BRIDGE_PASSPHRASE": PASS})
    assert result.exit_code == 0, result.output
    return result.output


def _log(home: Path) -> str:
    path = home / "logs" / "watch.log"
    return path.read_text() if path.exists() else ""


def _watch(home: Path) -> subprocess.Popen[bytes]:
    script = Path(sys.executable).with_name("etm-bridge")
    out = (home / "watch.out").open("wb")
    return subprocess.Popen(
        [str(script), "watch", "--until-done", "--interval", "0.2", "--home", str(home)],
        env={**os.environ, "ETM_BRIDGE_PASSPHRASE": PASS},
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def _until(done: Callable[[], bool], what: str, step: Callable[[], object] = bool) -> None:
    """Call ``step`` until ``done()`` (each 0.3 s), failing after DEADLINE_S."""
    end = time.monotonic() + DEADLINE_S
    while not done():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        step()
        time.sleep(0.3)


def test_watchers_survive_a_node_outage_and_finish_the_swap(bitcoin_node, tmp_path) -> None:
    if bitcoin_node.height() < 101:
        bitcoin_node.mine(101 - bitcoin_node.height())
    port = procs.free_port()
    anvil_home = tmp_path / "anvil"
    running: Started | None = start(
        AnvilService(anvil_home, port=port, persist=True), die_with_parent=True
    )
    watchers: list[subprocess.Popen[bytes]] = []
    try:
        anvil = AnvilService(anvil_home, port=port, persist=True).node()
        deployer = "0x" + secrets.token_hex(32)
        anvil.rpc.call("anvil_setBalance", Account.from_key(deployer).address, hex(10**20))
        htlc = deploy_contract(anvil.rpc_url, deployer, tmp_path / "deployer")
        user_home, user = _home(tmp_path, "user", bitcoin_node, anvil.rpc_url, htlc)
        op_home, op = _home(tmp_path, "op", bitcoin_node, anvil.rpc_url, htlc)
        bitcoin_node.fund(user.btc.address("regtest"), 3_000_000, confirm=False)
        bitcoin_node.mine(1)
        for who in (user, op):
            anvil.rpc.call("anvil_setBalance", who.eth.address, hex(10**19))
        started = json.loads(_cli(
            "swap", "start", "btc", "eth", "0.01", "--receive", "0.5",
            "--their-claim-key", op.btc.public_key.hex(), "--their-refund-key", op.eth.address,
            "--hours", "12", "--counter-hours", "1", "--home", user_home, "--json",
        ))  # fmt: skip
        swap_id = started["swap_id"]
        (tmp_path / "terms.json").write_text(json.dumps(started))
        _cli("swap", "accept", tmp_path / "terms.json", "--home", op_home)
        watchers = [_watch(user_home), _watch(op_home)]

        # both watchers run (their adapters open) and the user's BTC lock goes out; then the
        # ethereum node goes away (a watcher still starting would meet the outage at its start,
        # which is said differently: "waiting for the nodes")
        _until(lambda: "0.01 BTC on btc: sent" in _log(user_home), "the user's BTC lock")
        _until(lambda: "watch started" in _log(op_home), "the operator's watcher")
        stop(running.pid)
        running = None
        down = f"ethereum node at http://127.0.0.1:{port} unreachable, retrying in"
        _until(lambda: all(down in _log(h) for h in (user_home, op_home)), "the outage lines")
        assert [w.poll() for w in watchers] == [None, None]  # still running
        # `status` during the outage: the swap, its next deadline, which node is down
        picture = json.loads(_cli("status", "--home", user_home, "--json"))
        nodes = {n["chain"]: n for n in picture["nodes"]}
        assert nodes["btc"]["ok"] and not nodes["eth"]["ok"], nodes
        assert nodes["eth"]["endpoint"] == f"http://127.0.0.1:{port}"
        [open_swap] = picture["open_swaps"]
        assert open_swap["swap_id"] == swap_id and picture["watcher_running"]
        assert picture["next_deadline"]["swap_id"] == swap_id
        assert picture["next_deadline"]["blocks_left"] > 0

        # back on the same port, with the chain it saved
        running = start(AnvilService(anvil_home, port=port, persist=True), die_with_parent=True)
        back = f"ethereum node at http://127.0.0.1:{port} back"
        _until(lambda: all(back in _log(h) for h in (user_home, op_home)), "the 'back' lines")

        def mine() -> None:
            bitcoin_node.mine(1)
            anvil.rpc.call("anvil_mine", "0x1")

        _until(lambda: all(w.poll() is not None for w in watchers), "both watchers", mine)
        assert [w.returncode for w in watchers] == [0, 0], [
            (h / "watch.out").read_text() for h in (user_home, op_home)
        ]
        for home in (user_home, op_home):
            assert (
                json.loads(_cli("swap", "status", swap_id, "--home", home, "--json"))["state"]
                == "claimed_both"
            )
            log = _log(home)
            assert log.count(down) == 1 and log.count(back) == 1, log  # once per outage
            assert f"swap {swap_id}: complete: both locks claimed" in log
    finally:
        for w in watchers:
            if w.poll() is None:
                w.kill()
                w.wait()
        if running is not None:
            stop(running.pid)
