"""The Bitcoin adapter's view of the node's mempool: the transactions that touch our index.

The cache itself is chain-neutral (``etm_bridge.utxo.mempool``: each txid of ``getrawmempool``
is fetched once with ``getrawtransaction <txid> 0`` and judged; relevant ones are re-applied on
each call, parents first). This module names it for ``CTransaction`` and keeps the helpers'
Bitcoin signatures. After a reorg the adapter rebuilds its index and calls
:meth:`MempoolCache.reset`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bitcoin.core import CTransaction

from etm_bridge.utxo import mempool as core

from .index import ChainIndex, read_tx

__all__ = ["MempoolCache", "parents_first", "spent_keys", "touches"]


class MempoolCache(core.MempoolCache[CTransaction]):
    """Per-txid judgements of the node's mempool (``etm_bridge.utxo.mempool``)."""


def spent_keys(tx: CTransaction) -> tuple[str, ...]:
    """The outpoints (``txid:vout``) ``tx`` spends."""
    return core.spent_keys(read_tx(tx))


def touches(index: ChainIndex, tx: CTransaction, our_script: bytes) -> bool:
    """True if applying ``tx`` would change ``index`` (our coins, locks or their spends)."""
    return core.touches(index, read_tx(tx), our_script)


def parents_first(txs: Mapping[str, CTransaction], order: Iterable[str]) -> list[str]:
    """The txids of ``txs`` in ``order``, each moved after the ones of ``txs`` it spends."""
    return core.parents_first({txid: read_tx(tx) for txid, tx in txs.items()}, order)
