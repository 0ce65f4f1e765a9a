"""EngineConfig without config.toml: the local regtest stack's endpoints are the default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etm_bridge.errors import ConfigError
from etm_bridge.swaps.config import STACK_POLICY, EngineConfig, stack_chains

STATE = {
    "bitcoin": {"network": "regtest", "rpc_url": "http://127.0.0.1:1", "rpc_user": "u",
                "rpc_password": "p", "kind": "bcoin"},
    "anvil": {"rpc_url": "http://127.0.0.1:2", "chain_id": 31337},
    "etm": {"rpc_url": "http://127.0.0.1:3",
            "eth_pool": {"htlc_address": "0x" + "ab" * 20, "htlc_block": 5, "vault": "0x"}},
}  # fmt: skip


def _stack(tmp_path: Path, state: object, monkeypatch: pytest.MonkeyPatch) -> Path:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "stack.json").write_text(json.dumps(state))
    monkeypatch.setenv("ETM_STACK_DIR", str(stack))
    return tmp_path / "home"


def test_no_config_toml_uses_the_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _stack(tmp_path, STATE, monkeypatch)
    config = EngineConfig.load(home)
    assert sorted(config.chains) == ["bitcoin", "ethereum", "etm"]
    btc = config.chain("bitcoin")
    assert (btc["rpc_url"], btc["rpc_user"], btc["rpc_password"]) == (
        "http://127.0.0.1:1",
        "u",
        "p",
    )
    assert (btc["network"], btc["birth_height"]) == ("regtest", 0)
    assert btc["data_dir"] == str(home.resolve() / "bitcoin")
    eth = config.chain("ethereum")
    assert (eth["htlc_address"], eth["from_block"]) == ("0x" + "ab" * 20, 5)
    assert config.chain("etm") == {"url": "http://127.0.0.1:3"}
    assert config.policy == STACK_POLICY


def test_config_toml_wins_over_the_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _stack(tmp_path, STATE, monkeypatch)
    home.mkdir()
    (home / "config.toml").write_text('[chains.etm]\nurl = "http://x"\n')
    assert list(EngineConfig.load(home).chains) == ["etm"]


def test_a_stack_without_eth_pool_has_no_ethereum_and_non_regtest_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _stack(tmp_path, {**STATE, "etm": {"rpc_url": "http://e"}}, monkeypatch)
    assert sorted(stack_chains(home)) == ["bitcoin", "etm"]
    main = {**STATE, "bitcoin": {**STATE["bitcoin"], "network": "mainnet"}}
    (tmp_path / "stack" / "stack.json").write_text(json.dumps(main))
    assert EngineConfig.load(home).chains == {}


def test_no_stack_no_chains_and_a_broken_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETM_STACK_DIR", str(tmp_path / "none"))
    assert EngineConfig.load(tmp_path / "home").chains == {}
    home = _stack(tmp_path, STATE, monkeypatch)
    (tmp_path / "stack" / "stack.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"stack\.json"):
        EngineConfig.load(home)
