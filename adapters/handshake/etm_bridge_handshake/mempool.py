"""The Handshake adapter's view of hsd's mempool: the transactions that touch our index.

The cache is chain-neutral (``etm_bridge.utxo.mempool``): each txid of ``getrawmempool`` is
fetched once with ``getrawtransaction <txid> false`` and judged; relevant ones are re-applied on
each call, parents first. hsd's ``gettxout`` does not hide coins a mempool transaction spends,
so this scan is also how we learn of them.
"""

from __future__ import annotations

from etm_bridge.utxo import mempool as core

from .codec import Tx
from .index import ChainIndex, read_tx

__all__ = ["MempoolCache", "parents_first", "spent_keys", "touches"]


class MempoolCache(core.MempoolCache[Tx]):
    """Per-txid judgements of hsd's mempool (``etm_bridge.utxo.mempool``)."""


def spent_keys(tx: Tx) -> tuple[str, ...]:
    return core.spent_keys(read_tx(tx))


def touches(index: ChainIndex, tx: Tx, our_address: bytes) -> bool:
    return core.touches(index, read_tx(tx), our_address)


def parents_first(txs: dict[str, Tx], order: list[str]) -> list[str]:
    return core.parents_first({txid: read_tx(tx) for txid, tx in txs.items()}, order)
