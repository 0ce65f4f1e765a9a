"""Adapters are discovered through entry points and validated; the CLI lists them."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli

from etm_bridge.adapter import ChainAdapter
from etm_bridge.adapters_registry import (
    GROUP,
    _validated_class,
    create_adapter,
    list_adapters,
    load_adapter_class,
)
from etm_bridge.errors import AdapterLoadError
from etm_bridge.testing.fake import FakeAdapter


def test_the_fake_is_found_through_its_entry_point() -> None:
    assert load_adapter_class("fake") is FakeAdapter
    entry = next(e for e in list_adapters() if e.name == "fake")
    assert entry.ok and entry.distribution == "etm-bridge"
    assert entry.module == "etm_bridge.testing.fake:FakeAdapter"


def test_create_adapter_builds_from_config() -> None:
    adapter = create_adapter("fake", {"chain": "registry-test", "secret_hex": "33" * 32})
    assert isinstance(adapter, ChainAdapter)
    assert adapter.tip().height == 0


def test_unknown_adapter_names_the_installed_ones() -> None:
    with pytest.raises(AdapterLoadError, match=r"installed: .*fake"):
        load_adapter_class("dogecoin")


def test_a_plugin_that_is_not_an_adapter_is_refused() -> None:
    with pytest.raises(AdapterLoadError, match="not a ChainAdapter subclass"):
        _validated_class(EntryPoint("bad", "etm_bridge.hashlock:sha256", GROUP))


def test_a_plugin_that_fails_to_import_is_reported() -> None:
    with pytest.raises(AdapterLoadError, match="failed to import"):
        _validated_class(EntryPoint("gone", "etm_no_such_module:Adapter", GROUP))


def test_an_abstract_adapter_is_refused() -> None:
    with pytest.raises(AdapterLoadError, match="leaves abstract"):
        _validated_class(EntryPoint("abstract", "etm_bridge.adapter:ChainAdapter", GROUP))


def test_cli_lists_adapters_as_json() -> None:
    result = CliRunner().invoke(cli, ["adapters", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["fake"]["ok"] is True
    assert rows["fake"]["version"] == "0.1.0"
    assert rows["fake"]["location"].endswith("etm_bridge/testing")


def test_cli_lists_adapters_as_text() -> None:
    result = CliRunner().invoke(cli, ["adapters", "list"])
    assert result.exit_code == 0
    assert "fake" in result.output and "etm_bridge.testing.fake:FakeAdapter" in result.output


def test_a_second_plugin_cannot_shadow_an_installed_adapter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # attack (r12): a distribution registers another adapter under the name "fake" (it could
    # be "bitcoin": the adapter gets the chain's wallet key), installed earlier on the path.
    # Before, the first entry point silently won; now neither loads and both are named.
    import etm_bridge.adapters_registry as registry

    real = registry.entry_points
    shadow = EntryPoint("fake", "etm_bridge.testing.fake:ScanningFakeAdapter", GROUP)

    def entry_points(group: str) -> list[EntryPoint]:
        return [*(ep for ep in [shadow] if ep.group == group), *real(group=group)]

    monkeypatch.setattr(registry, "entry_points", entry_points)
    with pytest.raises(AdapterLoadError) as info:
        load_adapter_class("fake")
    text = str(info.value)
    assert "ScanningFakeAdapter" in text and "etm_bridge.testing.fake:FakeAdapter" in text
    rows = [e for e in list_adapters() if e.name == "fake"]
    assert len(rows) == 2 and all(e.error and "registered by" in e.error for e in rows)
