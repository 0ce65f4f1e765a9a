"""Architecture checks: the core names no adapter, and the seam's rule modules do no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CORE = ROOT / "etm_bridge"
#: Pure modules of this area: they may import only the standard library's pure parts and
#: other etm_bridge modules.
PURE = ["hashlock.py", "observations.py", "adapter.py", "testing/proofs.py"]
IO_MODULES = {"socket", "requests", "sqlite3", "subprocess", "urllib", "http", "web3", "asyncio"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_core_never_imports_an_adapter_plugin_by_name() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in CORE.rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0]
        in {"etm_bridge_bitcoin", "etm_bridge_ethereum", "etm_bridge_handshake"}
    ]
    assert offenders == []


@pytest.mark.parametrize("module", PURE)
def test_rule_modules_import_nothing_that_does_io(module: str) -> None:
    top_level = {name.split(".")[0] for name in _imports(CORE / module)}
    assert top_level & IO_MODULES == set()
