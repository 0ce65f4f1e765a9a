"""External-asset movements of a pool: SPV-credited deposits and withdrawal obligations.

The pool's BTC/ETH lives on its own chain, controlled by the pool operator. ETM only sees it
through SPV:

- A deposit is credited only from a :class:`VerifiedDeposit`, the output of SPV verification
  (done by the transaction-type layer with ``etm_bridge.spv``): a payment to the pool's
  address (Bitcoin) or contract (Ethereum), at the pool's confirmation depth, attributed to the
  ETM address the payment itself names (Bitcoin: an OP_RETURN output of the same transaction,
  committed by the txid; never a witness, which the txid does not commit). Each ``deposit_id``
  (txid + output index, or tx hash + log index) is credited once.
- A withdrawal of the external asset becomes an :class:`Obligation`: amount, destination
  (the investor's bound key), deadline (ETM height). The operator pays on the other chain and
  proves it back with a :class:`VerifiedPayment`.

A missed deadline is visible and has one defined consequence: anyone may mark the obligation
``DEFAULTED`` (:func:`mark_default`), which halts its pool (no new swaps or deposits; LP
withdrawals stay open) until the operator pays and proves it (status ``PAID_LATE``). There is
no operator bond yet, so a default costs the operator the pool's business, not a slashed stake;
docs/exchange.md states this deviation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from ..errors import ExchangeError
from .pool import require_amount
from .reasons import Reason


class ObligationStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    DEFAULTED = "defaulted"
    PAID_LATE = "paid_late"


@dataclass(frozen=True)
class VerifiedDeposit:
    """An external-asset payment to a pool, already proven by SPV at enough depth."""

    deposit_id: bytes
    asset: str
    amount: int
    owner: str

    def __post_init__(self) -> None:
        if not isinstance(self.deposit_id, bytes) or not self.deposit_id:
            raise ExchangeError(Reason.BAD_PARAMETER, "deposit_id must be non-empty bytes")
        require_amount(self.amount, "deposit amount")


@dataclass(frozen=True)
class VerifiedPayment:
    """An operator payment on the asset's chain, already proven by SPV at enough depth.

    ``destination`` is in the same form as the obligation's: the bound 33-byte pubkey (paid as
    P2WPKH) for Bitcoin, the bound 20-byte address for Ethereum. ``obligation_id`` is the
    reference the payment carries (Bitcoin: an OP_RETURN output), so a payment the investor
    received for another reason cannot be passed off as this one.
    """

    payment_id: bytes
    asset: str
    amount: int
    destination: bytes
    obligation_id: int

    def __post_init__(self) -> None:
        if not isinstance(self.payment_id, bytes) or not self.payment_id:
            raise ExchangeError(Reason.BAD_PARAMETER, "payment_id must be non-empty bytes")
        require_amount(self.amount, "payment amount")


@dataclass(frozen=True)
class Obligation:
    """What the operator owes an investor on the asset's chain, and by when."""

    obligation_id: int
    asset: str
    amount: int
    destination: bytes
    investor: str
    created_height: int
    deadline_height: int
    status: ObligationStatus = ObligationStatus.PENDING
    payment_id: bytes | None = None

    @property
    def open(self) -> bool:
        return self.status in (ObligationStatus.PENDING, ObligationStatus.DEFAULTED)


def check_deposit(deposit: VerifiedDeposit, asset: str, investor: str, used: set[bytes]) -> None:
    """Raise unless ``deposit`` may be credited to ``investor`` in the ``asset`` pool."""
    if deposit.deposit_id in used:
        raise ExchangeError(
            Reason.DEPOSIT_REPLAYED, f"deposit {deposit.deposit_id.hex()} was already credited"
        )
    if deposit.asset != asset:
        raise ExchangeError(
            Reason.DEPOSIT_WRONG_ASSET, f"deposit is {deposit.asset}, pool is {asset}"
        )
    if deposit.owner != investor:
        raise ExchangeError(
            Reason.DEPOSIT_NOT_OWNER,
            f"deposit was paid by the key bound to {deposit.owner}, not {investor}",
        )


def new_obligation(
    obligation_id: int,
    asset: str,
    amount: int,
    destination: bytes,
    investor: str,
    height: int,
    deadline_blocks: int,
) -> Obligation:
    """An obligation due at ``height + deadline_blocks``."""
    require_amount(amount, "obligation amount")
    return Obligation(
        obligation_id, asset, amount, destination, investor, height, height + deadline_blocks
    )


def record_payment(ob: Obligation, payment: VerifiedPayment, height: int) -> Obligation:
    """Close ``ob`` with a proven ``payment`` (``PAID``, or ``PAID_LATE`` after the deadline)."""
    if not ob.open:
        raise ExchangeError(
            Reason.OBLIGATION_CLOSED, f"obligation {ob.obligation_id} is already {ob.status}"
        )
    if payment.obligation_id != ob.obligation_id:
        raise ExchangeError(
            Reason.PAYMENT_MISMATCH,
            f"payment references obligation {payment.obligation_id}, not {ob.obligation_id}",
        )
    if payment.asset != ob.asset or payment.destination != ob.destination:
        raise ExchangeError(
            Reason.PAYMENT_MISMATCH,
            f"payment is {payment.asset} to {payment.destination.hex()}, obligation is "
            f"{ob.asset} to {ob.destination.hex()}",
        )
    if payment.amount < ob.amount:
        raise ExchangeError(
            Reason.PAYMENT_MISMATCH, f"payment {payment.amount} < amount owed {ob.amount}"
        )
    late = ob.status is ObligationStatus.DEFAULTED or height > ob.deadline_height
    status = ObligationStatus.PAID_LATE if late else ObligationStatus.PAID
    return replace(ob, status=status, payment_id=payment.payment_id)


def mark_default(ob: Obligation, height: int) -> Obligation:
    """Mark ``ob`` defaulted; allowed to anyone once ``height`` is past its deadline."""
    if ob.status is not ObligationStatus.PENDING:
        raise ExchangeError(
            Reason.OBLIGATION_CLOSED, f"obligation {ob.obligation_id} is {ob.status}"
        )
    if height <= ob.deadline_height:
        raise ExchangeError(
            Reason.OBLIGATION_NOT_DUE,
            f"obligation {ob.obligation_id} is due by height {ob.deadline_height}, now {height}",
        )
    return replace(ob, status=ObligationStatus.DEFAULTED)
