"""CLI config layering: defaults < stack.json (regtest) < TOML < environment < options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from etm_bridge_cli.config import SETTINGS, env_name, load_config

from etm_bridge.errors import ConfigError


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment isolated from the developer's stack and config files."""
    return {
        "ETM_STACK_DIR": str(tmp_path / "stack"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
    }


def _stack(env: dict[str, str]) -> None:
    state = {
        "bitcoin": {"rpc_url": "http://127.0.0.1:18443", "rpc_user": "etm", "rpc_password": "pw"},
        "anvil": {"rpc_url": "http://127.0.0.1:8545"},
        "etm": {"rpc_url": "http://127.0.0.1:26657", "admin_token": "tok"},
    }
    Path(env["ETM_STACK_DIR"]).mkdir(parents=True)
    (Path(env["ETM_STACK_DIR"]) / "stack.json").write_text(json.dumps(state))


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf" / "config.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_any_source(env: dict[str, str], tmp_path: Path) -> None:
    config = load_config(env=env)
    assert config.network == "regtest"
    assert config.data_dir == tmp_path / "xdg-data" / "etm-bridge"
    assert config.keystore_path == config.data_dir / "keystore.json"
    assert config.get("etm.url") is None
    assert config.get("bitcoin.birth_height") == 0


def test_stack_json_supplies_regtest_endpoints(env: dict[str, str]) -> None:
    _stack(env)
    config = load_config(env=env)
    assert config.get("bitcoin.rpc_url") == "http://127.0.0.1:18443"
    assert config.get("bitcoin.rpc_password") == "pw"
    assert config.get("ethereum.rpc_url") == "http://127.0.0.1:8545"
    assert config.get("etm.url") == "http://127.0.0.1:26657"
    assert config.sources["etm.url"] == "stack.json"
    assert config.describe()["bitcoin.rpc_password"]["value"] == "***"


def test_stack_json_is_ignored_off_regtest(env: dict[str, str]) -> None:
    _stack(env)
    config = load_config(env={**env, "ETM_BRIDGE_NETWORK": "testnet"})
    assert config.network == "testnet"
    assert config.get("bitcoin.rpc_url") is None


def test_precedence_toml_over_stack_env_over_toml_option_over_env(
    env: dict[str, str], tmp_path: Path
) -> None:
    _stack(env)
    path = _toml(
        tmp_path,
        'keystore = "keys/wallet.json"\n[etm]\nurl = "http://toml:1"\n'
        '[bitcoin]\nrpc_url = "http://toml:2"\nbirth_height = 7\n',
    )
    env = {**env, "ETM_BRIDGE_BITCOIN_RPC_URL": "http://env:3", "ETM_BRIDGE_CONFIG": str(path)}
    config = load_config(env=env, overrides={"etm.url": ("http://opt:4", "option --etm-url")})
    assert config.get("etm.url") == "http://opt:4"
    assert config.get("bitcoin.rpc_url") == "http://env:3"
    assert config.sources["bitcoin.rpc_url"] == "ETM_BRIDGE_BITCOIN_RPC_URL"
    assert config.get("bitcoin.birth_height") == 7
    assert config.get("bitcoin.rpc_user") == "etm"  # still from stack.json
    assert config.keystore_path == path.parent / "keys" / "wallet.json"  # relative to the file


def test_default_config_file_is_read_when_present(env: dict[str, str]) -> None:
    path = Path(env["XDG_CONFIG_HOME"]) / "etm-bridge" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('network = "signet"\n')
    assert load_config(env=env).network == "signet"


def test_unknown_key_names_key_and_file(env: dict[str, str], tmp_path: Path) -> None:
    path = _toml(tmp_path, '[bitcoin]\nrpcurl = "x"\n')
    with pytest.raises(ConfigError, match=f"unknown key 'bitcoin.rpcurl' in config file {path}"):
        load_config(config_file=path, env=env)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[bitcoin]\nbirth_height = "ten"\n', "bitcoin.birth_height in config file .* integer"),
        ('network = "moon"\n', "network in config file .* must be one of"),
        ("[etm]\nurl = 5\n", "etm.url in config file .* string"),
        ("network = \n", "is not valid TOML"),
    ],
)
def test_bad_values_name_key_and_file(
    env: dict[str, str], tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(config_file=_toml(tmp_path, text), env=env)


def test_bad_environment_value_names_the_variable(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="environment variable ETM_BRIDGE_KDF_OPSLIMIT"):
        load_config(env={**env, "ETM_BRIDGE_KDF_OPSLIMIT": "fast"})


def test_explicit_missing_config_file_is_an_error(env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(config_file=tmp_path / "nope.toml", env=env)


def test_out_of_range_kdf_is_a_config_error_naming_the_source(env: dict[str, str]) -> None:
    config = load_config(env={**env, "ETM_BRIDGE_KDF_MEMLIMIT": "1024"})
    with pytest.raises(ConfigError, match=r"kdf\.memlimit from ETM_BRIDGE_KDF_MEMLIMIT"):
        config.kdf()


def test_every_setting_has_a_distinct_environment_variable() -> None:
    names = [env_name(key) for key in SETTINGS]
    assert len(set(names)) == len(names)
    assert env_name("bitcoin.rpc_url") == "ETM_BRIDGE_BITCOIN_RPC_URL"
