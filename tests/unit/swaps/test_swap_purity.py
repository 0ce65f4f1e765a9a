"""The money-critical half of the swap engine, ``swaps/core/``, imports nothing that does I/O.

Whole folder: every module of ``etm_bridge/swaps/core/`` (a new one is covered without editing
this test), and every ``etm_bridge`` module it reaches through its imports, transitively. One
forbidden list (design-12 §8): no database, network, process, clock, randomness or file system,
and none of the I/O halves of the project (the node, the store, the config, the use cases, the
ETM client, the swap runtime, the test kit).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "etm_bridge" / "swaps" / "core"

FORBIDDEN = {
    "sqlite3", "sqlite_utils", "requests", "socket", "urllib", "http", "subprocess", "os",
    "time", "random", "secrets", "threading", "asyncio", "pathlib", "web3", "starlette",
    "uvicorn", "click", "etm_bridge.store", "etm_bridge.node", "etm_bridge.jsonrpc",
    "etm_bridge.config", "etm_bridge.app", "etm_bridge.etm_client", "etm_bridge.swaps.runtime",
    "etm_bridge.testing", "etm_bridge_",
}  # fmt: skip


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _file_of(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Absolute names of everything ``path`` imports (``from . import x`` gives ``pkg.x``)."""
    package = _module_of(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f"{f}.") or (name.startswith(f) and f.endswith("_"))
               for f in FORBIDDEN) or name.split(".")[0] in FORBIDDEN  # fmt: skip


def _reached(start: Path) -> dict[str, list[str]]:
    """Every name imported by ``start`` and the etm_bridge modules it reaches -> the chain of
    modules that imports it (for the message)."""
    seen: dict[str, list[str]] = {}
    todo = [(start, [_module_of(start)])]
    visited: set[Path] = set()
    while todo:
        path, chain = todo.pop()
        if path in visited:
            continue
        visited.add(path)
        for name in _imports(path):
            seen.setdefault(name, chain)
            target = _file_of(name) if name.startswith("etm_bridge.") else None
            if target is not None and not _forbidden(name):
                todo.append((target, [*chain, name]))
    return seen


CORE = sorted(p for p in PACKAGE.glob("*.py"))


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.stem)
def test_pure_swap_modules_import_no_io(path: Path) -> None:
    bad = {name: via for name, via in _reached(path).items() if _forbidden(name)}
    assert bad == {}, "\n".join(f"{' -> '.join(via)} imports {name}" for name, via in bad.items())


def test_the_core_folder_is_all_covered() -> None:
    assert {p.stem for p in CORE} >= {
        "fsm", "states", "facts", "model", "views", "events", "policy", "codec", "explain",
        "pool_terms", "ports",
    }  # fmt: skip


def test_the_adapter_seam_the_core_uses_is_itself_free_of_io() -> None:
    seam = _imports(ROOT / "etm_bridge" / "adapter.py")
    assert not {name for name in seam if _forbidden(name)}
