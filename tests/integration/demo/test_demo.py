"""``etm-bridge demo`` end to end on a private stack (own state dir and ports), then
``etm-bridge swap list --json`` against the same stack shows the demo's swaps; then ``stack down``
and the demo again on the restarted stack (each node reloads its chain); then, with anvil's saved
chain deleted, ``stack up`` refuses in one line saying what to do.

Asserts on the demo's ``--json`` output: the four pool swaps (BTC -> ETM, ETM -> BTC,
ETH -> ETM, HNS -> ETM on the stack's hsd) claimed on both chains with the pool's share value
rising by their fees, the abandoned swap refunded, amounts as locked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from etm_bridge_regtest import procs
from etm_bridge_regtest.etm_node import NETWORK_NODES
from etm_bridge_regtest.stack import StackConfig, down, port_span, status

ETM_BRIDGE = str(Path(sys.executable).with_name("etm-bridge"))


def _base_port() -> int:
    span = port_span(NETWORK_NODES)  # every port up to the last ETM node's
    base = procs.free_port()
    while not all(procs.port_is_free(base + off) for off in range(span + 1)) or (
        base + span >= 32768
    ):
        base = procs.free_port()
    return base


def _listed(env: dict[str, str]) -> dict[str, str]:
    """``etm-bridge swap list --json``: swap id -> state."""
    listed = subprocess.run(
        [ETM_BRIDGE, "swap", "list", "--json"], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    return {r["swap_id"]: r["state"] for r in json.loads(listed.stdout)}


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([ETM_BRIDGE, *args], env=env, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.bitcoin_long
def test_demo_runs_pool_swaps_and_an_abandoned_refund(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ETM_STACK_DIR": str(tmp_path / "stack"),
        "ETM_STACK_BASE_PORT": str(_base_port()),
        "ETM_BRIDGE_HOME": str(tmp_path / "swaps"),
    }
    config = StackConfig.from_env(env)
    try:
        result = subprocess.run(
            [ETM_BRIDGE, "demo", "--json"], env=env, capture_output=True, text=True, timeout=400
        )
        assert result.returncode == 0, result.stderr[-4000:]
        out = json.loads(result.stdout)
        rows = {row["swap"]: row for row in out["swaps"]}
        assert list(rows) == [
            "BTC -> ETM (pool)", "ETM -> BTC (pool)", "ETH -> ETM (pool)", "HNS -> ETM (pool)",
            "BTC -> ETM (abandoned)",
        ]  # fmt: skip
        swap_in, swap_out = rows["BTC -> ETM (pool)"], rows["ETM -> BTC (pool)"]
        eth_in, hns_in = rows["ETH -> ETM (pool)"], rows["HNS -> ETM (pool)"]
        assert eth_in["paid"] == "0.01 ETH" and eth_in["fee"] == "0.00003 ETH"
        assert hns_in["paid"] == "2 HNS" and hns_in["fee"] == "0.006 HNS"
        assert hns_in["direction"] == "handshake -> etm"
        for row in (swap_in, swap_out, eth_in, hns_in):
            assert row["state"] == "claimed_both"
            assert row["share_value_after"] > row["share_value_before"]
        assert swap_in["paid"] == "0.001 BTC" and swap_in["fee"] == "0.000003 BTC"
        assert swap_out["paid"] == "5 ETM" and swap_out["fee"] == "0.015 ETM"
        abandoned = rows["BTC -> ETM (abandoned)"]
        assert abandoned["state"] == "refunded" and abandoned["received"] == "refunded"
        assert abandoned["share_value_after"] == abandoned["share_value_before"]
        assert abandoned["fee"] == "none"
        assert out["pool"]["asset_reserved"] == 0 and out["pool"]["etm_reserved"] == 0
        assert "ETH -> ETM not run" not in result.stderr
        assert "HNS -> ETM not run" not in result.stderr
        # on the 4-node network, every node answering, blocks final
        network = out["network"]
        assert (network["nodes"], network["answering"]) == (NETWORK_NODES, NETWORK_NODES)
        assert network["final_height"] > 0

        assert _listed(env) == {row["swap_id"]: row["state"] for row in out["swaps"]}

        # `stack down` (as the README says), then a second run: every node reloads its chain
        # (anvil its saved state), so the run reuses the pools and their operator, and the
        # first run's swaps stay in their final states
        _cli(env, "stack", "down")
        assert not any(s["running"] for s in status(config).values())
        assert (config.home("anvil") / "state.json").stat().st_size > 0
        again = subprocess.run(
            [ETM_BRIDGE, "demo", "--json"], env=env, capture_output=True, text=True, timeout=400
        )
        assert again.returncode == 0, again.stderr[-4000:]
        second = json.loads(again.stdout)["swaps"]
        assert [r["state"] for r in second] == ["claimed_both"] * 4 + ["refunded"]
        assert second[0]["share_value_before"] >= out["swaps"][-1]["share_value_after"]
        assert second[2]["share_value_before"] >= eth_in["share_value_after"]  # same ETH pool
        assert second[3]["share_value_before"] >= hns_in["share_value_after"]  # same HNS pool
        expected = {row["swap_id"]: row["state"] for row in out["swaps"] + second}
        assert _listed(env) == expected
        assert all(s["running"] for s in status(config).values())

        # anvil's saved chain lost: `stack up` says so in one line, with what to do, and
        # leaves nothing running
        _cli(env, "stack", "down")
        (config.home("anvil") / "state.json").unlink()
        lost = subprocess.run([ETM_BRIDGE, "stack", "up"], env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert lost.returncode == 3 and len(lost.stderr.strip().splitlines()) == 1, lost.stderr
        assert "anvil holds no code at" in lost.stderr and "PoolVault" in lost.stderr
        assert f"rm -rf {config.state_dir} && etm-bridge stack up" in lost.stderr
        assert not any(s["running"] for s in status(config).values())
    finally:
        down(config)
    assert not any(s["running"] for s in status(config).values())
