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

Dust (issue 11, item 6): an obligation too small to pay without overpaying (a 1-sat output is
below Bitcoin's dust limit, and its fee alone exceeds it) would force the operator to default,
which halts the pool. So a withdrawal's asset part must be at least :func:`min_withdrawal`: the
pool's ``min_withdrawal``, never below the chain's :data:`WITHDRAWAL_FLOOR` (above the dust
limit plus the fee of the payment); and one payment may settle several obligations to the same
destination (:func:`settle`: a Bitcoin payment lists up to :data:`MAX_PAID_PER_PAYMENT` ids), so
paying many investors costs the operator one transaction.

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

from ..errors import ExchangeError
from .pool import require_amount
from .reasons import Reason

#: The least a withdrawal may pay out on the asset's chain (base units), whatever a pool sets:
#: Bitcoin 10,000 sat (the P2WPKH dust limit is 294 sat, a 546-sat output is standard for every
#: script type, and a one-input payment with its OP_RETURN of ~170 vB costs 8,500 sat at
#: 50 sat/vB); Ether 10**15 wei (0.001 ETH: a PoolVault payment of ~64,000 gas at ~15 gwei).
#: Tokens have no dust rule and no common unit: their pools set their own minimum.
WITHDRAWAL_FLOOR = {"btc": 10_000, "eth": 10**15}
TOKEN_WITHDRAWAL_FLOOR = 1
#: Most obligations one payment may list (a Bitcoin OP_RETURN push of "ETMO" + 8 ids of 8 bytes).
MAX_PAID_PER_PAYMENT = 8


def withdrawal_floor(asset: str) -> int:
    """The consensus floor of a withdrawal's asset part for ``asset`` (:data:`WITHDRAWAL_FLOOR`)."""
    return WITHDRAWAL_FLOOR.get(asset, TOKEN_WITHDRAWAL_FLOOR)


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
    (:mod:`.proof_budget`; empty: not counted)."""

    deposit_id: bytes
    asset: str
    amount: int
    owner: str
    block_hash: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.deposit_id, bytes) or not self.deposit_id:
            raise ExchangeError(Reason.BAD_PARAMETER, "deposit_id must be non-empty bytes")
        require_amount(self.amount, "deposit amount")


@dataclass(frozen=True)
class VerifiedPayment:
    """An operator payment on the asset's chain, already proven by SPV at enough depth.

    ``destination`` is in the same form as the obligation's: the bound 33-byte pubkey (paid as
    P2WPKH) for Bitcoin, the bound 20-byte address for Ethereum. ``obligation_ids`` are the
    obligations the payment says it pays *to this destination* (Bitcoin: the ids its OP_RETURN
    lists whose destination this output pays; Ethereum: the ``Paid`` event's one id), so a
    payment the investor received for another reason cannot be passed off as the operator's.
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
