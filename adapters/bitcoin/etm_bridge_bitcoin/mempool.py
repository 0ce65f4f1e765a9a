"""The Bitcoin adapter's view of the node's mempool: the transactions that touch our index.

``getrawmempool`` lists txids only, and a mainnet mempool holds around 10^5 of them: fetching
each with ``getrawtransaction <txid> 0`` on every call would take minutes. :class:`MempoolCache`
remembers every txid it has judged: a transaction that touches the index (pays our script,
carries an etm-bridge marker, or spends one of our coins or a known lock) is kept and re-applied
on each call; any other is remembered by the outpoints it spends only and not fetched again
unless one of them becomes a coin or lock of the index (the block creating it was synced after
the judgement: a claim judged before its lock's block was scanned). Entries leave with their
transactions when the mempool no longer lists them.

Transactions are applied **parents first** (a child spending an unconfirmed parent comes after
it, whatever order the node lists them in), so a claim of an unconfirmed lock is never missed.
After a reorg the adapter rebuilds its index and calls :meth:`MempoolCache.reset`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from bitcoin.core import CTransaction

from .index import ChainIndex, outpoint_key
from .script import parse_marker


def spent_keys(tx: CTransaction) -> tuple[str, ...]:
    """The outpoints (``txid:vout``) ``tx`` spends."""
    return tuple(outpoint_key(i.prevout.hash[::-1].hex(), i.prevout.n) for i in tx.vin)


def _spends_known(index: ChainIndex, keys: tuple[str, ...]) -> bool:
    return any(key in index.coins or key in index.locks for key in keys)


def touches(index: ChainIndex, tx: CTransaction, our_script: bytes) -> bool:
    """True if applying ``tx`` would change ``index`` (our coins, locks or their spends)."""
    if _spends_known(index, spent_keys(tx)):
        return True
    return any(
        bytes(out.scriptPubKey) == our_script or parse_marker(bytes(out.scriptPubKey)) is not None
        for out in tx.vout
    )


def parents_first(txs: Mapping[str, CTransaction], order: Iterable[str]) -> list[str]:
    """The txids of ``txs`` in ``order``, each moved after the ones of ``txs`` it spends."""
    result: list[str] = []
    placed: set[str] = set()

    def place(txid: str, path: frozenset[str]) -> None:
        if txid in placed or txid in path:  # a cycle cannot happen between valid transactions
            return
        for txin in txs[txid].vin:
            parent = txin.prevout.hash[::-1].hex()
            if parent in txs:
                place(parent, path | {txid})
        placed.add(txid)
        result.append(txid)

    for txid in order:
        if txid in txs:
            place(txid, frozenset())
    return result


class MempoolCache:
    """Per-txid judgements of the mempool (see the module docstring)."""

    def __init__(self) -> None:
        self.relevant: dict[str, CTransaction] = {}
        self.irrelevant: dict[str, tuple[str, ...]] = {}  # txid -> outpoints it spends

    def reset(self) -> None:
        """Forget every judgement (the index they were made against was rebuilt)."""
        self.relevant.clear()
        self.irrelevant.clear()

    def apply(
        self,
        view: ChainIndex,
        txids: list[str],
        fetch: Callable[[str], CTransaction | None],
        our_script: bytes,
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
                    candidates[txid] = tx
        for txid in parents_first(candidates, txids):
            tx = candidates[txid]
            if txid in self.relevant or touches(view, tx, our_script):
                view.apply_tx(tx, None, our_script)
                self.relevant[txid] = tx
            else:
                self.irrelevant[txid] = spent_keys(tx)
