"""Fixtures for the Bitcoin adapter on the session's throwaway regtest node.

``btc_party()`` makes a fresh, funded :class:`BitcoinAdapter` (new random key, its own data
dir, birth height = the tip before funding, so its scan is short) and returns its config so
the same adapter can be re-created (a restart). Every broadcast is kernel-checked
(``tests/btc_kernel.py``): every transaction the node accepts must also pass libbitcoinkernel.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from btc_support import adapter_config
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_regtest.bitcoin import BitcoinNode

FUNDING_SAT = 5_000_000


@pytest.fixture
def btc_party(
    bitcoin_node: BitcoinNode, tmp_path: Path
) -> Iterator[Callable[..., tuple[BitcoinAdapter, dict]]]:
    made: list[BitcoinAdapter] = []

    def make(funding_sat: int = FUNDING_SAT, coins: int = 2) -> tuple[BitcoinAdapter, dict]:
        if bitcoin_node.height() < 101:
            bitcoin_node.mine(101 - bitcoin_node.height())
        config = adapter_config(
            bitcoin_node,
            tmp_path / f"party{len(made)}",
            secrets.token_hex(32),
            bitcoin_node.height(),
        )
        adapter = BitcoinAdapter.from_config(config)
        for _ in range(coins):
            bitcoin_node.fund(adapter.address(), funding_sat // coins, confirm=False)
        bitcoin_node.mine(1)
        made.append(adapter)
        return adapter, config

    yield make
    for adapter in made:
        adapter.close()
