"""``etm-bridge stack up|status|down`` against real nodes, on a private state dir and ports.

Each test sets ETM_STACK_DIR to a temporary directory and ETM_STACK_BASE_PORT to a free block
of ports, so it never touches a developer's running stack. The CLI runs as a subprocess, like a
user would run it, so the nodes outlive the command that started them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from etm_bridge_regtest import procs
from etm_bridge_regtest.bitcoin import BitcoinNode
from etm_bridge_regtest.etm_node import NETWORK_NODES
from etm_bridge_regtest.ownkey import OwnKey
from etm_bridge_regtest.stack import PORT_OFFSETS, STACK_SERVICES, port_span

from etm_bridge.node.setup import init_node

ETM_BRIDGE = str(Path(sys.executable).with_name("etm-bridge"))
pytestmark = pytest.mark.bitcoin  # the stack it starts runs a Bitcoin node


def _free_base_port() -> int:
    """A base port B such that B + every stack offset is free and below 32768."""
    span = port_span(NETWORK_NODES)
    for _ in range(100):
        base = procs.free_port()
        ports = {base + offset for offset in range(span + 1)}
        usable = max(ports) < 32768 and not ports & procs.RESERVED_PORTS
        if usable and all(procs.port_is_free(p) for p in ports):
            return base
    raise AssertionError("no free block of ports for a private stack")


def _cli(env: dict[str, str], *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ETM_BRIDGE, "stack", *args], env=env, capture_output=True, text=True, timeout=timeout_s
    )


@pytest.fixture
def stack_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "ETM_STACK_DIR": str(tmp_path / "stack"),
        "ETM_STACK_BASE_PORT": str(_free_base_port()),
    }
    yield env
    _cli(env, "down")  # whatever the test did, leave nothing running


def _ports(env: dict[str, str]) -> dict[str, int]:
    """Every port of the stack: the ETM network's node k as ``etm-k``."""
    base = int(env["ETM_STACK_BASE_PORT"])
    ports = {name: base + offset for name, offset in PORT_OFFSETS.items()}
    return {**ports, **{f"etm-{k}": ports["etm"] + k for k in range(NETWORK_NODES)}}


def _status(env: dict[str, str]) -> dict:
    result = _cli(env, "status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_up_twice_then_status_then_down_leaves_no_process_and_frees_the_ports(
    stack_env: dict[str, str],
) -> None:
    first = _cli(stack_env, "up")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("started (pid") == len(STACK_SERVICES)
    assert "rpc_password" in first.stdout and "private_key[0]" in first.stdout

    second = _cli(stack_env, "up")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("already running (pid") == len(STACK_SERVICES)

    status = _status(stack_env)
    assert {name: (s["running"], s["answering"]) for name, s in status.items()} == {
        name: (True, True) for name in STACK_SERVICES
    }
    pids = [pid for s in status.values() for pid in s.get("pids") or [s["pid"]]]
    nodes = status["etm"]["nodes"]
    assert len(nodes) == NETWORK_NODES and len(set(pids)) == len(STACK_SERVICES) - 1 + NETWORK_NODES
    assert all(n["answering"] and n["peers"] == NETWORK_NODES - 1 and n["forging_keys"] == 1
               for n in nodes), nodes  # fmt: skip
    human = _cli(stack_env, "status").stdout  # one line per ETM node
    lines = [line for line in human.splitlines() if line.strip().startswith("etm-")]
    assert f"etm: {NETWORK_NODES} of {NETWORK_NODES} nodes running" in human
    assert len(lines) == NETWORK_NODES and all("peers 3  forging keys 1" in x for x in lines)
    assert all(n["url"] in x and "final" in x and "synced" in x
               for n, x in zip(nodes, lines, strict=True)), human  # fmt: skip

    # The persistent (on-disk) regtest wallet was funded by `up` and can pay our own key.
    bitcoin = status["bitcoin"]
    node = BitcoinNode(
        rpc_url=bitcoin["rpc_url"],
        rpc_user=bitcoin["rpc_user"],
        rpc_password=bitcoin["rpc_password"],
        kind=bitcoin["kind"],
    )
    assert node.height() >= 101
    assert node.rpc.call("listunspent"), "faucet wallet sees no coins"
    key = OwnKey.from_label("stack-cli-test")
    assert key.find_output(node.rpc, node.fund(key.address, 250_000)).value_sat == 250_000
    height = node.height()

    # While it is up, commands reach the stack's nodes with no config: `node status` without
    # --url asks the stack's ETM node (client.toml, a 0600 config layer on regtest).
    client_file = Path(stack_env["ETM_STACK_DIR"]) / "client.toml"
    assert oct(client_file.stat().st_mode & 0o777) == "0o600"
    node_status = subprocess.run([ETM_BRIDGE, "node", "status", "--json"], env=stack_env,
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
    assert node_status.returncode == 0, node_status.stderr
    assert json.loads(node_status.stdout)["height"] >= 0
    assert all(n["url"] in client_file.read_text() for n in nodes)  # [etm] urls: every node
    hns_table = f'[chains.handshake]\nrpc_url = "{status["hsd"]["rpc_url"]}"'
    assert hns_table in client_file.read_text()  # the stack's hsd, when it runs

    down = _cli(stack_env, "down")
    assert down.returncode == 0, down.stderr
    assert down.stdout.count("stopped (pid") == len(STACK_SERVICES)
    assert not any(procs.group_alive(pid) for pid in pids)
    for port in _ports(stack_env).values():
        assert procs.port_is_free(port), f"port {port} still taken after down"
    assert not any(s["running"] for s in _status(stack_env).values())
    assert not client_file.exists()  # down: commands no longer aim at the stopped nodes
    assert "not running" in _cli(stack_env, "down").stdout

    # up again: every node reloads its chain (same height, the payment included) and `up`
    # finds them consistent with what the ETM node follows
    third = _cli(stack_env, "up")
    assert third.returncode == 0, third.stderr
    assert third.stdout.count("started (pid") == len(STACK_SERVICES)
    assert node.height() == height
    again = _status(stack_env)["etm"]["nodes"]
    assert all(b["height"] >= a["height"] for a, b in zip(nodes, again, strict=True))
    assert _cli(stack_env, "down").stdout.count("stopped (pid") == len(STACK_SERVICES)


@pytest.mark.parametrize(
    "taken", ["bitcoin_rpc", "anvil", "etm", f"etm-{NETWORK_NODES - 1}", "hsd_wallet"]
)
def test_up_fails_fast_naming_a_port_that_is_already_taken(
    stack_env: dict[str, str], taken: str
) -> None:
    port = _ports(stack_env)[taken]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        started = time.monotonic()
        result = _cli(stack_env, "up", timeout_s=60)
        elapsed = time.monotonic() - started
    assert result.returncode == 3
    assert f"port {port}" in result.stderr
    assert elapsed < 30
    # Nothing this `up` started is left behind (earlier nodes are rolled back when a later fails).
    assert not any(s["running"] for s in _status(stack_env).values())
    assert procs.port_is_free(_ports(stack_env)["bitcoin_rpc"])


def test_missing_bitcoind_binary_is_a_clear_error(stack_env: dict[str, str]) -> None:
    env = {**stack_env, "BITCOIND": "/nonexistent/bitcoind"}
    result = _cli(env, "up", timeout_s=30)
    assert result.returncode == 3
    assert "/nonexistent/bitcoind" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_network_node_that_cannot_restart_fails_fast_with_its_log_tail(
    stack_env: dict[str, str],
) -> None:
    assert _cli(stack_env, "up").returncode == 0
    assert _cli(stack_env, "down").returncode == 0
    data = Path(stack_env["ETM_STACK_DIR"]) / "etm" / "node-2"
    (data / "chain.sqlite").write_bytes(b"not a database" * 400)
    for name in ("chain.sqlite-wal", "chain.sqlite-shm"):
        (data / name).unlink(missing_ok=True)
    result = _cli(stack_env, "up", timeout_s=90)
    assert result.returncode == 3, result.stdout
    assert "etm-2" in result.stderr and "exited before it was ready" in result.stderr
    assert "chain.sqlite is not a usable chain database" in result.stderr  # from the log tail
    assert "Traceback" not in result.stderr
    assert not any(s["running"] for s in _status(stack_env).values())
    assert not any(n["running"] for n in _status(stack_env)["etm"]["nodes"])


def test_an_etm_node_that_cannot_start_fails_fast_with_its_log_tail(
    stack_env: dict[str, str],
) -> None:
    # a stack dir made by the single node (etm/data) keeps the single node
    data = Path(stack_env["ETM_STACK_DIR"]) / "etm" / "data"
    init_node(data, delegates=1, block_time_s=1, port=0)
    (data / "chain.sqlite").write_bytes(b"not a database" * 400)
    result = _cli(stack_env, "up", timeout_s=90)
    assert result.returncode == 3, result.stdout
    assert "etm" in result.stderr and "exited before it was ready" in result.stderr
    assert "chain.sqlite is not a usable chain database" in result.stderr  # from the log tail
    assert "Traceback" not in result.stderr
    assert not any(s["running"] for s in _status(stack_env).values())
