"""The stack's client.toml: the stack's endpoints as a config layer, written 0600 by `stack up`,
read by every command on regtest, and refused when it is not our own plain file."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from etm_bridge_regtest.client_config import (
    STACK_POLICY,
    client_tables,
    to_toml,
    write_client_config,
)

from etm_bridge.config import load_config
from etm_bridge.errors import ConfigError
from etm_bridge.swaps.core.policy import PolicyConfig

STATE = {
    "bitcoin": {"network": "regtest", "rpc_url": "http://127.0.0.1:1", "rpc_user": "u",
                "rpc_password": 'p"w\\', "kind": "bcoin"},
    "anvil": {"rpc_url": "http://127.0.0.1:2", "chain_id": 31337},
    "etm": {"rpc_url": "http://127.0.0.1:3", "admin_token": "tok",
            "eth_pool": {"htlc_address": "0x" + "ab" * 20, "htlc_block": 5, "vault": "0x"}},
}  # fmt: skip


def _load(stack: Path, tmp_path: Path, **env: str):
    return load_config(env={"ETM_STACK_DIR": str(stack), **env}, cwd=tmp_path, home=tmp_path / "h")


def test_the_stack_state_as_tables() -> None:
    tables = client_tables(STATE)
    assert tables["etm"] == {"url": "http://127.0.0.1:3", "admin_token": "tok"}
    assert tables["chains"]["bitcoin"] == {
        "rpc_url": "http://127.0.0.1:1", "rpc_user": "u", "rpc_password": 'p"w\\',
        "network": "regtest", "birth_height": 0,
    }  # fmt: skip
    assert tables["chains"]["ethereum"] == {
        "rpc_url": "http://127.0.0.1:2", "htlc_address": "0x" + "ab" * 20, "from_block": 5,
    }  # fmt: skip
    assert tables["policy"] == STACK_POLICY
    assert tomllib.loads(to_toml(tables)) == tables  # the writer's TOML round-trips


def test_a_stack_without_its_htlc_or_off_regtest_or_empty() -> None:
    tables = client_tables({**STATE, "etm": {"rpc_url": "http://e"}})
    assert tables["chains"]["ethereum"] == {"rpc_url": "http://127.0.0.1:2"}
    main = {**STATE, "bitcoin": {**STATE["bitcoin"], "network": "mainnet"}}
    assert "bitcoin" not in client_tables(main)["chains"]
    assert client_tables({}) == {}


def test_written_0600_read_as_the_regtest_layer_and_removed_when_empty(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    path = stack / "client.toml"
    write_client_config(path, STATE)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    config = _load(stack, tmp_path)
    assert config.swap_chains() == ("bitcoin", "ethereum", "etm")
    assert config.policy == PolicyConfig(retry_after_s=2, user_proof_delay_blocks=0)
    _, btc = config.chain_options("bitcoin")
    assert btc["rpc_password"] == 'p"w\\' and btc["data_dir"] == str(tmp_path / "h" / "bitcoin")
    assert _load(stack, tmp_path, ETM_BRIDGE_NETWORK="mainnet").chain_names == ()
    write_client_config(path, {})
    assert not path.exists()


def test_a_planted_symlink_is_refused_not_followed(tmp_path: Path) -> None:
    """Attack: in a shared directory (the default stack dir is ./.etm/stack) another user plants
    client.toml as a link to a file of theirs naming their nodes; every command would talk to
    them. The layer must be our own plain file."""
    evil = tmp_path / "evil.toml"
    evil.write_text('[etm]\nurl = "http://attacker:1"\n')
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "client.toml").symlink_to(evil)
    with pytest.raises(ConfigError, match=r"refusing config file .*client\.toml.*symlink"):
        _load(stack, tmp_path)
    (stack / "client.toml").unlink()
    (stack / "client.toml").symlink_to(tmp_path / "missing.toml")  # dangling: still refused
    with pytest.raises(ConfigError, match="refusing config file"):
        _load(stack, tmp_path)


@pytest.mark.skipif(os.geteuid() != 0, reason="making another user's file needs root")
def test_another_users_file_is_refused(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    write_client_config(stack / "client.toml", {**STATE, "etm": {"rpc_url": "http://attacker:1"}})
    os.chown(stack / "client.toml", 65534, 65534)
    with pytest.raises(ConfigError, match="refusing config file"):
        _load(stack, tmp_path)


def test_a_broken_stack_file_is_named(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "client.toml").write_text("{not toml")
    (stack / "client.toml").chmod(0o600)
    with pytest.raises(ConfigError, match=r"client\.toml is not valid TOML"):
        _load(stack, tmp_path)


def test_a_network_stack_lists_every_node_url(tmp_path: Path) -> None:
    urls = [f"http://127.0.0.1:{p}" for p in (3, 4, 5, 6)]
    state = {**STATE, "etm": {**STATE["etm"], "urls": urls}}
    tables = client_tables(state)
    assert tables["etm"] == {"urls": urls, "admin_token": "tok"}
    assert tomllib.loads(to_toml(tables))["etm"]["urls"] == urls
    stack = tmp_path / "stack"
    write_client_config(stack / "client.toml", state)
    assert _load(stack, tmp_path).etm_urls == tuple(urls)


def test_hsd_of_the_stack_is_the_handshake_table() -> None:
    hsd = {"kind": "hsd", "network": "regtest", "rpc_url": "http://127.0.0.1:4",
           "api_key": "k", "ports": {"rpc": 4, "wallet": 5}}  # fmt: skip
    tables = client_tables({**STATE, "hsd": hsd})
    assert tables["chains"]["handshake"] == {
        "rpc_url": "http://127.0.0.1:4", "rpc_user": "etm", "rpc_password": "k",
        "network": "regtest", "birth_height": 0,
    }  # fmt: skip
    assert tomllib.loads(to_toml(tables)) == tables
    assert "handshake" not in client_tables(STATE)["chains"]  # no hsd: no table
