"""The hsd (Handshake) regtest service: the flags that let several nodes run side by side."""

from __future__ import annotations

from pathlib import Path

import pytest
from etm_bridge_regtest import hsd, tools

from etm_bridge.errors import StackError


def test_hsd_runs_in_memory_without_dns_workers_p2p_or_a_stray_config(tmp_path: Path) -> None:
    service = hsd.HsdService(tmp_path, rpc_port=21001, wallet_port=21002, api_key="k")
    argv = service.command()
    assert argv[1].endswith("node_modules/hsd/bin/hsd")
    flags = ["--network=regtest", "--memory=true", "--no-dns", "--workers=false",
             "--listen=false", "--http-port=21001", "--wallet-http-port=21002", "--api-key=k",
             "--http-host=127.0.0.1", f"--prefix={tmp_path / 'data'}"]  # fmt: skip
    assert set(flags) <= set(argv)
    assert service.environment() == {"NODE_BACKEND": "js"}
    assert service.ports == {"rpc": 21001, "wallet": 21002}


def test_missing_hsd_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "find_node_modules", lambda: tmp_path)
    with pytest.raises(StackError, match="make deps"):
        hsd.hsd_main()
