"""The pure core imports nothing that does I/O (STYLE.md rule 1), with one list for all of it.

Consensus-critical and money-critical code (the chain's state transition, the exchange, the
SPV relays and every chain's SPV and ETM-side code, units and observations) imports no node
client, database, network, clock, randomness, file system, web or CLI framework, and no part
of the project that does. Folders are checked whole, so a new module is covered when it is
made. Another work package adds its folders (``swaps/core``) and modules to the lists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "etm_bridge"
FORBIDDEN = frozenset({
    "sqlite3", "sqlite_utils", "requests", "socket", "urllib", "http", "subprocess", "os",
    "time", "random", "secrets", "threading", "asyncio", "pathlib", "web3", "starlette",
    "uvicorn", "click", "etm_bridge.store", "etm_bridge.node", "etm_bridge.jsonrpc",
    "etm_bridge.config", "etm_bridge.app", "etm_bridge.etm_client", "etm_bridge.swaps",
    "etm_bridge.testing", "etm_bridge.adapter", "etm_bridge.adapters_registry",
})  # fmt: skip
#: Installed packages of the project (adapters, CLI, regtest): never imported by the core.
FORBIDDEN_PREFIX = "etm_bridge_"
FOLDERS = ("chain", "exchange", "spv", "custody", *(f"chains/{p.name}/{part}" for p in sorted(
    (PKG / "chains").iterdir()) if p.is_dir() for part in ("spv", "etm")))  # fmt: skip
FOLDERS += ("chains/bitcoin/custody",)  # design-14 section 10.1: a chain's custody part is pure
MODULES = ("units.py", "observations.py", "wallet/derive.py", "chains/profile.py",
           "utxo/index.py", "utxo/mempool.py", "utxo/activity.py",
           "etm_client/crosscheck.py", "etm_client/inclusion.py")  # fmt: skip


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    return imports_of(path.read_text(), _module_name(path), path.name == "__init__.py")


def imports_of(source: str, module: str, is_package: bool = False) -> set[str]:
    package = module.split(".") if is_package else module.split(".")[:-1]
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


def forbidden_in(path: Path) -> list[str]:
    return forbidden(imports(path))


def forbidden(names: set[str]) -> list[str]:
    return [
        name
        for name in sorted(names)
        if name.startswith(FORBIDDEN_PREFIX)
        or any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]


def pure_files() -> list[Path]:
    files = [p for folder in FOLDERS for p in sorted((PKG / folder).rglob("*.py"))]
    return files + [PKG / m for m in MODULES]


def test_every_pure_folder_exists_and_is_checked() -> None:
    assert all((PKG / f).is_dir() for f in FOLDERS)
    names = {p.relative_to(PKG).as_posix() for p in pure_files()}
    assert {"exchange/pool.py", "spv/relay_policy.py", "chain/ledger.py"} <= names
    assert any(n.startswith("chains/") and "/spv/" in n for n in names)


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: p.relative_to(PKG).as_posix())
def test_pure_module_imports_no_io(path: Path) -> None:
    assert not forbidden_in(path), f"{path.relative_to(ROOT)} imports {forbidden_in(path)}"


def test_the_check_catches_absolute_and_relative_io_imports() -> None:
    source = (
        "import os\nfrom ..node import client\nfrom etm_bridge.swaps import fsm\nimport rlp\n"
        "from . import kvstore\nfrom etm_bridge_bitcoin import adapter\n"
    )
    found = forbidden(imports_of(source, "etm_bridge.spv.probe"))
    assert found == [
        "etm_bridge.node", "etm_bridge.node.client", "etm_bridge.swaps", "etm_bridge.swaps.fsm",
        "etm_bridge_bitcoin", "etm_bridge_bitcoin.adapter", "os",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "path",
    [p for p in pure_files() if "/spv/" in p.relative_to(PKG).as_posix() and "chains" in p.parts],
    ids=lambda p: p.relative_to(PKG).as_posix(),
)
def test_a_chains_spv_knows_nothing_of_pools(path: Path) -> None:
    """SPV verifies another chain's facts; what the exchange does with them is not its concern."""
    uses = sorted(n for n in imports(path) if n.startswith("etm_bridge.exchange"))
    assert not uses, f"{path.relative_to(ROOT)} imports {uses}"
