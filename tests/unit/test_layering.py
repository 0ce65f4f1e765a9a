"""Who may import whom across the chain folders (design 12, §1.3 and §9 WP-A).

An adapter plugin (``adapters/<name>/etm_bridge_<name>/``) may import its own chain folder
(``etm_bridge.chains.<name>``) but no other chain's: a plugin that reached into another chain's
folder would tie two chains together that the registry treats as independent, and removing
one chain would break the other. A chain folder likewise imports no other chain folder. The
imports are read from the source (``ast``), relative imports resolved, so a lazy import inside
a function counts too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_purity import imports, imports_of

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CHAINS = ROOT / "etm_bridge" / "chains"
CHAIN_NAMES = sorted(p.name for p in CHAINS.iterdir() if (p / "__init__.py").is_file())


def _plugin_files() -> list[tuple[str, Path]]:
    files = []
    for plugin in sorted((ROOT / "adapters").iterdir()):
        package = plugin / f"etm_bridge_{plugin.name}"
        if package.is_dir():
            files += [(plugin.name, p) for p in sorted(package.rglob("*.py"))]
    return files


def _plugin_imports(path: Path, plugin: str) -> set[str]:
    """The plugin's own relative imports stay inside ``etm_bridge_<plugin>``; only absolute
    ``etm_bridge.chains...`` names matter here."""
    module = f"etm_bridge_{plugin}.{path.stem}"
    return imports_of(path.read_text(), module, path.name == "__init__.py")


def _other_chains(names: set[str], own: str) -> list[str]:
    return sorted(
        n
        for n in names
        for other in CHAIN_NAMES
        if other != own and (n == f"etm_bridge.chains.{other}" or
                             n.startswith(f"etm_bridge.chains.{other}."))
    )  # fmt: skip


def test_there_are_chain_folders_and_plugins_to_check() -> None:
    assert {"bitcoin", "ethereum"} <= set(CHAIN_NAMES)
    assert {plugin for plugin, _ in _plugin_files()} >= {"bitcoin", "ethereum"}


@pytest.mark.parametrize(
    ("plugin", "path"), _plugin_files(), ids=lambda v: v if isinstance(v, str) else v.name
)
def test_adapters_import_only_their_own_chain_folder(plugin: str, path: Path) -> None:
    others = _other_chains(_plugin_imports(path, plugin), plugin)
    assert not others, f"{path.relative_to(ROOT)} imports another chain's folder: {others}"


@pytest.mark.parametrize("path", sorted(CHAINS.glob("*/**/*.py")), ids=lambda p: p.as_posix())
def test_a_chain_folder_imports_no_other_chain_folder(path: Path) -> None:
    own = path.relative_to(CHAINS).parts[0]
    others = _other_chains(imports(path), own)
    assert not others, f"{path.relative_to(ROOT)} imports another chain's folder: {others}"


def test_the_check_sees_a_cross_chain_import() -> None:
    source = "from etm_bridge.chains.ethereum.spv import rlp\nimport etm_bridge.chains.bitcoin\n"
    names = imports_of(source, "etm_bridge_bitcoin.adapter")
    assert _other_chains(names, "bitcoin") == [
        "etm_bridge.chains.ethereum.spv",
        "etm_bridge.chains.ethereum.spv.rlp",
    ]
    assert _other_chains(names, "ethereum") == ["etm_bridge.chains.bitcoin"]
