"""Options the CLI takes from elsewhere: ``node init`` from each chain profile's NodeInitSpec,
``stack faucet`` from the regtest stack's FAUCETS (no chain is named in cli/)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli
from etm_bridge_regtest.faucet import FAUCETS

from etm_bridge.chains.registry import chain_registry

pytestmark = pytest.mark.unit


def test_node_init_offers_every_installed_chains_options() -> None:
    shown = CliRunner().invoke(cli, ["node", "init", "--help"], terminal_width=200).output
    flags = [o.flag for p in chain_registry().relayed() if p.node_init for o in p.node_init.options]
    assert flags and all(flag in shown for flag in flags)


def test_a_chain_option_reaches_its_profile(tmp_path) -> None:
    """A choice a profile declares is checked by click (a bad value is a usage error)."""
    spec = next(o for p in chain_registry().relayed() if p.node_init
                for o in p.node_init.options if o.choices)  # fmt: skip
    bad = CliRunner().invoke(
        cli, ["node", "init", "--data-dir", str(tmp_path / "n"), spec.flag, "no-such-network"]
    )
    assert bad.exit_code == 2 and "no-such-network" in bad.output


def test_stack_faucet_offers_one_option_per_faucet() -> None:
    shown = CliRunner().invoke(cli, ["stack", "faucet", "--help"], terminal_width=200).output
    for faucet in FAUCETS:
        assert f"--{faucet.asset}" in shown and faucet.default in shown
