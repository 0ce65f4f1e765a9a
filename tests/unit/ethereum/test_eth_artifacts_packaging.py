"""The adapter finds the committed artifacts through its package, editable or installed.

``etm_bridge_ethereum/artifacts_data`` is a symlink to ``contracts/ethereum/artifacts`` and is
declared package data, so a wheel carries the very files the reproducibility test checks.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import etm_bridge_ethereum
import pytest
from etm_bridge_ethereum import artifacts

from etm_bridge.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
PACKAGE_DIR = Path(etm_bridge_ethereum.__file__).parent


def test_default_dir_is_the_committed_artifacts_through_the_package() -> None:
    default = artifacts.DEFAULT_DIR
    assert (default.parent, default.name) == (PACKAGE_DIR.resolve(), "artifacts_data")
    assert artifacts.DEFAULT_DIR.samefile(ROOT / "contracts" / "ethereum" / "artifacts")


def test_the_artifacts_are_declared_package_data() -> None:
    project = tomllib.loads((ROOT / "adapters" / "ethereum" / "pyproject.toml").read_text())
    globs = project["tool"]["setuptools"]["package-data"]["etm_bridge_ethereum"]
    assert "artifacts_data/*.json" in globs
    assert sorted(p.name for p in artifacts.DEFAULT_DIR.glob("*.json")) == sorted(
        p.name for p in (ROOT / "contracts" / "ethereum" / "artifacts").glob("*.json")
    )


def test_another_artifacts_dir_is_named_by_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ETM_BRIDGE_ETH_ARTIFACTS", str(tmp_path))
    artifacts.load.cache_clear()
    try:
        with pytest.raises(ConfigError, match=str(tmp_path)):
            artifacts.load(artifacts.HTLC)
    finally:
        monkeypatch.delenv("ETM_BRIDGE_ETH_ARTIFACTS")
        artifacts.load.cache_clear()
    assert artifacts.load(artifacts.HTLC).name == artifacts.HTLC
