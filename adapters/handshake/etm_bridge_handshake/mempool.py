"""The Handshake adapter's view of hsd's mempool: the transactions that touch our index.

As the Bitcoin adapter's: ``getrawmempool`` lists txids; each is fetched once with
``getrawtransaction <txid> false`` and judged. A transaction that touches the index (pays our
address, carries an etm-bridge marker, spends one of our coins or a known lock) is kept and
re-applied on each call; any other is remembered by the outpoints it spends and judged again
only if one of them becomes known. Transactions are applied parents first. hsd's ``gettxout``
does not hide coins a mempool transaction spends, so this scan is also how we learn of them.
"""

from __future__ import annotations

from collections.abc import Callable

from .codec import Tx
from .index import ChainIndex, outpoint_key
from .script import parse_marker


def spent_keys(tx: Tx) -> tuple[str, ...]:
    return tuple(outpoint_key(*i.outpoint) for i in tx.inputs)


def _spends_known(index: ChainIndex, keys: tuple[str, ...]) -> bool:
    return any(key in index.coins or key in index.locks for key in keys)


def touches(index: ChainIndex, tx: Tx, our_address: bytes) -> bool:
    if _spends_known(index, spent_keys(tx)):
        return True
    return parse_marker(tx) is not None or any(o.address.key == our_address for o in tx.outputs)


def parents_first(txs: dict[str, Tx], order: list[str]) -> list[str]:
    result: list[str] = []
    placed: set[str] = set()

    def place(txid: str, path: frozenset[str]) -> None:
        if txid in placed or txid in path:
            return
        for txin in txs[txid].inputs:
            parent = txin.prev_txid.hex()
            if parent in txs:
                place(parent, path | {txid})
        placed.add(txid)
        result.append(txid)

    for txid in order:
        if txid in txs:
            place(txid, frozenset())
    return result


class MempoolCache:
    def __init__(self) -> None:
        self.relevant: dict[str, Tx] = {}
        self.irrelevant: dict[str, tuple[str, ...]] = {}

    def reset(self) -> None:
        self.relevant.clear()
        self.irrelevant.clear()

    def apply(
        self, view: ChainIndex, txids: list[str], fetch: Callable[[str], Tx | None], our: bytes
    ) -> None:
        listed = set(txids)
        self.relevant = {t: tx for t, tx in self.relevant.items() if t in listed}
        self.irrelevant = {
            t: keys
            for t, keys in self.irrelevant.items()
            if t in listed and not _spends_known(view, keys)
        }
        candidates = dict(self.relevant)
        for txid in txids:
            if txid not in candidates and txid not in self.irrelevant:
                tx = fetch(txid)
                if tx is not None:
                    candidates[txid] = tx
        for txid in parents_first(candidates, txids):
            tx = candidates[txid]
            if txid in self.relevant or touches(view, tx, our):
                view.apply_tx(tx, None, our)
                self.relevant[txid] = tx
            else:
                self.irrelevant[txid] = spent_keys(tx)
