"""A wallet's view of a node's mempool: the transactions that touch its UTXO index (pure).

``getrawmempool`` lists txids only, and a mainnet mempool holds around 10^5 of them: fetching
each on every call would take minutes. :class:`MempoolCache` remembers every txid it has judged:
a transaction that touches the index (pays our payee, carries an etm-bridge marker, or spends
one of our coins or a known lock) is kept and re-applied on each call; any other is remembered
by the outpoints it spends only and not fetched again unless one of them becomes a coin or lock
of the index (the block creating it was synced after the judgement: a claim judged before its
lock's block was scanned). Entries leave with their transactions when the mempool no longer
lists them.

Transactions are applied **parents first** (a child spending an unconfirmed parent comes after
it, whatever order the node lists them in), so a claim of an unconfirmed lock is never missed.
After a reorg the adapter rebuilds its index and calls :meth:`MempoolCache.reset`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from .index import TxView, UtxoIndex

TxT = TypeVar("TxT")


def spent_keys(tx: TxView) -> tuple[str, ...]:
    """The outpoints (``txid:vout``) ``tx`` spends."""
    return tuple(txin.key for txin in tx.inputs)


def _spends_known(index: UtxoIndex[Any, Any, Any], keys: tuple[str, ...]) -> bool:
    return any(key in index.coins or key in index.locks for key in keys)


def touches(index: UtxoIndex[Any, Any, Any], tx: TxView, our_payee: bytes) -> bool:
    """True if applying ``tx`` would change ``index`` (our coins, locks or their spends)."""
    if _spends_known(index, spent_keys(tx)):
        return True
    return tx.marker is not None or any(out.payee == our_payee for out in tx.outputs)


def parents_first(txs: Mapping[str, TxView], order: Iterable[str]) -> list[str]:
    """The txids of ``txs`` in ``order``, each moved after the ones of ``txs`` it spends."""
    result: list[str] = []
    placed: set[str] = set()

    def place(txid: str, path: frozenset[str]) -> None:
        if txid in placed or txid in path:  # a cycle cannot happen between valid transactions
            return
        for txin in txs[txid].inputs:
            if txin.prev_txid in txs:
                place(txin.prev_txid, path | {txid})
        placed.add(txid)
        result.append(txid)

    for txid in order:
        if txid in txs:
            place(txid, frozenset())
    return result


class MempoolCache(Generic[TxT]):
    """Per-txid judgements of the mempool (see the module docstring)."""

    def __init__(self) -> None:
        self.relevant: dict[str, TxView] = {}
        self.irrelevant: dict[str, tuple[str, ...]] = {}  # txid -> outpoints it spends

    def reset(self) -> None:
        """Forget every judgement (the index they were made against was rebuilt)."""
        self.relevant.clear()
        self.irrelevant.clear()

    def apply(
        self,
        view: UtxoIndex[TxT, Any, Any],
        txids: list[str],
        fetch: Callable[[str], TxT | None],
        our_payee: bytes,
    ) -> None:
        """Apply the relevant transactions among the mempool's ``txids`` to ``view``.

        ``fetch(txid)`` returns the transaction, or None if it left the mempool meanwhile; it is
        called only for txids not judged before.
        """
        listed = set(txids)
        self.relevant = {t: tx for t, tx in self.relevant.items() if t in listed}
        self.irrelevant = {
            t: keys
            for t, keys in self.irrelevant.items()
            if t in listed and not _spends_known(view, keys)  # else: judge it again
        }
        candidates = dict(self.relevant)
        for txid in txids:
            if txid not in candidates and txid not in self.irrelevant:
                tx = fetch(txid)
                if tx is not None:
                    candidates[txid] = view.read_tx(tx)
        for txid in parents_first(candidates, txids):
            tx_view = candidates[txid]
            if txid in self.relevant or touches(view, tx_view, our_payee):
                view.apply_view(tx_view, None, our_payee)
                self.relevant[txid] = tx_view
            else:
                self.irrelevant[txid] = spent_keys(tx_view)
