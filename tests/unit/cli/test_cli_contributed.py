"""Verbs a plugin contributes (entry-point group ``etm_bridge.cli``): listed, loaded only when
run, and a broken one is one error line naming the plugin, not a traceback."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from click.testing import CliRunner
from etm_bridge_cli import contributed
from etm_bridge_cli.main import cli

from etm_bridge.errors import ConfigError

pytestmark = pytest.mark.unit


def _with(monkeypatch: pytest.MonkeyPatch, *extra: EntryPoint) -> None:
    real = contributed.entry_points

    def entry_points(group: str) -> list[EntryPoint]:
        return [*real(group=group), *(ep for ep in extra if ep.group == group)]

    monkeypatch.setattr(contributed, "entry_points", entry_points)


def test_the_bitcoin_plugin_contributes_spv_verify() -> None:
    assert "verify" in contributed.contributed("spv")
    listed = CliRunner().invoke(cli, ["spv", "--help"])
    assert listed.exit_code == 0 and "verify" in listed.output


def test_a_broken_contributed_command_is_listed_and_fails_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = EntryPoint("spv.broken", "no_such_plugin_module:command", contributed.GROUP)
    _with(monkeypatch, broken)
    listed = CliRunner().invoke(cli, ["spv", "--help"])
    assert listed.exit_code == 0 and "broken" in listed.output  # listed with the reason
    run = CliRunner().invoke(cli, ["spv", "broken"])
    assert run.exit_code == ConfigError.exit_code
    assert "the command 'spv broken' of plugin no_such_plugin_module:command cannot be loaded" in (
        run.output
    )
    assert "Traceback" not in run.output


def test_an_entry_point_that_is_no_command_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _with(monkeypatch, EntryPoint("spv.notacommand", "json:dumps", contributed.GROUP))
    run = CliRunner().invoke(cli, ["spv", "notacommand"])
    assert run.exit_code == ConfigError.exit_code and "it is not a click command" in run.output


def test_a_plugin_cannot_replace_a_built_in_verb(monkeypatch: pytest.MonkeyPatch) -> None:
    _with(monkeypatch, EntryPoint("spv.risk", "no_such_plugin_module:command", contributed.GROUP))
    run = CliRunner().invoke(cli, ["spv", "risk", "--q", "0.1", "--risk", "1e-6", "--json"])
    assert run.exit_code == 0 and '"confirmations": 12' in run.output


def test_a_second_plugin_cannot_shadow_a_contributed_verb(monkeypatch: pytest.MonkeyPatch) -> None:
    # attack (r12): another distribution also declares "spv.verify", listed first (entry points
    # follow the install order): before, the first one silently became `etm-bridge spv verify`,
    # e.g. an offline proof check that accepts anything. Now neither runs; both are named.
    real = contributed.entry_points
    shadow = EntryPoint("spv.verify", "json:dumps", contributed.GROUP)

    def entry_points(group: str) -> list[EntryPoint]:
        return [*(ep for ep in [shadow] if ep.group == group), *real(group=group)]

    monkeypatch.setattr(contributed, "entry_points", entry_points)
    run = CliRunner().invoke(cli, ["spv", "verify", "proof.bin"])
    assert run.exit_code == ConfigError.exit_code
    assert "json:dumps" in run.output and "etm_bridge_bitcoin.cli:verify_command" in run.output
    assert "both contribute it" in run.output and "Traceback" not in run.output
