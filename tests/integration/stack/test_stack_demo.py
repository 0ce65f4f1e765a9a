"""``etm-bridge demo`` brings a (private) stack up and shows a real transfer on each chain
(Bitcoin regtest, anvil, the ETM node)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from etm_bridge_regtest import procs
from etm_bridge_regtest.stack import PORT_OFFSETS, StackConfig, down, status

ETM_BRIDGE = str(Path(sys.executable).with_name("etm-bridge"))


def test_demo_transfers_on_every_chain_and_prints_balances(tmp_path: Path) -> None:
    base = procs.free_port()
    while not all(procs.port_is_free(base + off) for off in PORT_OFFSETS.values()) or (
        base + max(PORT_OFFSETS.values()) >= 32768
    ):
        base = procs.free_port()
    env = {**os.environ, "ETM_STACK_DIR": str(tmp_path / "stack"), "ETM_STACK_BASE_PORT": str(base)}
    config = StackConfig.from_env(env)
    try:
        result = subprocess.run(
            [ETM_BRIDGE, "demo"], env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "Balances read back from the chains" in out
        assert "alice -> bob signed with alice's own key" in out
        assert "0.49998 BTC" in out  # 0.5 BTC funded, minus the 2000 sat fee
        assert "1.5 ETH" in out
        assert "1 conf" in out
        assert "etm: user-0 -> fresh key in block" in out and "25 ETM" in out
        assert all(s["running"] for s in status(config).values())
    finally:
        down(config)
    assert not any(s["running"] for s in status(config).values())
