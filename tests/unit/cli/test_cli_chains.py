"""``etm-bridge chains list``: the installed chain profiles, as text and JSON."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from etm_bridge_cli import chains
from etm_bridge_cli.main import cli

from etm_bridge.chains.registry import chain_registry
from etm_bridge.errors import ConfigError

pytestmark = pytest.mark.unit


def test_every_installed_profile_is_listed_with_its_origin() -> None:
    result = CliRunner().invoke(cli, ["chains", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["name"] for r in rows] == [p.name for p in chain_registry().profiles]
    for row, profile in zip(rows, chain_registry().profiles, strict=True):
        assert row["ticker"] == profile.ticker and row["origin"].startswith("package ")
    text = CliRunner().invoke(cli, ["chains", "list"])
    assert text.exit_code == 0
    assert len(text.output.splitlines()) == len(rows)


def test_a_profile_that_fails_to_load_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> list[dict]:
        raise ConfigError("chain profile 'toy' (distribution toy 1.0) failed to import: boom")

    monkeypatch.setattr(chains, "list_profiles", broken)
    result = CliRunner().invoke(cli, ["chains", "list"])
    assert result.exit_code == ConfigError.exit_code
    assert result.output.strip().startswith("error: chain profile 'toy'")
