"""An installed chain plugin changes nothing a node of an existing chain agrees on (attack r12).

The throwaway chain's profile (``tests/integration/chains/toy_dists/toy_chain``: its own relay
types in block 190, its own tables and genesis keys, a wallet label ``toy``) is installed as a
real distribution (``*.dist-info`` with an ``etm_bridge.chains`` entry point on ``sys.path``), the
registry is scanned again, and the pins of :mod:`test_consensus_pins` are checked with it: the
node plug-ins' types, tables and genesis sections, the genesis ids, the scripted chain's state
digest and ``/api/spv`` answer, the lazily started relay, the wallet's derived keys and the
keystore's public section of the pinned chains.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_consensus_pins as pins

from etm_bridge.chains.registry import chain_registry, reload_chain_registry

pytestmark = pytest.mark.unit

TOY = Path(__file__).resolve().parents[1] / "integration" / "chains" / "toy_dists" / "toy_chain"


@pytest.fixture(scope="module")
def toy_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    site = tmp_path_factory.mktemp("site-packages")
    shutil.copytree(TOY, site / "toy_chain")
    dist_info = site / "toy_chain-0.0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-chain\nVersion: 0.0.1\n")
    (dist_info / "entry_points.txt").write_text("[etm_bridge.chains]\ntoy = toy_chain:PROFILE\n")
    sys.path.insert(0, str(site))
    reload_chain_registry()
    try:
        assert "toy" in chain_registry().tickers()
        yield
    finally:
        sys.path.remove(str(site))
        for name in [m for m in sys.modules if m.split(".")[0] == "toy_chain"]:
            del sys.modules[name]
        reload_chain_registry()


@pytest.mark.usefixtures("toy_installed")
def test_the_pins_hold_with_a_chain_plugin_installed(tmp_path: Path) -> None:
    pins.test_node_plugins_declare_the_same_types_tables_and_sections()
    pins.test_genesis_ids_and_the_spv_section_are_unchanged()
    pins.test_the_scripted_chain_reaches_the_same_state_and_api_answers()
    pins.test_a_lazily_started_relay_reaches_the_same_state()
    pins.test_wallet_keys_and_the_keystore_public_section_are_unchanged(tmp_path)
