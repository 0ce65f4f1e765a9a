"""The custody books of one pool asset, kept so that solvency is exact (design-14 section 4.7).

ETM keeps, per pool asset, what the vault holds by proof (``held``: unspent and reserved vault
outputs, UTXO model) and, beside the pool's ``asset_reserve``, a :class:`CustodyAccount`:
``pending_fees`` (network fees of mandated spends charged but not yet proven), ``owed`` (LP
payouts mandated, not yet proven), ``in_htlc`` (proven counter locks the user has not claimed
nor the vault refunded), ``receivable`` (swap-in locks whose ETM side settled, the vault's claim
not yet proven). Every rule below moves both sides by the same amount, so with honest signers
and proofs::

    held + in_htlc + receivable == asset_reserve + owed + pending_fees      (to the unit)

and any difference is a loss (a theft, a swap-in refunded by its user after the pool paid):
:func:`shortfall`. Rules (each a pure function of :class:`Books`):

1. a revision's fee is charged to the reserve and held as pending when the revision is created
   (a bump charges the difference); its proof releases it. An ``lp_withdraw``'s revision-0 fee
   comes out of the payout (only bump differences follow rule 1);
2. a withdrawal moves ``asset_out`` from the reserve to ``owed`` until its payout is proven;
3. a proven counter lock moves ``amount`` (+ fee) out of the vault into ``in_htlc``; the
   user's claim settles the swap (reserve down, ``in_htlc`` down); a proven refund brings it back;
4. a swap-in settled on ETM adds ``amount`` to the reserve and to ``receivable``; the proven
   claim moves it into the vault (less its fee).

Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..errors import CustodyError
from .records import CustodyAccount, Reason


@dataclass(frozen=True)
class Books:
    held: int = 0
    asset_reserve: int = 0
    account: CustodyAccount = field(default_factory=CustodyAccount)

    @property
    def assets(self) -> int:
        return self.held + self.account.in_htlc + self.account.receivable

    @property
    def liabilities(self) -> int:
        return self.asset_reserve + self.account.owed + self.account.pending_fees

    def _with(self, held: int = 0, reserve: int = 0, **acc: int) -> Books:
        a = self.account
        new = replace(a, **{k: getattr(a, k) + v for k, v in acc.items()})
        out = Books(self.held + held, self.asset_reserve + reserve, new)
        negative = [n for n, v in (("held", out.held), ("asset_reserve", out.asset_reserve),
                                   *vars(new).items()) if v < 0]  # fmt: skip
        if negative:
            raise CustodyError(Reason.BAD_PARAMETER, f"custody books would go negative: {negative}")
        return out


def shortfall(b: Books) -> int:
    return max(0, b.liabilities - b.assets)


# --- deposits and fees (rule 1) -----------------------------------------------------------------


def deposit_proven(b: Books, amount: int) -> Books:
    """An LP deposit (or a proven donation credited to the pool) lands in the vault."""
    return b._with(held=amount, reserve=amount)


def inflow_unowned(b: Books, amount: int) -> Books:
    """A payment to the vault credited to nobody (custody_inflow_proof): raises solvency."""
    return b._with(held=amount)


def fee_charged(b: Books, fee: int) -> Books:
    """A revision created (or bumped: the difference) charges its fee to the reserve."""
    return b._with(reserve=-fee, pending_fees=fee)


def fee_released(b: Books, fee: int) -> Books:
    """A revision that will never be proven (its mandate voided or cancelled before signing)
    gives its charged fee back to the reserve."""
    return b._with(reserve=fee, pending_fees=-fee)


# --- withdrawals (rules 1, 2) -------------------------------------------------------------------


def withdrawn(b: Books, asset_out: int) -> Books:
    """Shares burnt: ``asset_out`` leaves the reserve and is owed to the investor."""
    return b._with(reserve=-asset_out, owed=asset_out)


def payout_proven(b: Books, asset_out: int, base_fee: int, fee_paid: int) -> Books:
    """The payout spend proven: the investor got ``asset_out - base_fee``, the network
    ``fee_paid`` (the proven revision's fee; ``fee_paid - base_fee`` was charged by bumps)."""
    return b._with(
        held=-(asset_out - base_fee + fee_paid),
        owed=-asset_out,
        pending_fees=-(fee_paid - base_fee),
    )


# --- swap-outs (rules 1, 3) ---------------------------------------------------------------------


def counter_lock_proven(b: Books, amount: int, fee: int) -> Books:
    return b._with(held=-(amount + fee), in_htlc=amount, pending_fees=-fee)


def counter_lock_claimed(b: Books, amount: int) -> Books:
    """The user claimed the counter lock; the swap settles on ETM (reserve pays it out)."""
    return b._with(reserve=-amount, in_htlc=-amount)


def counter_refund_proven(b: Books, amount: int, fee: int) -> Books:
    return b._with(held=amount - fee, in_htlc=-amount, pending_fees=-fee)


# --- swap-ins (rules 1, 4) ----------------------------------------------------------------------


def swap_in_settled(b: Books, amount: int) -> Books:
    """The user claimed the pool's ETM HTLC: the lock's full value is the pool's, receivable."""
    return b._with(reserve=amount, receivable=amount)


def swap_in_claim_proven(b: Books, amount: int, fee: int) -> Books:
    return b._with(held=amount - fee, receivable=-amount, pending_fees=-fee)


# --- losses (what solvency detects) -------------------------------------------------------------


def stolen(b: Books, amount: int) -> Books:
    """A proven spend of a vault output that no mandate covers."""
    return b._with(held=-amount)


def receivable_refunded(b: Books, amount: int) -> Books:
    """The user refunded a swap-in lock whose ETM side the pool had already paid."""
    return b._with(receivable=-amount)


def spend_proven(b: Books, fee: int) -> Books:
    """A sweep or a cancel proven: the vault keeps its coins less the fee (charged before)."""
    return b._with(held=-fee, pending_fees=-fee)
