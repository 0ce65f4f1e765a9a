"""The native ETM hash-time-locked contract (HTLC) rules.

A lock holds ``amount`` ETM base units from ``sender`` for ``recipient`` under a sha256
``hashlock`` of a 32-byte preimage until ``expiry_height`` (an ETM block height):

- **claim** with the preimage in a block at height ``<= expiry_height``; anyone may submit it,
  the funds go only to ``recipient``; the preimage is recorded so the other leg can use it.
- **refund** in a block at height ``> expiry_height`` (the same rule as Bitcoin's nLockTime and
  :func:`etm_bridge.hashlock.refund_allowed`); anyone may submit it, the funds go only back to
  ``sender``. The whitepaper says the funds "automatically return": on a chain, someone must
  send the refund transaction, and anyone may.
- A lock ends exactly once: a second claim, a claim after the refund, a refund after the claim,
  a refund before expiry and a claim after expiry are each rejected with their own reason.

Pure: every function returns a new :class:`Htlc` or raises :class:`~etm_bridge.errors.HtlcError`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from .. import hashlock as hl
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

    def __post_init__(self) -> None:
        if not isinstance(self.htlc_id, bytes) or len(self.htlc_id) != 32:
            raise HtlcError(Reason.BAD_PARAMETER, "htlc_id must be 32 bytes")
        if not self.sender or not self.recipient:
            raise HtlcError(Reason.BAD_PARAMETER, "sender and recipient must be non-empty")
        require_amount(self.amount, "HTLC amount", error=HtlcError)
        try:
            hl.require_hashlock(self.hashlock)
        except HashlockError as exc:
            raise HtlcError(Reason.BAD_HASHLOCK, str(exc)) from None


def new_lock(
    htlc_id: bytes,
    sender: str,
    recipient: str,
    amount: int,
    hashlock: bytes,
    expiry_height: int,
    height: int,
) -> Htlc:
    """A lock created in the block at ``height``; its expiry must be in the future."""
    if not isinstance(expiry_height, int) or expiry_height <= height:
        raise HtlcError(
            Reason.EXPIRY_IN_PAST, f"expiry height {expiry_height} must be above height {height}"
        )
    return Htlc(htlc_id, sender, recipient, amount, hashlock, expiry_height)


def _require_locked(htlc: Htlc) -> None:
    if htlc.status is HtlcStatus.CLAIMED:
        raise HtlcError(Reason.ALREADY_CLAIMED, f"HTLC {htlc.htlc_id.hex()} was already claimed")
    if htlc.status is HtlcStatus.REFUNDED:
        raise HtlcError(Reason.ALREADY_REFUNDED, f"HTLC {htlc.htlc_id.hex()} was already refunded")


def claim(htlc: Htlc, preimage: bytes, height: int) -> Htlc:
    """Claim ``htlc`` for its recipient with ``preimage`` in the block at ``height``."""
    _require_locked(htlc)
    if hl.refund_allowed(htlc.expiry_height, height):
        raise HtlcError(
            Reason.HTLC_EXPIRED,
            f"HTLC expired at height {htlc.expiry_height}; at {height} only a refund is valid",
        )
    try:
        hl.require_preimage(preimage)
    except HashlockError as exc:
        raise HtlcError(Reason.BAD_PREIMAGE, str(exc)) from None
    if not hl.preimage_matches(preimage, htlc.hashlock):
        raise HtlcError(
            Reason.WRONG_PREIMAGE, f"sha256(preimage) is not the hashlock {htlc.hashlock.hex()}"
        )
    return replace(htlc, status=HtlcStatus.CLAIMED, preimage=bytes(preimage))


def refund(htlc: Htlc, height: int) -> Htlc:
    """Refund ``htlc`` to its sender in the block at ``height`` (after expiry only)."""
    _require_locked(htlc)
    if not hl.refund_allowed(htlc.expiry_height, height):
        raise HtlcError(
            Reason.EARLY_REFUND,
            f"HTLC refundable from height {htlc.expiry_height + 1}, now {height}",
        )
    return replace(htlc, status=HtlcStatus.REFUNDED)
