"""The money-critical half of the swap engine imports nothing that does I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "etm_bridge" / "swaps" / "core"
PURE = ["fsm", "model", "views", "events", "policy", "codec", "explain"]
ALLOWED_STDLIB = {"__future__", "collections", "dataclasses", "enum", "re", "types", "typing"}
ALLOWED_LOCAL = {"...adapter", "...errors", "...hashlock", ".fsm", ".model", ".views", ".policy"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_swap_modules_import_no_io(module: str) -> None:
    for name in _imports(PACKAGE / f"{module}.py"):
        top = name.split(".")[0]
        assert name in ALLOWED_LOCAL or top in ALLOWED_STDLIB, f"{module} imports {name}"


def test_the_adapter_seam_the_core_uses_is_itself_free_of_io() -> None:
    seam = _imports(PACKAGE.parents[1] / "adapter.py")
    assert not seam & {"requests", "sqlite3", "sqlite_utils", "socket", "web3", "subprocess"}
