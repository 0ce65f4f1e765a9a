"""External-asset movements of a pool: SPV-credited deposits and withdrawal obligations.

The pool's external asset lives on its own chain, controlled by the pool operator. ETM only
sees it through SPV:

- A deposit is credited only from a :class:`VerifiedDeposit`, the output of SPV verification
  (done by the transaction-type layer with the chain's exchange verifier): a payment to the
  pool's key or contract, at the pool's confirmation depth, attributed to the ETM address the
  payment itself names in data its transaction id commits to (never a witness, which the id
  does not commit). Each ``deposit_id`` (payment id + output or event index) is credited once.
- A withdrawal of the external asset becomes an :class:`Obligation`: amount, destination
  (the investor's bound key), deadline (ETM height). The operator pays on the other chain and
  proves it back with a :class:`VerifiedPayment`.

Dust (issue 11, item 6): an obligation too small to pay without overpaying (an output below the
chain's dust limit, whose fee alone exceeds it) would force the operator to default, which
halts the pool. So a withdrawal's asset part must be at least :func:`min_withdrawal`: the
pool's ``min_withdrawal``, never below :func:`withdrawal_floor` (the chain profile's floor:
above the dust limit plus the fee of the payment); and one payment may settle several
obligations to the same destination (:func:`settle`: a payment lists up to
:data:`MAX_PAID_PER_PAYMENT` ids), so paying many investors costs the operator one transaction.

A missed deadline is visible and has one defined consequence: anyone may mark the obligation
``DEFAULTED`` (:func:`mark_default`), which halts its pool (no new swaps or deposits; LP
withdrawals stay open) until the operator pays and proves it (status ``PAID_LATE``). There is
no operator bond yet, so a default costs the operator the pool's business, not a slashed stake;
docs/exchange.md states this deviation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from ..chains.registry import chain_registry
from ..errors import ExchangeError
from .pool import require_amount
from .reasons import Reason

#: The floor of a token's withdrawal: tokens have no dust rule and no common unit, so their
#: pools set their own minimum. A chain's native asset has its profile's floor.
TOKEN_WITHDRAWAL_FLOOR = 1
#: Most obligations one payment may list (an "ETMO" tag + 8 ids of 8 bytes fits one data push).
MAX_PAID_PER_PAYMENT = 8


def withdrawal_floor(asset: str) -> int:
    """The consensus floor of a withdrawal's asset part for ``asset``: the chain profile's
    ``exchange.withdrawal_floor`` for a chain's native asset, else
    :data:`TOKEN_WITHDRAWAL_FLOOR`."""
    for profile in chain_registry():
        if profile.assets.native == asset and profile.exchange is not None:
            return profile.exchange.withdrawal_floor
    return TOKEN_WITHDRAWAL_FLOOR


def min_withdrawal(asset: str, pool_minimum: int) -> int:
    """The least asset a withdrawal from a pool with parameter ``pool_minimum`` may pay."""
    return max(withdrawal_floor(asset), pool_minimum)


class ObligationStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    DEFAULTED = "defaulted"
    PAID_LATE = "paid_late"


@dataclass(frozen=True)
class VerifiedDeposit:
    """An external-asset payment to a pool, already proven by SPV at enough depth.
    ``block_hash``: the block holding it, whose proven value the deposit adds to
    (:mod:`.proof_budget`; empty: not counted). ``destination``: what the output pays (a
    script, an address: the custody port checks it for a committee pool) and ``custody_ref``:
    the output in the chain's own form (a UTXO chain's outpoint), empty when not known;
    ``spends``: the outpoints the paying transaction spends, in the same form (UTXO chains)."""

    deposit_id: bytes
    asset: str
    amount: int
    owner: str
    block_hash: bytes = b""
    destination: bytes = b""
    custody_ref: bytes = b""
    spends: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.deposit_id, bytes) or not self.deposit_id:
            raise ExchangeError(Reason.BAD_PARAMETER, "deposit_id must be non-empty bytes")
        require_amount(self.amount, "deposit amount")


@dataclass(frozen=True)
class VerifiedPayment:
    """An operator payment on the asset's chain, already proven by SPV at enough depth.

    ``destination`` is in the same form as the obligation's: the investor's bound key, in
    the chain's key form (its profile's ``binding.key_len``). ``obligation_ids`` are the
    obligations the payment says it pays *to this destination* (the chain's verifier reads
    them from the payment: the ids its data output lists whose destination this output pays,
    or a payment event's one id), so a payment the investor received for another reason
    cannot be passed off as the operator's.
    ``block_hash``: the block holding it (:mod:`.proof_budget`; empty: not counted).
    """

    payment_id: bytes
    asset: str
    amount: int
    destination: bytes
    obligation_ids: tuple[int, ...]
    block_hash: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.payment_id, bytes) or not self.payment_id:
            raise ExchangeError(Reason.BAD_PARAMETER, "payment_id must be non-empty bytes")
        require_amount(self.amount, "payment amount")
        ids = self.obligation_ids
        if not isinstance(ids, tuple) or not 1 <= len(ids) <= MAX_PAID_PER_PAYMENT:
            raise ExchangeError(
                Reason.BAD_PARAMETER,
                f"a payment pays 1..{MAX_PAID_PER_PAYMENT} obligations, got {ids!r}",
            )
        if len(set(ids)) != len(ids):
            raise ExchangeError(Reason.PAYMENT_MISMATCH, f"a payment lists {ids} more than once")


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


def settle(
    obligations: Sequence[Obligation], payment: VerifiedPayment, height: int
) -> list[Obligation]:
    """Close every open obligation ``payment`` pays with it (each ``PAID``, or ``PAID_LATE``
    after its deadline): ``obligations`` must be exactly those ``payment.obligation_ids`` name,
    of the payment's asset and destination, at least one of them open, and the payment must
    cover the sum of the open ones.

    A listed obligation closed already (by another payment) is skipped, not a reason to refuse
    the payment (review a11a): the investor can close one obligation of a batch first with a
    payment to itself (its own coins to its own key, tagged with that id: anyone may prove a
    payment), and the operator's batch, already paid, could then never be proven for the
    others, which the operator would have to pay again."""
    if sorted(o.obligation_id for o in obligations) != sorted(payment.obligation_ids):
        raise ExchangeError(
            Reason.PAYMENT_MISMATCH,
            f"payment references obligations {list(payment.obligation_ids)}, not "
            f"{[o.obligation_id for o in obligations]}",
        )
    for ob in obligations:
        if payment.asset != ob.asset or payment.destination != ob.destination:
            raise ExchangeError(
                Reason.PAYMENT_MISMATCH,
                f"payment is {payment.asset} to {payment.destination.hex()}, obligation "
                f"{ob.obligation_id} is {ob.asset} to {ob.destination.hex()}",
            )
    still_open = [o for o in obligations if o.open]
    if not still_open:
        closed = ", ".join(f"{o.obligation_id} is {o.status}" for o in obligations)
        raise ExchangeError(Reason.OBLIGATION_CLOSED, f"nothing left to pay: {closed}")
    owed = sum(o.amount for o in still_open)
    if payment.amount < owed:
        raise ExchangeError(
            Reason.PAYMENT_MISMATCH,
            f"payment {payment.amount} < amount owed {owed} (open obligations "
            f"{[o.obligation_id for o in still_open]})",
        )
    out = []
    for ob in still_open:
        late = ob.status is ObligationStatus.DEFAULTED or height > ob.deadline_height
        status = ObligationStatus.PAID_LATE if late else ObligationStatus.PAID
        out.append(replace(ob, status=status, payment_id=payment.payment_id))
    return out


def record_payment(ob: Obligation, payment: VerifiedPayment, height: int) -> Obligation:
    """Close ``ob`` with a proven ``payment`` of it alone (see :func:`settle`)."""
    return settle([ob], payment, height)[0]


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
