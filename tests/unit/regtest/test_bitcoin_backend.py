"""Choosing the Bitcoin backend and configuring bitcoind (no node is started here)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from etm_bridge_regtest.bitcoin import BcoinService, BitcoindService, bitcoin_service

from etm_bridge.errors import StackError


def _conf_values(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """(global options, [regtest] options) of a bitcoin.conf."""
    sections: dict[str, dict[str, str]] = {"": {}, "regtest": {}}
    current = ""
    for line in text.splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif "=" in line:
            key, value = line.split("=", 1)
            sections[current][key] = value
    return sections[""], sections["regtest"]


def test_bitcoind_named_by_env_is_preferred(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_binary = tmp_path / "bitcoind"
    fake_binary.write_text("#!/bin/sh\n")
    fake_binary.chmod(0o755)
    monkeypatch.setenv("BITCOIND", str(fake_binary))
    service = bitcoin_service(tmp_path / "home", rpc_port=20001, wallet_port=20002)
    assert isinstance(service, BitcoindService)
    assert service.kind == "bitcoind"
    assert service.command()[0] == str(fake_binary)
    assert service.ports == {"rpc": 20001}


def test_bitcoind_env_naming_nothing_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BITCOIND", str(tmp_path / "missing-bitcoind"))
    with pytest.raises(StackError, match="missing-bitcoind"):
        bitcoin_service(tmp_path, rpc_port=20001, wallet_port=20002)


def test_without_bitcoind_the_backend_is_bcoin_through_the_launcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BITCOIND", raising=False)
    only_node = tmp_path / "bin"  # a PATH with node but no bitcoind, even on a Core machine
    only_node.mkdir()
    (only_node / "node").symlink_to(str(shutil.which("node")))
    monkeypatch.setenv("PATH", str(only_node))
    service = bitcoin_service(tmp_path, rpc_port=20001, wallet_port=20002, throwaway=True)
    assert isinstance(service, BcoinService)
    argv = service.command()
    assert argv[1].endswith("bcoin_launcher.js")
    assert "--http-port=20001" in argv and "--wallet-http-port=20002" in argv
    assert f"--api-key={service.rpc_password}" in argv
    assert "--memory=true" in argv and "--index-tx=true" in argv


def test_bitcoin_conf_is_regtest_with_txindex_fallbackfee_and_loopback_rpc(tmp_path: Path) -> None:
    service = BitcoindService(
        tmp_path, bitcoind="/usr/bin/bitcoind", rpc_port=20001, wallet_port=20002
    )
    top, regtest = _conf_values(service.conf_text())
    assert top["regtest"] == "1" and top["txindex"] == "1" and top["server"] == "1"
    assert float(top["fallbackfee"]) > 0
    assert top["listen"] == "0"
    assert regtest["rpcport"] == "20001"
    assert regtest["rpcbind"] == regtest["rpcallowip"] == "127.0.0.1"
    assert (regtest["rpcuser"], regtest["rpcpassword"]) == (service.rpc_user, service.rpc_password)
    assert service.command() == [
        "/usr/bin/bitcoind",
        f"-datadir={tmp_path / 'data'}",
        f"-conf={tmp_path / 'bitcoin.conf'}",
    ]


def test_each_service_gets_its_own_random_rpc_password(tmp_path: Path) -> None:
    a = BcoinService(tmp_path, rpc_port=1, wallet_port=2)
    b = BcoinService(tmp_path, rpc_port=1, wallet_port=2)
    assert a.rpc_password != b.rpc_password and len(a.rpc_password) == 32
    assert BcoinService(tmp_path, rpc_port=1, wallet_port=2, rpc_password="kept").rpc_password == (
        "kept"
    )
