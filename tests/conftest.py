"""Shared pytest configuration.

Tests under ``tests/unit`` are marked ``unit`` (pure logic, no nodes) and tests under
``tests/integration`` are marked ``integration`` (real nodes started by session fixtures), so
``pytest -m unit`` runs the fast part alone.

Tests that touch a Bitcoin node are also marked ``bitcoin``, so CI can run them once more against
Bitcoin Core (``make test-bitcoin-core``): every test using the ``bitcoin_node`` fixture (directly
or through another fixture), everything under ``integration/bitcoin`` and ``integration/demo``,
and modules that start a stack or a node themselves and say so with
``pytestmark = pytest.mark.bitcoin``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# Session fixtures bitcoin_node / anvil_node (throwaway real nodes); attributes documented there.
pytest_plugins = ["etm_bridge_regtest.fixtures"]

_ROOT = Path(__file__).resolve().parent


#: The developer's own settings that would leak into the tests' commands (their home, config
#: file, passphrase, node): removed for the session.
_USER_ENV = (
    "ETM_BRIDGE_HOME", "ETM_BRIDGE_DATA_DIR", "ETM_BRIDGE_CONFIG", "ETM_BRIDGE_KEYSTORE",
    "ETM_BRIDGE_PASSPHRASE", "ETM_BRIDGE_NETWORK", "ETM_NODE_URL", "ETM_NODE_DIR",
)  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def _isolated_from_the_developers_setup(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """No test reads the developer's local stack (./.etm/stack), home or config files: a test
    that wants them sets ETM_STACK_DIR, ETM_BRIDGE_HOME, XDG_* itself."""
    root = tmp_path_factory.mktemp("isolated")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ETM_STACK_DIR", str(root / "no-stack"))
        patch.setenv("XDG_DATA_HOME", str(root / "xdg-data"))
        patch.setenv("XDG_CONFIG_HOME", str(root / "xdg-config"))
        for name in _USER_ENV:
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session", autouse=True)
def _bitcoin_broadcasts_checked_by_libbitcoinkernel() -> Iterator[None]:
    """Every BitcoinAdapter broadcast of the session is also verified by libbitcoinkernel
    (tests/btc_kernel.py); an accepted transaction the kernel rejects fails the session."""
    import btc_kernel

    btc_kernel.install()
    yield
    bad = btc_kernel.disagreements()
    assert not bad, f"the node accepted transactions libbitcoinkernel rejects: {bad}"


#: Directories whose every test starts or uses a Bitcoin node.
_BITCOIN_DIRS = (_ROOT / "integration" / "bitcoin", _ROOT / "integration" / "demo")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path)).resolve()
        if _ROOT / "integration" in path.parents:
            item.add_marker(pytest.mark.integration)
        elif _ROOT / "unit" in path.parents:
            item.add_marker(pytest.mark.unit)
        fixtures = getattr(item, "fixturenames", ())
        if "bitcoin_node" in fixtures or any(d in path.parents for d in _BITCOIN_DIRS):
            item.add_marker(pytest.mark.bitcoin)
