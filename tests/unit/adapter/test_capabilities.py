"""Optional adapter powers are declared, never guessed (issue 12, design §4.4).

The registry refuses a class that declares a capability without implementing its methods, or
implements a capability's methods without declaring it; the base class's defaults say "none"
or refuse; and no module of the swap engine, the ETM client or the use cases looks an adapter's
powers up by ``getattr`` / ``hasattr`` or special-cases an adapter class with ``isinstance``.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import ClassVar

import pytest

from etm_bridge.adapter import (
    CAPABILITY_METHODS,
    Capability,
    ChainAdapter,
    Payment,
    capability_problems,
)
from etm_bridge.adapters_registry import GROUP, _validated_class, list_adapters
from etm_bridge.errors import AdapterLoadError, CapabilityError
from etm_bridge.testing.fake import FakeAdapter, ScanningFakeAdapter

ROOT = Path(__file__).resolve().parents[3]


class DeclaresPaymentsOnly(FakeAdapter):
    """Says PAYMENTS and more, but implements no scanner."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = FakeAdapter.CAPABILITIES | {
        Capability.HTLC_ACTIVITY
    }


class HiddenScanner(FakeAdapter):
    """A scanner the watcher would have found by getattr before: now it must be declared."""

    def htlc_activity(self, start_height: int, end_height: int) -> set[bytes]:
        return set()


class HalfPayments(ChainAdapter):
    """Declares PAYMENTS with only ``pay``."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset({Capability.PAYMENTS})

    def pay(self, payments: Sequence[Payment]) -> str:
        return ""


def _entry(cls: type) -> EntryPoint:
    return EntryPoint(cls.__name__, f"{__name__}:{cls.__name__}", GROUP)


def test_every_capability_names_its_methods_and_the_base_has_them() -> None:
    assert set(CAPABILITY_METHODS) == set(Capability)
    for methods in CAPABILITY_METHODS.values():
        for method in methods:
            assert callable(getattr(ChainAdapter, method))


def test_a_declared_capability_that_is_not_implemented_is_refused() -> None:
    assert capability_problems(DeclaresPaymentsOnly) == [
        "declares htlc_activity but does not implement htlc_activity"
    ]
    assert capability_problems(HalfPayments) == [
        "declares payments but does not implement payment_status, payment_proof"
    ]
    with pytest.raises(AdapterLoadError, match="declares htlc_activity but does not implement"):
        _validated_class(_entry(DeclaresPaymentsOnly))


def test_an_implemented_capability_that_is_not_declared_is_refused() -> None:
    assert capability_problems(HiddenScanner) == [
        "implements htlc_activity without declaring htlc_activity in CAPABILITIES"
    ]
    with pytest.raises(AdapterLoadError, match="without declaring htlc_activity"):
        _validated_class(_entry(HiddenScanner))


def test_the_installed_adapters_declare_exactly_what_they_implement() -> None:
    rows = {row.name: row for row in list_adapters()}
    for name in ("fake", "etm", "bitcoin", "ethereum"):
        assert rows[name].ok, rows[name].error
    assert capability_problems(ScanningFakeAdapter) == []


def test_undeclared_capabilities_answer_none_or_refuse() -> None:
    from etm_bridge.testing.fakechain import FakeChain

    class Plain(FakeAdapter):
        CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset()

    adapter = Plain(FakeChain.named("capabilities-plain"), b"\x01" * 32)
    assert adapter.htlc_activity(0, 0) is None  # the watcher then examines every swap
    assert adapter.watch_hashlock(b"\x00" * 32) is None
    with pytest.raises(CapabilityError, match="does not declare payments"):
        ChainAdapter.pay(adapter, [Payment(b"\x02" * 33, 1)])
    with pytest.raises(CapabilityError, match="cannot read balances"):
        ChainAdapter.balance_of.__func__(Plain, {}, b"\x02" * 33)  # type: ignore[attr-defined]


def _hidden_doors(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("getattr", "hasattr") and len(node.args) >= 2:
                arg = node.args[1]
                if isinstance(arg, ast.Constant) and arg.value in {
                    m for ms in CAPABILITY_METHODS.values() for m in ms
                }:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.func.id}")
            if node.func.id == "isinstance" and len(node.args) == 2:
                text = ast.unparse(node.args[1])
                if "Adapter" in text:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: isinstance {text}")
    return found


@pytest.mark.parametrize("folder", ["etm_bridge/swaps", "etm_bridge/etm_client"])
def test_no_hidden_doors_in_the_engine_the_client_and_the_use_cases(folder: str) -> None:
    hits = [hit for path in sorted((ROOT / folder).rglob("*.py")) for hit in _hidden_doors(path)]
    assert hits == []
