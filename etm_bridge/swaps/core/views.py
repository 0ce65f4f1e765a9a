"""What the engine sees of the chains at one moment: the input of ``events`` and ``policy``.

The watcher builds a :class:`SwapView` per swap from adapter observations (the adapter's
frozen :class:`~etm_bridge.adapter.HtlcLock` / :class:`~etm_bridge.adapter.HtlcSpend`) and
from the ETM exchange (proof status, relay tip). The pure core decides from views alone, so the
same decisions can be replayed in tests at any timelock boundary.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ...adapter import (
    HtlcLock,
    HtlcSpend,
    HtlcTerms,
    LockState,
    MismatchReason,
    SpendKind,
    lock_mismatches,
)
from ...errors import ValidationError
from ...hashlock import refund_allowed
from .model import DepKind

#: Mismatches that are properties of the lock itself (the rest depend on time or spends).
STATIC_REASONS: frozenset[MismatchReason] = frozenset(MismatchReason) - {
    MismatchReason.NOT_CONFIRMED,
    MismatchReason.TIMELOCK_TOO_CLOSE,
    MismatchReason.ALREADY_SPENT,
}


class ProofStatus(StrEnum):
    NONE = "none"  # ETM has not seen a proof of this swap's user lock
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class LegView:
    """One leg: the chain tip and this swap's lock and spend on it, if any.

    ``now_s`` (unix seconds, 0: unknown) is when it was observed: a lock with a wall-clock
    deadline (ETM's HTLCs) is refundable once it passed, and its time left is the smaller of
    its blocks and its deadline. ``final_height``: the chain's finalized height where it has
    finality (ETM), else None. ``censored``: (tx id, message) of our transactions on this chain
    that the endpoints we submit to are suspected of censoring (``etm_client.inclusion``: in no
    block many produced blocks after they were accepted)."""

    chain: str
    tip_height: int
    block_time_s: int
    lock: HtlcLock | None = None
    spend: HtlcSpend | None = None
    now_s: int = 0
    final_height: int | None = None
    censored: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.tip_height < 0 or self.block_time_s < 1:
            raise ValidationError(f"{self.chain}: bad tip height or block time")
        if self.lock is not None and self.lock.chain != self.chain:
            raise ValidationError(f"lock on {self.lock.chain!r} given for leg on {self.chain!r}")

    @property
    def confirmations(self) -> int:
        return 0 if self.lock is None else self.lock.confirmations_at(self.tip_height)

    @property
    def is_open(self) -> bool:
        """A lock exists and is neither claimed nor refunded (as far as we can see)."""
        return self.lock is not None and self.spend is None and self.lock.state is LockState.OPEN

    @property
    def blocks_left(self) -> int:
        """Blocks until the lock's refund becomes broadcastable (0: it is)."""
        if self.lock is None:
            return 0
        return max(0, self.lock.terms.timelock_height - self.tip_height)

    @property
    def seconds_left(self) -> int:
        """Expected seconds until the lock's refund becomes valid: its blocks at the nominal
        block time, or less if its wall-clock deadline comes first."""
        left = self.blocks_left * self.block_time_s
        deadline = self.lock.deadline_s if self.lock is not None else None
        if deadline is not None and self.now_s:
            left = min(left, max(0, deadline - self.now_s))
        return left

    @property
    def past_deadline(self) -> bool:
        deadline = self.lock.deadline_s if self.lock is not None else None
        return deadline is not None and self.now_s > deadline

    @property
    def refundable(self) -> bool:
        """Open and a refund would be valid in the next block (by height or by deadline)."""
        return self.is_open and (
            refund_allowed(self.lock.terms.timelock_height if self.lock else 0, self.tip_height + 1)
            or self.past_deadline
        )

    @property
    def final(self) -> bool:
        """The lock's block is final (True on chains without finality once it is mined)."""
        if self.lock is None or self.lock.block_height is None:
            return False
        return self.final_height is None or self.lock.block_height <= self.final_height

    @property
    def claimed(self) -> bool:
        return self.spend is not None and self.spend.kind is SpendKind.CLAIM

    @property
    def refunded(self) -> bool:
        return self.spend is not None and self.spend.kind is SpendKind.REFUND


@dataclass(frozen=True)
class ProofView:
    """The ETM side of a foreign->ETM swap's SPV proof."""

    relay_tip_height: int  # best foreign height the ETM relay knows
    status: ProofStatus = ProofStatus.NONE
    reason: str = ""


@dataclass(frozen=True)
class SwapView:
    """Everything the core may look at for one swap, at one moment."""

    user: LegView
    counter: LegView
    proof: ProofView | None = None
    removed: frozenset[DepKind] = frozenset()  # dependencies whose block left the best chain
    #: a pool swap in's bonded intent is live on ETM (read only where a cancel may be due:
    #: :func:`~.bond.reads_intent`)
    intent_live: bool = False


def static_mismatches(
    lock: HtlcLock, expected: HtlcTerms, chain: str
) -> list[tuple[MismatchReason, str]]:
    """Mismatches of ``lock`` against ``expected`` that no amount of waiting will fix."""
    found = lock_mismatches(
        lock, expected, chain=chain, min_confirmations=0, now_height=0, min_blocks_left=0
    )
    return [(reason, detail) for reason, detail in found if reason in STATIC_REASONS]


def pick_lock(locks: Iterable[HtlcLock], expected: HtlcTerms, chain: str) -> HtlcLock | None:
    """The lock to follow among those with our hashlock: the first that matches the terms,
    else the first one (so its mismatch is reported); None if there are none."""
    candidates = list(locks)
    for lock in candidates:
        if not static_mismatches(lock, expected, chain):
            return lock
    return candidates[0] if candidates else None
