"""The native ETM hash-time-locked contract (HTLC) rules.

A lock holds ``amount`` ETM base units from ``sender`` for ``recipient`` under a sha256
``hashlock`` of a 32-byte preimage until ``expiry_height`` (an ETM block height) **and** its
wall-clock ``deadline_s`` (ETM-epoch seconds, compared with block timestamps), whichever comes
first:

- **claim** with the preimage in a block at height ``<= expiry_height`` whose timestamp is
  ``<= deadline_s``; anyone may submit it, the funds go only to ``recipient``; the preimage is
  recorded so the other leg can use it.
- **refund** in a block at height ``> expiry_height`` (an absolute height timelock, as
  :func:`etm_bridge.hashlock.refund_allowed`) **or** whose timestamp is ``> deadline_s``;
  anyone may submit it, the funds go only back to ``sender``. The whitepaper says the funds
  "automatically return": on a chain, someone must send the refund transaction, and anyone may.
- The deadline exists because heights stop while the chain is halted (no forger, a crash) but
  the other chain's clock runs on: with heights alone a halt would stretch an ETM leg past the
  foreign refund (issue 11, attack 4). Block timestamps are slot times, bounded by the drift rule
  (``future_block`` / ``late_block``), so no forger can move the clock. A lock made at height
  ``h`` with timestamp ``t`` gets ``deadline_s = t + (expiry_height - h) * block_time_s`` (the
  nominal time of its expiry height) unless the caller fixes one (a swap-in's leg).
  ``deadline_s = 0`` (records written before deadlines existed) means no deadline.
- A lock ends exactly once: a second claim, a claim after the refund, a refund after the claim,
  a refund before expiry and a claim after expiry are each rejected with their own reason.

Pure: every function returns a new :class:`Htlc` or raises :class:`~etm_bridge.errors.HtlcError`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from .. import hashlock as hashlock_rules
from ..errors import HashlockError, HtlcError
from .pool import require_amount
from .reasons import Reason


class HtlcStatus(StrEnum):
    LOCKED = "locked"
    CLAIMED = "claimed"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class Htlc:
    """One native HTLC. ``htlc_id`` is 32 bytes, unique on the chain."""

    htlc_id: bytes
    sender: str
    recipient: str
    amount: int
    hashlock: bytes
    expiry_height: int
    status: HtlcStatus = HtlcStatus.LOCKED
    preimage: bytes | None = None
    deadline_s: int = 0  # ETM-epoch seconds; 0: none (a record from before deadlines)

    def __post_init__(self) -> None:
        if not isinstance(self.htlc_id, bytes) or len(self.htlc_id) != 32:
            raise HtlcError(Reason.BAD_PARAMETER, "htlc_id must be 32 bytes")
        if not self.sender or not self.recipient:
            raise HtlcError(Reason.BAD_PARAMETER, "sender and recipient must be non-empty")
        require_amount(self.amount, "HTLC amount", error=HtlcError)
        try:
            hashlock_rules.require_hashlock(self.hashlock)
        except HashlockError as exc:
            raise HtlcError(Reason.BAD_HASHLOCK, str(exc)) from None
        if not isinstance(self.deadline_s, int) or self.deadline_s < 0:
            raise HtlcError(Reason.BAD_PARAMETER, "deadline_s must be an int >= 0")

    def past_deadline(self, timestamp: int) -> bool:
        """True in a block stamped ``timestamp`` (ETM epoch) after the wall-clock deadline."""
        return self.deadline_s > 0 and timestamp > self.deadline_s

    def expired(self, height: int, timestamp: int) -> bool:
        """True if only a refund is valid in the block at ``height`` stamped ``timestamp``."""
        return hashlock_rules.refund_allowed(self.expiry_height, height) or self.past_deadline(
            timestamp
        )


def new_lock(
    htlc_id: bytes,
    sender: str,
    recipient: str,
    amount: int,
    hashlock: bytes,
    expiry_height: int,
    height: int,
    *,
    timestamp: int,
    block_time_s: int,
    deadline_s: int | None = None,
) -> Htlc:
    """A lock created in the block at ``height`` stamped ``timestamp``; its expiry must be in
    the future. Its deadline is ``deadline_s`` if given, else the nominal time of its expiry
    height (``timestamp + (expiry_height - height) * block_time_s``)."""
    if not isinstance(expiry_height, int) or expiry_height <= height:
        raise HtlcError(
            Reason.EXPIRY_IN_PAST, f"expiry height {expiry_height} must be above height {height}"
        )
    if deadline_s is None:
        deadline_s = timestamp + (expiry_height - height) * block_time_s
    if deadline_s <= timestamp:
        raise HtlcError(
            Reason.EXPIRY_IN_PAST, f"deadline {deadline_s} must be after the block time {timestamp}"
        )
    return Htlc(htlc_id, sender, recipient, amount, hashlock, expiry_height, deadline_s=deadline_s)


def _require_locked(htlc: Htlc) -> None:
    if htlc.status is HtlcStatus.CLAIMED:
        raise HtlcError(Reason.ALREADY_CLAIMED, f"HTLC {htlc.htlc_id.hex()} was already claimed")
    if htlc.status is HtlcStatus.REFUNDED:
        raise HtlcError(Reason.ALREADY_REFUNDED, f"HTLC {htlc.htlc_id.hex()} was already refunded")


def claim(htlc: Htlc, preimage: bytes, height: int, timestamp: int) -> Htlc:
    """Claim ``htlc`` for its recipient with ``preimage`` in the block at ``height`` stamped
    ``timestamp`` (ETM epoch): before its expiry height *and* its deadline."""
    _require_locked(htlc)
    if hashlock_rules.refund_allowed(htlc.expiry_height, height):
        raise HtlcError(
            Reason.HTLC_EXPIRED,
            f"HTLC expired at height {htlc.expiry_height}; at {height} only a refund is valid",
        )
    if htlc.past_deadline(timestamp):
        raise HtlcError(
            Reason.HTLC_EXPIRED,
            f"HTLC deadline {htlc.deadline_s} passed (block time {timestamp}); only a refund is "
            "valid (a halted chain does not stretch the leg)",
        )
    try:
        hashlock_rules.require_preimage(preimage)
    except HashlockError as exc:
        raise HtlcError(Reason.BAD_PREIMAGE, str(exc)) from None
    if not hashlock_rules.preimage_matches(preimage, htlc.hashlock):
        raise HtlcError(
            Reason.WRONG_PREIMAGE, f"sha256(preimage) is not the hashlock {htlc.hashlock.hex()}"
        )
    return replace(htlc, status=HtlcStatus.CLAIMED, preimage=bytes(preimage))


def refund(htlc: Htlc, height: int, timestamp: int) -> Htlc:
    """Refund ``htlc`` to its sender in the block at ``height`` stamped ``timestamp``: after its
    expiry height or after its deadline, whichever comes first."""
    _require_locked(htlc)
    if not htlc.expired(height, timestamp):
        raise HtlcError(
            Reason.EARLY_REFUND,
            f"HTLC refundable from height {htlc.expiry_height + 1} or after block time "
            f"{htlc.deadline_s}; now height {height}, time {timestamp}",
        )
    return replace(htlc, status=HtlcStatus.REFUNDED)
