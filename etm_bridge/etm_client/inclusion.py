"""Censorship detection: is each transaction we submitted in a block yet, counted in blocks?

A node can accept a transaction (answer ``pending``) and then neither gossip it nor include it
when it forges: the transaction waits for ever, and if it is a claim its preimage is now known
to that node. :class:`InclusionTracker` remembers every transaction a
:class:`~etm_bridge.etm_client.endpoints.NodeSet` submitted with the canonical height at
submission, and on each check (:meth:`InclusionTracker.due`) says, by the number of blocks
*produced* since (on the canonical view, never wall time: a halted chain censors nobody):

* after ``rebroadcast_after_blocks`` (default 3) without inclusion: re-send it to every
  endpoint (again every that many blocks);
* after ``censored_after_blocks`` (default 10): report :class:`CensorshipSuspected`, which the
  swap watcher turns into a warning on the swap and the engine's reveal decision uses
  (``swaps.core.policy``);
* after ``forget_after_blocks``: stop tracking it (it was reported long ago; a transaction that
  became invalid, e.g. a claim of an HTLC refunded meanwhile, would otherwise stay for ever).

Pure: no I/O (the NodeSet asks the nodes and re-sends).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import ConfigError


@dataclass(frozen=True)
class InclusionPolicy:
    """When to re-send, when to report, when to stop tracking (module docstring), in blocks
    produced on the canonical view since the submission."""

    rebroadcast_after_blocks: int = 3
    censored_after_blocks: int = 10
    forget_after_blocks: int = 200

    def __post_init__(self) -> None:
        if not 0 < self.rebroadcast_after_blocks <= self.censored_after_blocks:
            raise ConfigError(
                "need 0 < rebroadcast_after_blocks <= censored_after_blocks, got "
                f"{self.rebroadcast_after_blocks} and {self.censored_after_blocks}"
            )
        if self.forget_after_blocks <= self.censored_after_blocks:
            raise ConfigError("forget_after_blocks must be above censored_after_blocks")


@dataclass(frozen=True)
class CensorshipSuspected:
    """Transaction ``tx_id`` is in no block ``blocks_waited`` blocks after it was submitted to
    (and accepted by) ``endpoints``."""

    tx_id: str
    blocks_waited: int
    endpoints: tuple[str, ...]

    def message(self) -> str:
        return (
            f"censorship suspected: transaction {self.tx_id} is in no block {self.blocks_waited} "
            f"blocks after it was accepted by {', '.join(self.endpoints) or 'no endpoint'} "
            "(list more ETM endpoints: [etm] urls / --etm-url)"
        )


@dataclass(frozen=True)
class Tracked:
    """One submitted transaction: its encoding (to re-send), the canonical height when it was
    submitted and when it was last sent, and who accepted it."""

    tx_id: str
    encoded: bytes
    submitted_at: int | None  # None: no canonical view at submission; set at the first check
    sent_at: int | None
    accepted_by: tuple[str, ...]
    rebroadcasts: int = 0


@dataclass(frozen=True)
class Due:
    """What one check asks for: transactions to re-send, suspicions, transactions to forget."""

    rebroadcast: tuple[Tracked, ...] = ()
    suspected: tuple[CensorshipSuspected, ...] = ()
    forget: tuple[str, ...] = ()


class InclusionTracker:
    """The transactions a client submitted and has not seen in a block yet (module docstring)."""

    def __init__(self, policy: InclusionPolicy | None = None) -> None:
        self.policy = policy or InclusionPolicy()
        self._txs: dict[str, Tracked] = {}

    def __contains__(self, tx_id: str) -> bool:
        return tx_id in self._txs

    def __len__(self) -> int:
        return len(self._txs)

    def tracked(self) -> tuple[Tracked, ...]:
        return tuple(self._txs.values())

    def track(
        self, tx_id: str, encoded: bytes, height: int | None, accepted_by: tuple[str, ...]
    ) -> None:
        """A transaction submitted at canonical height ``height`` (None: unknown now, the
        first :meth:`due` sets it). Tracked again: the first submission counts."""
        known = self._txs.get(tx_id)
        if known is not None:
            merged = tuple(dict.fromkeys(known.accepted_by + accepted_by))
            self._txs[tx_id] = replace(known, accepted_by=merged)
            return
        self._txs[tx_id] = Tracked(tx_id, bytes(encoded), height, height, accepted_by)

    def included(self, tx_id: str) -> None:
        """The transaction is in a block of the canonical chain: done."""
        self._txs.pop(tx_id, None)

    def forget(self, tx_id: str) -> None:
        self._txs.pop(tx_id, None)

    def resent(self, tx_id: str, height: int, accepted_by: tuple[str, ...]) -> None:
        """Re-sent at canonical height ``height``."""
        known = self._txs.get(tx_id)
        if known is not None:
            merged = tuple(dict.fromkeys(known.accepted_by + accepted_by))
            self._txs[tx_id] = replace(
                known, sent_at=height, accepted_by=merged, rebroadcasts=known.rebroadcasts + 1
            )

    def due(self, height: int) -> Due:
        """At canonical height ``height``, for the transactions not seen in a block."""
        p = self.policy
        rebroadcast, suspected, forget = [], [], []
        for tx_id, t in list(self._txs.items()):
            if t.submitted_at is None or t.sent_at is None:
                t = self._txs[tx_id] = replace(t, submitted_at=height, sent_at=height)
            assert t.submitted_at is not None and t.sent_at is not None
            waited = max(0, height - t.submitted_at)
            if waited >= p.forget_after_blocks:
                forget.append(t.tx_id)
                continue
            if height - t.sent_at >= p.rebroadcast_after_blocks:
                rebroadcast.append(t)
            if waited >= p.censored_after_blocks:
                suspected.append(CensorshipSuspected(t.tx_id, waited, t.accepted_by))
        return Due(tuple(rebroadcast), tuple(suspected), tuple(forget))
