"""Fixtures for the Handshake adapter on the session's throwaway hsd regtest node.

``hns_party()`` makes a fresh, funded :class:`HandshakeAdapter` (new random key, its own data
dir, birth height = the tip before funding, so its scan is short) and returns its config so the
same adapter can be re-created (a restart).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from etm_bridge_handshake import HandshakeAdapter
from etm_bridge_regtest.hsd import HsdNode
from hns_support import adapter_config

#: 50 HNS per party in two coins: far above any fee, far below the faucet's 2000-HNS blocks.
FUNDING_DOO = 50_000_000


@pytest.fixture
def hns_party(
    hsd_node: HsdNode, tmp_path: Path
) -> Iterator[Callable[..., tuple[HandshakeAdapter, dict]]]:
    made: list[HandshakeAdapter] = []

    def make(funding_doo: int = FUNDING_DOO, coins: int = 2) -> tuple[HandshakeAdapter, dict]:
        if hsd_node.height() < 4:
            hsd_node.mine(4 - hsd_node.height())
        config = adapter_config(
            hsd_node, tmp_path / f"party{len(made)}", secrets.token_hex(32), hsd_node.height()
        )
        adapter = HandshakeAdapter.from_config(config)
        for _ in range(coins):
            hsd_node.fund(adapter.address(), funding_doo // coins, confirm=False)
        hsd_node.mine(1)
        made.append(adapter)
        return adapter, config

    yield make
    for adapter in made:
        adapter.close()
