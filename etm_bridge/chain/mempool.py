"""The mempool: transactions admitted against the tip state plus the pending ones before them.

Admission runs the full ``rules.apply_tx`` on an overlay of the committed state, so a pending
tx's nonce, balance and type rules are checked exactly as a block would check them (a second tx
from one sender needs the next nonce). Signatures are verified once here, and only once the
cheap checks (network, type, size, fee, nonce, balance: ``rules.precheck_tx``) passed, so a tx
any peer can send for free costs no signature check; the ids of verified
txs are remembered so the node's own blocks skip re-verifying them (an id is the hash of the
signed bytes, so a verified id cannot hide a different signature). Pure: the backend is passed in.

A pending tx that no longer applies after a new tip (spent balance, expired lock, ...) is evicted
and its rejection kept (:meth:`Mempool.eviction`, the last :data:`EVICTIONS_KEPT`), so the node can
say why it will never be forged. Admission already refuses what no block could ever hold
(``tx_too_large``, an amount over the header's u64 ``totalAmount``). Any failure while applying a
tx is rolled back by ``apply_tx``, so a refused tx never leaves writes in the pending state.
"""

from __future__ import annotations

from collections import OrderedDict

from ..errors import TxRejectedError
from .registry import Registry, TxContext
from .rules import apply_tx, precheck_tx
from .state import State, StateBackend
from .tx import Tx

#: How many eviction reasons the mempool remembers (oldest forgotten first).
EVICTIONS_KEPT = 10_000


class Mempool:
    def __init__(self, registry: Registry, max_txs: int = 50_000):
        self._registry = registry
        self._max_txs = max_txs
        self._pending: OrderedDict[bytes, Tx] = OrderedDict()
        self._evicted: OrderedDict[bytes, TxRejectedError] = OrderedDict()
        self.verified: set[bytes] = set()
        self._state: State | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, tx_id: bytes) -> bool:
        return tx_id in self._pending

    def get(self, tx_id: bytes) -> Tx | None:
        return self._pending.get(tx_id)

    def pending(self) -> list[Tx]:
        return list(self._pending.values())

    def eviction(self, tx_id: bytes) -> TxRejectedError | None:
        """Why a once-pending tx was dropped (None if it was not, or long ago)."""
        return self._evicted.get(tx_id)

    def add(self, tx: Tx, backend: StateBackend, ctx: TxContext) -> bytes:
        """Admit ``tx`` or raise TxRejectedError; returns its id."""
        if tx.id in self._pending:
            raise TxRejectedError("duplicate", f"tx {tx.id.hex()} is already pending")
        if len(self._pending) >= self._max_txs:
            raise TxRejectedError("mempool_full", f"{self._max_txs} txs pending; retry later")
        if self._state is None:
            self._state = State(backend, self._registry.table_names)
        unverified = tx.id not in self.verified
        if unverified:  # the cheap checks first: a free-to-send tx costs no signature check
            precheck_tx(self._state, self._registry, tx, ctx.params)
        apply_tx(self._state, self._registry, tx, ctx, verify_sig=unverified)
        self.verified.add(tx.id)
        self._pending[tx.id] = tx
        return tx.id

    def reset(self, backend: StateBackend, ctx: TxContext, included: set[bytes]) -> None:
        """After a new tip: drop included txs and re-admit the rest (dropping invalid ones)."""
        old = [tx for tid, tx in self._pending.items() if tid not in included]
        self.verified -= included
        self._pending.clear()
        self._state = None
        for tx in old:
            try:
                self.add(tx, backend, ctx)
            except TxRejectedError as exc:
                self.verified.discard(tx.id)
                self._evicted[tx.id] = exc
                if len(self._evicted) > EVICTIONS_KEPT:
                    self._evicted.popitem(last=False)
