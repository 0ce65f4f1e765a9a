"""Every exchange module is pure: it imports nothing that does I/O (STYLE.md rule 1).

Allowed: the standard library's pure modules, the chain's pure core (state API, registry, tx,
codec, address), SPV verification, hashlock rules, errors, and the signature libraries
(python-bitcoinlib's key/message code, eth-account's message recovery).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "etm_bridge" / "exchange"
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))
FORBIDDEN = {
    "sqlite3", "sqlite_utils", "requests", "socket", "urllib", "http", "subprocess", "os",
    "time", "random", "secrets", "web3", "starlette", "uvicorn", "click", "threading",
    "asyncio", "pathlib",
}  # fmt: skip
FORBIDDEN_LOCAL = {"..store", "..node", "..jsonrpc", "..swaps", "..testing"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_all_modules_are_checked() -> None:
    assert {"pool", "htlc", "binding", "swap_rules", "txtypes", "btc_proofs"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_exchange_module_imports_no_io(module: str) -> None:
    for name in _imports(PACKAGE / f"{module}.py"):
        top = name.lstrip(".").split(".")[0]
        assert top not in FORBIDDEN, f"{module} imports {name}"
        assert not any(name.startswith(bad) for bad in FORBIDDEN_LOCAL), f"{module}: {name}"
