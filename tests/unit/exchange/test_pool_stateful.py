"""Hypothesis state machine over one pool, its investors and its traders.

The model keeps its own books (wallets, escrow, cumulative flows) from each operation's
receipt and checks after every step:

- conservation: every ETM unit and every asset unit is in a wallet, the pool reserve, or the
  escrow of an in-flight swap's input (``*_pending_in``); nothing is created or lost;
- the reserve identity: reserve = deposits + fees + swaps in - swaps out - withdrawals;
- ``reserved <= reserve`` on both sides, and reservations equal the open swaps' outputs;
- shares: investors' shares + the locked minimum == total shares;
- a share's value (sqrt(x*y)/S over the real reserves) never falls on a deposit, a
  withdrawal, a reservation or a release; and from one moment with no swap in flight to the
  next it has not fallen, unless investors deposited or withdrew while swaps were in flight
  (those swaps then settle at the price of the pool they were priced on: the documented loss,
  docs/exchange.md). Single settlements may lower it (a swap priced before a later one of the
  same direction that settled first); the busy period as a whole may not;
- no investor takes another's value: a deposit or withdrawal never lowers a share's backing on
  either side (reserve / S), so the other investors' shares lose nothing, whatever is in
  flight; a deposit followed at once by a withdrawal returns no more of either asset than was
  put in;
- no trader takes the investors' value through swaps in flight (which can be cancelled for
  free): a new swap never gets more than it would if every in-flight swap were settled, nor
  more than if every one were cancelled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from etm_bridge.errors import ExchangeError
from etm_bridge.exchange import pool as P
from etm_bridge.exchange.pool import PoolDirection

INVESTORS = ("alice", "bob", "carol")
START = 10**12


@dataclass
class Flows:
    deposits: int = 0
    fees: int = 0
    swaps_in: int = 0
    swaps_out: int = 0
    withdrawals: int = 0

    def expected_reserve(self) -> int:
        return self.deposits + self.fees + self.swaps_in - self.swaps_out - self.withdrawals


@dataclass
class Books:
    wallet_asset: dict[str, int] = field(default_factory=dict)
    wallet_etm: dict[str, int] = field(default_factory=dict)
    shares: dict[str, int] = field(default_factory=dict)
    asset: Flows = field(default_factory=Flows)
    etm: Flows = field(default_factory=Flows)


class PoolMachine(RuleBasedStateMachine):
    swaps = Bundle("swaps")

    @initialize(fee_ppm=st.integers(0, 30_000))
    def setup(self, fee_ppm: int) -> None:
        params = P.PoolParams("btc", "etm1op", b"\x02" * 33, fee_ppm=fee_ppm)
        self.pool = P.Pool(params)
        people = (*INVESTORS, "trader")
        self.b = Books({p: START for p in people}, {p: START for p in people})
        self.open_swaps = 0
        self.quiet: P.Pool | None = self.pool  # pool when no swap was last in flight

    # --- helpers --------------------------------------------------------------------------------

    def _others_value_kept(self, before: P.Pool, after: P.Pool) -> None:
        assert P.share_value_not_lower(before, after), (before, after)
        if before.total_shares:  # each side's backing per share did not fall
            s_before, s_after = before.total_shares, after.total_shares
            assert after.asset_reserve * s_before >= before.asset_reserve * s_after
            assert after.etm_reserve * s_before >= before.etm_reserve * s_after

    def _no_better_than_any_outcome(self, pool: P.Pool, q: P.Quote) -> None:
        """``q`` pays no more than with every in-flight swap settled, or every one cancelled."""
        x, y = pool.effective_reserves()
        cancelled = replace(
            pool, asset_reserved=0, etm_reserved=0, asset_pending_in=0, etm_pending_in=0
        )
        settled = replace(cancelled, asset_reserve=x, etm_reserve=y)
        for outcome in (cancelled, settled):
            try:
                best = P.quote(outcome, q.direction, q.amount_in).amount_out
            except ExchangeError:
                best = 0
            assert q.amount_out <= best, (pool, q, outcome)

    def _deposit(self, who: str, asset: int, etm: int) -> P.Mint | None:
        before = self.pool
        try:
            self.pool, mint = P.add_liquidity(self.pool, asset, etm)
        except ExchangeError:
            assert self.pool is before
            return None
        assert mint.asset_in == asset and mint.etm_in <= etm
        self.b.wallet_asset[who] -= mint.asset_in
        self.b.wallet_etm[who] -= mint.etm_in
        self.b.asset.deposits += mint.asset_in
        self.b.etm.deposits += mint.etm_in
        self.b.shares[who] = self.b.shares.get(who, 0) + mint.shares
        self._liquidity_changed()
        self._others_value_kept(before, self.pool)
        return mint

    def _withdraw(self, who: str, shares: int) -> P.Burn | None:
        before = self.pool
        try:
            self.pool, burn = P.remove_liquidity(self.pool, shares, self.b.shares.get(who, 0))
        except ExchangeError:
            assert self.pool is before
            return None
        self.b.shares[who] -= shares
        self.b.wallet_asset[who] += burn.asset_out
        self.b.wallet_etm[who] += burn.etm_out
        self.b.asset.withdrawals += burn.asset_out
        self.b.etm.withdrawals += burn.etm_out
        self._liquidity_changed()
        self._others_value_kept(before, self.pool)
        return burn

    # --- rules ----------------------------------------------------------------------------------

    @rule(
        who=st.sampled_from(INVESTORS),
        asset=st.integers(1, 10**9),
        etm=st.integers(1, 10**11),
        quoted=st.booleans(),
    )
    def deposit(self, who: str, asset: int, etm: int, quoted: bool) -> None:
        if (
            quoted
            and self.pool.total_shares
            and min(self.pool.asset_reserve, self.pool.etm_reserve)
        ):
            etm = P.deposit_quote(self.pool, asset) + etm % 1_000  # enough ETM, some to spare
        self._deposit(who, asset, etm)

    @rule(who=st.sampled_from(INVESTORS), part=st.integers(1, 100))
    def withdraw(self, who: str, part: int) -> None:
        owned = self.b.shares.get(who, 0)
        if owned:
            self._withdraw(who, max(1, owned * part // 100))

    @precondition(lambda self: self.pool.total_shares > 0)
    @rule(asset=st.integers(1, 10**8), etm=st.integers(1, 10**10))
    def deposit_then_withdraw(self, asset: int, etm: int) -> None:
        mint = self._deposit("carol", asset, etm)
        if mint is None:
            return
        burn = self._withdraw("carol", mint.shares)
        if burn is not None:
            assert burn.asset_out <= mint.asset_in and burn.etm_out <= mint.etm_in

    @rule(
        target=swaps,
        direction=st.sampled_from(PoolDirection),
        amount=st.integers(1, 10**9),
        slack=st.integers(0, 2),
    )
    def reserve(self, direction: PoolDirection, amount: int, slack: int) -> object:
        before = self.pool
        min_out = 0
        try:
            min_out = P.quote(before, direction, amount).amount_out - 1 + slack
            self.pool, q = P.reserve_swap(before, direction, amount, min_out)
        except ExchangeError:
            assert self.pool is before
            return None
        assert q.amount_out >= min_out
        self._no_better_than_any_outcome(before, q)
        if direction is PoolDirection.ASSET_TO_ETM:
            self.b.wallet_asset["trader"] -= amount  # into the trader's foreign HTLC
        else:
            self.b.wallet_etm["trader"] -= amount  # into the ETM HTLC escrow
        self.open_swaps += 1
        self._others_value_kept(before, self.pool)
        return q

    @rule(q=consumes(swaps))
    def settle(self, q: P.Quote | None) -> None:
        if q is None:
            return
        before = self.pool
        self.pool = P.settle_swap(self.pool, q)
        self.open_swaps -= 1
        side_in, side_out = (
            (self.b.asset, self.b.etm)
            if q.direction is PoolDirection.ASSET_TO_ETM
            else (self.b.etm, self.b.asset)
        )
        side_in.fees += q.fee
        side_in.swaps_in += q.amount_in - q.fee
        side_out.swaps_out += q.amount_out
        wallet_out = (
            self.b.wallet_etm if q.direction is PoolDirection.ASSET_TO_ETM else self.b.wallet_asset
        )
        wallet_out["trader"] += q.amount_out
        assert self.pool.effective_reserves() == before.effective_reserves()

    @rule(q=consumes(swaps))
    def release(self, q: P.Quote | None) -> None:
        if q is None:
            return
        before = self.pool
        self.pool = P.release_swap(self.pool, q)
        self.open_swaps -= 1
        wallet_in = (
            self.b.wallet_asset if q.direction is PoolDirection.ASSET_TO_ETM else self.b.wallet_etm
        )
        wallet_in["trader"] += q.amount_in  # refunded
        assert self.pool.asset_reserve == before.asset_reserve
        assert self.pool.etm_reserve == before.etm_reserve
        self._others_value_kept(before, self.pool)  # no free-option loss any more

    def _liquidity_changed(self) -> None:
        if self.open_swaps:
            self.quiet = None  # in-flight swaps now settle against another pool: documented

    # --- invariants -----------------------------------------------------------------------------

    @invariant()
    def busy_periods_never_lower_share_value(self) -> None:
        if self.open_swaps:
            return
        if self.quiet is not None:
            assert P.share_value_not_lower(self.quiet, self.pool), (self.quiet, self.pool)
        self.quiet = self.pool

    @invariant()
    def conserved(self) -> None:
        people = len(self.b.wallet_etm)
        assert (
            sum(self.b.wallet_etm.values()) + self.pool.etm_reserve + self.pool.etm_pending_in
            == START * people
        )
        assert (
            sum(self.b.wallet_asset.values()) + self.pool.asset_reserve + self.pool.asset_pending_in
            == START * people
        )

    @invariant()
    def reserve_identity(self) -> None:
        assert self.pool.asset_reserve == self.b.asset.expected_reserve()
        assert self.pool.etm_reserve == self.b.etm.expected_reserve()
        assert self.pool.fees_asset == self.b.asset.fees
        assert self.pool.fees_etm == self.b.etm.fees

    @invariant()
    def reserved_within_reserves(self) -> None:
        assert 0 <= self.pool.asset_reserved <= self.pool.asset_reserve
        assert 0 <= self.pool.etm_reserved <= self.pool.etm_reserve
        if self.open_swaps == 0:
            assert self.pool.asset_reserved == self.pool.etm_reserved == 0
            assert self.pool.asset_pending_in == self.pool.etm_pending_in == 0

    @invariant()
    def shares_add_up(self) -> None:
        held = sum(self.b.shares.values())
        locked = P.MINIMUM_LIQUIDITY if self.pool.total_shares else 0
        assert held + locked == self.pool.total_shares
        assert all(v >= 0 for v in self.b.shares.values())


# EXCHANGE_STATEFUL_EXAMPLES=1000 pytest ... --hypothesis-seed=N: the long run of the audit
PoolMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("EXCHANGE_STATEFUL_EXAMPLES", "150")),
    stateful_step_count=40,
    deadline=None,
)
TestPoolMachine = PoolMachine.TestCase
