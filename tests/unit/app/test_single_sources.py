"""One source of the clock, of secrets and of swap ids (issue 12, design §4.1).

``etm_bridge.app.context.AppContext`` is the only place that reads the wall clock for swap
terms and records (``now``), draws a swap secret (``new_secret``) or names a user's swap
(``new_swap`` through ``swaps.core.ids``). This scans the syntax of the swap engine, the ETM
client, the use cases and the CLI for a second source: a read of ``time.time``, anything from
``secrets``, ``os.urandom``, a call of ``new_preimage``, or a swap id cut from a hashlock by
hand (``hashlock.hex()[:16]``). ``time.monotonic`` (timeouts) is fine.

Exempt, each for its reason: ``app/context.py`` (the source), ``swaps/core/ids.py`` (the pure
id derivations the context calls), ``swaps/runtime/store.py`` (lease bookkeeping of the
database lock, not swap time), ``swaps/runtime/watcher.py`` (the default ``clock`` of a
watcher built without a context, as the real-node tests' watcher processes do; the use cases
pass ``AppContext.clock``), ``app/given_adapters.py`` (the old
adapters-dict entry points; its ``new_preimage`` hands out the context's source),
``cli/spv.py`` (``spv verify`` checks headers against the wall clock, no swap) and
``cli/node.py`` (the node's current slot, no swap).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
SCANNED = [
    ROOT / "etm_bridge" / "app",
    ROOT / "etm_bridge" / "swaps",
    ROOT / "etm_bridge" / "etm_client",
    ROOT / "cli",
]
EXEMPT = {
    "etm_bridge/app/context.py",
    "etm_bridge/swaps/core/ids.py",
    "etm_bridge/swaps/runtime/store.py",
    "etm_bridge/swaps/runtime/watcher.py",
    "etm_bridge/app/given_adapters.py",
    "cli/spv.py",
    "cli/node.py",
}


def second_sources(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) of every clock read, secret draw or hand-made swap id in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner, name = node.value.id, node.attr
            if (owner, name) in {("time", "time"), ("os", "urandom")} or owner == "secrets":
                found.append((node.lineno, f"{owner}.{name}"))
        elif isinstance(node, ast.ImportFrom) and node.module in {"time", "secrets", "os"}:
            for alias in node.names:
                if (node.module, alias.name) in {("time", "time"), ("os", "urandom")} or (
                    node.module == "secrets"
                ):
                    found.append((node.lineno, f"from {node.module} import {alias.name}"))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "new_preimage":
                found.append((node.lineno, "new_preimage()"))
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            value = node.value
            if (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and value.func.attr == "hex"
                and isinstance(value.func.value, ast.Name)
                and value.func.value.id == "hashlock"
            ):
                found.append((node.lineno, "hashlock.hex()[...]"))
    return sorted(found)


def scanned_files() -> list[Path]:
    return sorted(p for folder in SCANNED for p in folder.rglob("*.py"))


def test_the_scan_finds_every_kind_of_second_source() -> None:
    text = (
        "import time, os, secrets\nfrom secrets import token_bytes\n"
        "a = time.time()\nb = secrets.token_bytes(32)\nc = os.urandom(32)\n"
        "d = new_preimage()\ne = hashlock.hex()[:16]\nf = time.monotonic()\n"
    )
    kinds = [what for _, what in second_sources(ast.parse(text))]
    assert kinds == [
        "from secrets import token_bytes", "time.time", "secrets.token_bytes", "os.urandom",
        "new_preimage()", "hashlock.hex()[...]",
    ]  # fmt: skip


def test_only_the_app_context_reads_the_clock_draws_secrets_or_names_swaps() -> None:
    assert scanned_files(), "nothing scanned: the folders moved?"
    hits = []
    for path in scanned_files():
        name = path.relative_to(ROOT).as_posix()
        if name in EXEMPT:
            continue
        for line, what in second_sources(ast.parse(path.read_text(encoding="utf-8"))):
            hits.append(f"{name}:{line}: {what}")
    assert not hits, "a second source (use AppContext.now/new_secret/new_swap):\n" + "\n".join(hits)


def test_every_exemption_still_exists() -> None:
    assert all((ROOT / name).exists() for name in EXEMPT)
