"""SIGTERM/SIGINT stop a node cleanly: exit status 0, the store closed (SQLite folds its WAL
back into the database file on the last close), and the restarted node continues the chain."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from etm_bridge_regtest.etm_process import EtmNodeProcess

from etm_bridge.node.setup import init_node


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_shuts_down_cleanly_and_the_chain_continues(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    data = tmp_path / "node"
    init_node(data, delegates=3, block_time_s=1, funded_accounts=1, port=0)
    node = EtmNodeProcess(data)
    client = node.start()
    client.wait_for_height(2)
    assert node.proc is not None
    node.proc.send_signal(stop_signal)
    assert node.proc.wait(timeout=20) == 0, node.log_tail()
    assert not (data / "chain.sqlite-wal").exists(), "store was not closed"
    assert "Traceback" not in node.log_tail()
    client = node.start()
    try:
        resumed_at = client.status()["height"]
        assert resumed_at >= 2
        assert client.wait_for_height(resumed_at + 1)["height"] > resumed_at
    finally:
        node.stop()
