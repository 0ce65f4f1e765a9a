"""Several ETM endpoints: ``[etm] urls`` (a list), ``url`` as a list of one, the environment's
comma-separated ETM_BRIDGE_ETM_URLS and repeated ``--etm-url``; a higher layer's endpoints
replace a lower layer's whole (never merged), and the ETM leg gets a NodeSet of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from etm_bridge.config import load_config
from etm_bridge.errors import ConfigError
from etm_bridge.etm_client.endpoints import NodeSet
from etm_bridge.etm_client.htlc_leg import EtmAdapter

pytestmark = pytest.mark.unit
A, B, C = "http://127.0.0.1:26657", "http://127.0.0.1:26658", "http://127.0.0.1:26659"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return {"ETM_STACK_DIR": str(tmp_path / "stack")}


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_urls_list_from_the_file(env: dict[str, str], tmp_path: Path) -> None:
    config = load_config(
        env=env, cwd=tmp_path, config_file=_file(tmp_path, f'[etm]\nurls = ["{A}", "{B}"]\n')
    )
    assert config.etm_urls == (A, B) and config.etm_url == A
    assert config.chain_options("etm") == ("etm", {"url": A, "urls": [A, B]})
    assert config.swap_chains() == ("etm",)


def test_url_is_a_list_of_one(env: dict[str, str], tmp_path: Path) -> None:
    config = load_config(
        env=env, cwd=tmp_path, config_file=_file(tmp_path, f'[etm]\nurl = "{A}"\n')
    )
    assert config.etm_urls == (A,)
    assert config.chain_options("etm") == ("etm", {"url": A})


def test_environment_and_option_replace_lower_layers(env: dict[str, str], tmp_path: Path) -> None:
    path = _file(tmp_path, f'[etm]\nurls = ["{A}", "{B}"]\n')
    config = load_config(env={**env, "ETM_BRIDGE_ETM_URL": C}, cwd=tmp_path, config_file=path)
    assert config.etm_urls == (C,)  # the environment's one URL, not merged with the file's
    config = load_config(env={**env, "ETM_BRIDGE_ETM_URLS": f"{B}, {C}"}, cwd=tmp_path,
                         config_file=_file(tmp_path, f'[etm]\nurl = "{A}"\n'))  # fmt: skip
    assert config.etm_urls == (B, C)
    options = {"etm.urls": (f"{C},{A}", "option --etm-url")}
    config = load_config(env=env, cwd=tmp_path, config_file=path, options=options)
    assert config.etm_urls == (C, A)
    assert config.sources["etm.urls"] == "option --etm-url"


@pytest.mark.parametrize("bad", ["[]", '[""]', f'["{A}", "{A}"]', "[1]"])
def test_bad_urls_name_the_key(env: dict[str, str], tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match=r"etm\.urls in config file"):
        load_config(env=env, cwd=tmp_path, config_file=_file(tmp_path, f"[etm]\nurls = {bad}\n"))


def test_the_etm_leg_is_a_node_set(env: dict[str, str], tmp_path: Path) -> None:
    leg = EtmAdapter.from_config({"urls": [A, B], "secret_hex": "11" * 32})
    assert isinstance(leg.client, NodeSet) and leg.client.urls == (A, B)
    one = EtmAdapter.from_config({"url": A, "secret_hex": "11" * 32})
    assert isinstance(one.client, NodeSet) and one.client.urls == (A,)
