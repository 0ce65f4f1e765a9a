"""One home: --home, ETM_BRIDGE_HOME, the deprecated ETM_BRIDGE_DATA_DIR, else the per-user data
directory; never the current directory; swaps left in the old default home are pointed out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from etm_bridge.config import Home, load_config, resolve_home


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return tmp_path / "xdg-data" / "etm-bridge"


def test_the_order_option_home_env_legacy_env_default(xdg: Path, tmp_path: Path) -> None:
    both = {"ETM_BRIDGE_HOME": str(tmp_path / "h"), "ETM_BRIDGE_DATA_DIR": str(tmp_path / "d")}
    assert resolve_home(tmp_path / "opt", both) == Home(tmp_path / "opt", "option --home")
    assert resolve_home(None, both).root == tmp_path / "h"
    legacy = resolve_home(None, {"ETM_BRIDGE_DATA_DIR": str(tmp_path / "d")})
    assert legacy == Home(tmp_path / "d", "environment variable ETM_BRIDGE_DATA_DIR")
    assert resolve_home(None, {"ETM_BRIDGE_HOME": ""}) == Home(xdg)
    assert not Home(xdg).explicit and legacy.explicit


def test_the_layout_under_the_home(tmp_path: Path) -> None:
    home = Home(tmp_path)
    assert home.config_path == tmp_path / "config.toml"
    assert home.keystore_path == tmp_path / "keystore.json"
    assert home.swaps_db == tmp_path / "swaps.db"
    assert home.chain_data_dir("bitcoin") == tmp_path / "bitcoin"
    assert (home.wallet_cache, home.log_dir, home.node_dir) == (
        tmp_path / "wallet-cache",
        tmp_path / "logs",
        tmp_path / "node",
    )


def test_never_the_current_directory(
    xdg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from two directories, the commands find the same home (the old swap engine used
    ./.etm/swaps: `watch` from elsewhere watched nothing while refunds fell due)."""
    homes = set()
    for where in ("a", "b"):
        (tmp_path / where).mkdir()
        monkeypatch.chdir(tmp_path / where)
        config = load_config(env={"ETM_STACK_DIR": str(tmp_path / "none")})
        homes.add(config.home.root)
        assert Path.cwd() not in config.home.root.parents and config.home.root != Path.cwd()
    assert homes == {xdg}


def test_a_relative_home_is_made_absolute_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    home = resolve_home("rel", {})
    assert home.root == tmp_path / "rel" and home.root.is_absolute()


def test_swaps_in_the_old_default_home_are_pointed_out_not_moved(xdg: Path, tmp_path: Path) -> None:
    old = tmp_path / ".etm" / "swaps"
    old.mkdir(parents=True)
    (old / "swaps.db").write_bytes(b"db")
    home = Home(xdg)
    note = home.old_swaps_note(tmp_path)
    assert note == (
        f"swaps found in ./.etm/swaps (the old default home), which the home {xdg} does not "
        "hold: pass --home ./.etm/swaps or move them"
    )
    assert (old / "swaps.db").read_bytes() == b"db" and not home.swaps_db.exists()
    xdg.mkdir(parents=True)
    home.swaps_db.write_bytes(b"")  # the first command opened the new home's database
    assert home.old_swaps_note(tmp_path) == note  # still said: those swaps are not watched
    assert home.old_swaps_note(tmp_path / "elsewhere") is None  # nothing there
    assert Home(tmp_path / "chosen", "option --home").old_swaps_note(tmp_path) is None
    assert Home(old).old_swaps_note(tmp_path) is None  # it is the home


def test_the_default_home_follows_xdg_data_home(xdg: Path) -> None:
    assert load_config(env={"ETM_STACK_DIR": os.devnull}).home == Home(xdg)
