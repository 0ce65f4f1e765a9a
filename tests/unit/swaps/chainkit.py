"""Test-only extensions of the fake chain: a block scanner and a reorganisation.

- :class:`ScanningFakeAdapter` (now in ``etm_bridge.testing.fake``) adds the optional
  ``htlc_activity(start, end)`` the watcher uses to examine only the swaps whose hashlock
  appears in new blocks.
- :func:`reorg` replaces the last ``depth`` blocks by ``depth + extra`` new ones; the replaced
  blocks' transactions go back to the mempool (so they are mined again, at other heights and in
  blocks with other headers), as a node does after a reorganisation.
"""

from __future__ import annotations

import json
from dataclasses import replace

from etm_bridge.testing.fake import ScanningFakeAdapter
from etm_bridge.testing.fakechain import FakeChain, txid_of

__all__ = ["ScanningFakeAdapter", "reorg"]


def reorg(chain: FakeChain, depth: int, extra: int = 1) -> None:
    old = chain.blocks[-depth:]
    del chain.blocks[-depth:]
    back: list[bytes] = []
    for block in old:
        for raw in block.txs:
            chain.tx_heights.pop(txid_of(raw), None)
            if json.loads(raw)["type"] != "coinbase":
                back.append(raw)
    tip = chain.tip_height
    for record in chain.locks.values():
        if record.block_height is not None and record.block_height > tip:
            record.block_height = None
        spend = record.spend
        if spend is not None and spend.block_height is not None and spend.block_height > tip:
            record.spend = replace(spend, block_height=None)
    chain.mempool = back + chain.mempool
    chain.mine(depth + extra)
