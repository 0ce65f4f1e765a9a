"""The Bitcoin adapter's recent block spacing on a real node (bcoin or bitcoind; review a11b).

A pool operator sizes a swap out's Bitcoin lock by the slower of the nominal 10 minutes and the
spacing blocks actually come at (``ChainAdapter.recent_block_time_s``): sized at the nominal
rate, a lock outlived the user's ETM deadline whenever blocks came 21 minutes apart. Here a
throwaway regtest node mines blocks 21 minutes apart on its mocked clock: the adapter reads that
spacing from the headers; on regtest itself it answers None (blocks are mined on demand).
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest
from btc_support import adapter_config
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_regtest.throwaway import bitcoin_node_in

pytestmark = pytest.mark.bitcoin

SPACING_S = 21 * 60


def test_the_adapter_reads_the_spacing_blocks_come_at(tmp_path: Path) -> None:
    with bitcoin_node_in(tmp_path / "btc") as node:
        start = int(time.time()) + 3600  # above every earlier block's median time
        for i in range(12):
            node.rpc.call("setmocktime", start + i * SPACING_S)
            node.mine(1)
        config = adapter_config(node, tmp_path / "party", secrets.token_hex(32), 0)
        adapter = BitcoinAdapter.from_config(config)
        try:
            assert adapter.mean_spacing_s(10) == SPACING_S
            assert adapter.recent_block_time_s() is None  # regtest: mined on demand
        finally:
            adapter.close()
