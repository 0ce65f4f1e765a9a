"""Per pool solvency at each round close (design-14 section 9), from its custody books.

``shortfall = max(0, liabilities - assets)`` (:mod:`.accounting`). UTXO chains change their books
only with proofs, so any shortfall is real: ``insolvent`` at once. Account chains learn their
balance from periodic proofs, so an executed but not yet proven payout looks like a shortfall:
``shortfall_pending`` for ``solvency_grace_rounds`` rounds, then ``insolvent``; without a fresh
balance proof the status is ``unknown``. While insolvent, the pool refuses swap-ins, intents,
deposits, swap-outs and asset withdrawals with ``pool_insolvent`` and the one-line reason
(:func:`check_flow`); it resumes at the first round whose books show no shortfall. Pure.
"""

from __future__ import annotations

from ..errors import ExchangeError
from ..exchange.reasons import Reason
from .accounting import Books, shortfall
from .records import Solvency, SolvencyStatus
from .spec import CustodyModel


def assess(
    books: Books,
    round_no: int,
    previous: Solvency | None,
    model: CustodyModel,
    grace_rounds: int,
    balance_fresh: bool = True,
    cause: str | None = None,
) -> Solvency:
    """The pool's solvency record for ``round_no`` (``previous``: last round's)."""
    gap = shortfall(books)
    args = (round_no, books.assets, books.liabilities, gap)
    if model is CustodyModel.ACCOUNT and not balance_fresh:
        return Solvency(SolvencyStatus.UNKNOWN, *args, None, "no recent balance proof")
    if gap == 0:
        return Solvency(SolvencyStatus.OK, *args)
    since = round_no
    if previous is not None and previous.status in (
        SolvencyStatus.INSOLVENT, SolvencyStatus.SHORTFALL_PENDING
    ):  # fmt: skip
        since = previous.since_round if previous.since_round is not None else round_no
    pending = model is CustodyModel.ACCOUNT and round_no - since < grace_rounds
    status = SolvencyStatus.SHORTFALL_PENDING if pending else SolvencyStatus.INSOLVENT
    return Solvency(status, *args, since, cause)


def reason_line(asset: str, s: Solvency) -> str:
    cause = f" ({s.cause})" if s.cause else ""
    return f"pool_insolvent: shortfall {s.shortfall} {asset} since round {s.since_round}{cause}"


def check_flow(asset: str, s: Solvency | None) -> None:
    """Raise ``pool_insolvent`` while the pool is insolvent (any flow of its asset)."""
    if s is not None and s.status is SolvencyStatus.INSOLVENT:
        raise ExchangeError(Reason.POOL_INSOLVENT, reason_line(asset, s))
