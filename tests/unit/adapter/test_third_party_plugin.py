"""A third party's adapter, installed as its own distribution, is found and tested unchanged.

The fixture lays out what ``pip install`` leaves behind for a plugin built as
``adapters/README.md`` says (a package plus a ``*.dist-info`` with an ``etm_bridge.adapters``
entry point) in a temporary directory on ``sys.path``. Nothing in the core names it: the CLI
lists it with its distribution, ``create_adapter`` builds it by entry-point name, and the
conformance suite runs on it with the plugin's own proof verifier (``verify_proof``).
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli

from etm_bridge.adapters_registry import create_adapter, list_adapters
from etm_bridge.testing.conformance import AdapterConformance, ConformanceHarness
from etm_bridge.testing.fakechain import FakeChain
from etm_bridge.testing.proofs import verify_fake_merkle_proof

PACKAGE = "etm_bridge_example_thirdparty"
DISTRIBUTION = "etm-bridge-example-thirdparty"

_PLUGIN_SOURCE = '''
"""A plugin outside the core: a chain adapter built on the fake chain, under its own name."""
from etm_bridge.testing.fake import FakeAdapter


class ExampleAdapter(FakeAdapter):
    name = "example"
'''

_chains = itertools.count()


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The plugin installed on sys.path for this module; yields its entry-point name."""
    site = tmp_path_factory.mktemp("site-packages")
    (site / PACKAGE).mkdir()
    (site / PACKAGE / "__init__.py").write_text(_PLUGIN_SOURCE)
    dist_info = site / f"{PACKAGE}-0.0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: 0.0.1\n"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[etm_bridge.adapters]\nexample = {PACKAGE}:ExampleAdapter\n"
    )
    sys.path.insert(0, str(site))
    try:
        yield "example"
    finally:
        sys.path.remove(str(site))
        sys.modules.pop(PACKAGE, None)


def test_the_cli_lists_the_plugin_with_its_distribution(installed_plugin: str) -> None:
    result = CliRunner().invoke(cli, ["adapters", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows[installed_plugin] == {
        "name": installed_plugin,
        "distribution": DISTRIBUTION,
        "version": "0.0.1",
        "module": f"{PACKAGE}:ExampleAdapter",
        "error": None,
        "location": str((Path(sys.path[0]) / PACKAGE).resolve()),
        "ok": True,
    }
    assert {"bitcoin", "ethereum", "fake"} <= set(rows)  # the first-party plugins still load


def test_the_plugin_is_built_by_entry_point_name(installed_plugin: str) -> None:
    adapter = create_adapter(installed_plugin, {"chain": "plugin-build", "secret_hex": "44" * 32})
    assert type(adapter).__module__ == PACKAGE
    assert [e.name for e in list_adapters() if e.distribution == DISTRIBUTION] == ["example"]
    FakeChain.forget("plugin-build")


@pytest.fixture
def plugin_harness(installed_plugin: str, tmp_path: Path) -> Iterator[ConformanceHarness]:
    chain_name = f"plugin-conformance-{next(_chains)}"
    chain = FakeChain.named(chain_name)
    us_config = {"chain": chain_name, "secret_hex": "55" * 32}
    us = create_adapter(installed_plugin, us_config)
    them = create_adapter(installed_plugin, {"chain": chain_name, "secret_hex": "66" * 32})
    for party in (us, them):
        chain.credit(party.our_key(), 10**9)
    chain.mine(1)
    yield ConformanceHarness(
        adapter=us,
        counterparty=them,
        mine=chain.mine,
        reopen=lambda: create_adapter(installed_plugin, us_config),
        amount=100_000,
        unknown_lock_id="ff" * 32 + ":0",
        verify_proof=verify_fake_merkle_proof,  # the plugin's own proof kind's verifier
    )
    FakeChain.forget(chain_name)


class TestThirdPartyPluginConformance(AdapterConformance):
    @pytest.fixture
    def harness(self, plugin_harness: ConformanceHarness) -> ConformanceHarness:
        return plugin_harness
