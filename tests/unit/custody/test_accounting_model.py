"""The custody books against a tiny independent model of the vault (design-14 sections 4.7 and
11.2, STYLE "test money against a model").

The model keeps what really happened on the foreign chain (coins in the vault, in counter
locks, in users' swap-in locks the pool already paid for) and what the pool owns, independently
of the books' rules. Random deposits, withdrawals with fee bumps, swaps both ways, claims,
refunds and sweeps, in any order: after every honest step the books equal the model and
``assets == liabilities`` exactly; an injected theft or a user's refund of a settled swap-in
makes the shortfall equal the loss exactly.
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from etm_bridge.custody import accounting as ac

pytestmark = pytest.mark.unit

AMOUNT = st.integers(1, 10**8)
FEE = st.integers(0, 5_000)


class Vault(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.books = ac.Books()
        # the independent model: the foreign chain and the pool's claim on it
        self.vault = 0  # coins in vault outputs
        self.counter: list[int] = []  # counter locks on chain, unclaimed
        self.receivable: list[int] = []  # users' swap-in locks the pool paid for, unclaimed
        self.reserve = 0  # what the pool's LPs own in the asset
        self.owed: list[tuple[int, int, int]] = []  # (asset_out, base fee, fees charged)
        self.pending = 0  # fees charged to the pool, not yet paid on chain
        self.lost = 0

    # --- inflows --------------------------------------------------------------------------
    @rule(amount=AMOUNT)
    def deposit(self, amount: int) -> None:
        self.books = ac.deposit_proven(self.books, amount)
        self.vault += amount
        self.reserve += amount

    @rule(amount=AMOUNT)
    def donation(self, amount: int) -> None:
        self.books = ac.inflow_unowned(self.books, amount)
        self.vault += amount
        self.lost -= amount  # an unowned surplus offsets losses

    @rule(amount=AMOUNT)
    def swap_in_settled(self, amount: int) -> None:
        self.books = ac.swap_in_settled(self.books, amount)
        self.receivable.append(amount)
        self.reserve += amount

    @precondition(lambda self: self.receivable)
    @rule(data=st.data(), fee=FEE)
    def swap_in_claimed(self, data: st.DataObject, fee: int) -> None:
        amount = self.receivable.pop(data.draw(st.integers(0, len(self.receivable) - 1)))
        fee = min(fee, amount)
        if fee > self.books.asset_reserve:
            self.receivable.append(amount)
            return
        self.books = ac.fee_charged(self.books, fee)
        self.books = ac.swap_in_claim_proven(self.books, amount, fee)
        self.vault += amount - fee
        self.reserve -= fee

    # --- outflows -------------------------------------------------------------------------
    @rule(data=st.data(), fee=FEE)
    def withdraw(self, data: st.DataObject, fee: int) -> None:
        if self.books.asset_reserve < 2:
            return
        out = data.draw(st.integers(1, self.books.asset_reserve))
        self.books = ac.withdrawn(self.books, out)
        self.owed.append((out, min(fee, out), 0))
        self.reserve -= out

    @precondition(lambda self: self.owed)
    @rule(data=st.data(), extra=FEE)
    def bump_payout(self, data: st.DataObject, extra: int) -> None:
        i = data.draw(st.integers(0, len(self.owed) - 1))
        if extra > self.books.asset_reserve:
            return
        out, base, charged = self.owed[i]
        self.books = ac.fee_charged(self.books, extra)
        self.owed[i] = (out, base, charged + extra)
        self.reserve -= extra
        self.pending += extra

    @precondition(lambda self: self.owed)
    @rule(data=st.data())
    def payout_proven(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(0, len(self.owed) - 1))
        out, base, charged = self.owed[i]
        paid = out + charged  # (out - base) to the investor + (base + charged) to the network
        if paid > self.vault:
            return
        self.owed.pop(i)
        self.books = ac.payout_proven(self.books, out, base, base + charged)
        self.vault -= paid
        self.pending -= charged

    @rule(data=st.data(), fee=FEE)
    def counter_lock(self, data: st.DataObject, fee: int) -> None:
        room = min(self.books.asset_reserve - fee, self.vault - fee)
        if room < 1:
            return
        amount = data.draw(st.integers(1, room))
        self.books = ac.fee_charged(self.books, fee)
        self.books = ac.counter_lock_proven(self.books, amount, fee)
        self.vault -= amount + fee
        self.counter.append(amount)
        self.reserve -= fee

    @precondition(lambda self: self.counter)
    @rule(data=st.data(), refund=st.booleans(), fee=FEE)
    def counter_lock_ends(self, data: st.DataObject, refund: bool, fee: int) -> None:
        amount = self.counter.pop(data.draw(st.integers(0, len(self.counter) - 1)))
        if refund:
            fee = min(fee, amount, self.books.asset_reserve)
            self.books = ac.fee_charged(self.books, fee)
            self.books = ac.counter_refund_proven(self.books, amount, fee)
            self.vault += amount - fee
            self.reserve -= fee
        else:  # the user claimed it: the swap settles, the pool paid out `amount`
            if amount > self.books.asset_reserve:
                self.counter.append(amount)
                return
            self.books = ac.counter_lock_claimed(self.books, amount)
            self.reserve -= amount

    @rule(fee=FEE)
    def sweep(self, fee: int) -> None:
        if fee > min(self.vault, self.books.asset_reserve):
            return
        self.books = ac.fee_charged(self.books, fee)
        self.books = ac.spend_proven(self.books, fee)
        self.vault -= fee
        self.reserve -= fee

    # --- losses ---------------------------------------------------------------------------
    @precondition(lambda self: self.vault > 0)
    @rule(data=st.data())
    def theft(self, data: st.DataObject) -> None:
        amount = data.draw(st.integers(1, self.vault))
        self.books = ac.stolen(self.books, amount)
        self.vault -= amount
        self.lost += amount

    @precondition(lambda self: self.receivable)
    @rule(data=st.data())
    def user_refunds_a_settled_lock(self, data: st.DataObject) -> None:
        amount = self.receivable.pop(data.draw(st.integers(0, len(self.receivable) - 1)))
        self.books = ac.receivable_refunded(self.books, amount)
        self.lost += amount

    # --- the checks -----------------------------------------------------------------------
    @invariant()
    def books_equal_the_model(self) -> None:
        b = self.books
        assert b.held == self.vault
        assert b.account.in_htlc == sum(self.counter)
        assert b.account.receivable == sum(self.receivable)
        assert b.asset_reserve == self.reserve
        assert b.account.owed == sum(o for o, _, _ in self.owed)
        assert b.account.pending_fees == self.pending

    @invariant()
    def the_gap_is_exactly_the_loss(self) -> None:
        assert self.books.liabilities - self.books.assets == self.lost
        assert ac.shortfall(self.books) == max(0, self.lost)


TestVaultBooks = Vault.TestCase
TestVaultBooks.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
