"""The SPV package is pure: no module imports a node client, the database or the network."""

from __future__ import annotations

import ast
from pathlib import Path

import etm_bridge.spv

FORBIDDEN = (
    "requests", "sqlite3", "sqlite_utils", "socket", "http", "urllib", "web3", "subprocess",
    "etm_bridge.jsonrpc", "etm_bridge.store", "etm_bridge.node", "etm_bridge.adapter",
)  # fmt: skip


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_spv_module_imports_io() -> None:
    package = Path(etm_bridge.spv.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert len(modules) > 10
    for module in modules:
        bad = {n for n in _imports(module) if n.split(".")[0] in FORBIDDEN or n in FORBIDDEN}
        bad |= {n for n in _imports(module) for f in FORBIDDEN if n.startswith(f + ".")}
        assert not bad, f"{module.name} imports {sorted(bad)}"
