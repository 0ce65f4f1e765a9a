"""Hypothesis state machine over the exchange's ETM transaction types on a real chain State.

Investors deposit and withdraw, users swap both ways, HTLCs are claimed or refunded (or
attempted twice), the height moves on. After every step:

- total ETM supply is conserved, and the exchange escrow holds exactly the pool's ETM reserve
  plus the ETM of locked user-funded HTLCs;
- the pool's reserves equal deposits + fees + swaps in - swaps out - withdrawals (model books);
- reserved <= reserve, and the reservations are exactly those of the swaps whose HTLC is still
  locked (every reservation is released exactly once: on claim or on refund);
- a rejected transaction changes nothing;
- no investor takes another's value: an accepted deposit or withdrawal never lowers a share's
  backing on either side (reserve / total shares), whatever swaps are in flight;
- a hashlock serves one HTLC ever (issue 11): reusing any swap's hashlock, open or ended, is
  refused (``hashlock_used``), and the registry names each HTLC under its hashlock;
- the read indexes equal what a scan of the records gives: the swap log lists every pool swap
  in the order opened, the open set exactly the locked ones; no withdrawal leaves an obligation
  below the pool's minimum (no dust, issue 11).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from exchange_harness import Ledger
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from test_txtypes import PREIMAGE, bind, btc_key, foreign_lock

from etm_bridge.errors import ExchangeError, TxRejectedError
from etm_bridge.exchange import hashlocks as hk
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans, swap_plans
from etm_bridge.exchange import records as rc
from etm_bridge.exchange import swap_rules as sr
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.htlc import HtlcStatus
from etm_bridge.exchange.obligations import VerifiedDeposit, withdrawal_floor
from etm_bridge.exchange.pool import Pool, PoolDirection
from etm_bridge.exchange.reasons import Reason
from etm_bridge.hashlock import hashlock_of

LPS = ("operator", "bob")
REJECTED = (TxRejectedError, ExchangeError)


@dataclass
class Side:
    deposits: int = 0
    fees: int = 0
    swaps_in: int = 0
    swaps_out: int = 0
    withdrawals: int = 0

    def reserve(self) -> int:
        return self.deposits + self.fees + self.swaps_in - self.swaps_out - self.withdrawals


class ExchangeMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.led = Ledger()
        self.led.send(
            "operator", tt.POOL_CREATE, pl.PoolCreate("btc", btc_key("operator"), 5_000, 50, 1)
        )
        for who in ("operator", "alice", "bob"):
            bind(self.led, who)
        self.asset, self.etm = Side(), Side()
        self.htlcs: list[bytes] = []
        self.secrets: dict[bytes, bytes] = {}
        self.counter = 0
        self.deposit("operator", 10**8, 10**13)  # a seeded pool, so most swaps can be priced

    def _fresh(self, tag: bytes) -> bytes:
        self.counter += 1
        return tag + self.counter.to_bytes(4, "big")

    def _attempt(self, run) -> bool:  # type: ignore[no-untyped-def]
        before = self.led.state.changes()
        try:
            run()
        except REJECTED:
            assert self.led.state.changes() == before  # rejected: nothing written
            return False
        return True

    @staticmethod
    def _backing_kept(before: Pool, after: Pool) -> None:
        s_before, s_after = before.total_shares, after.total_shares
        if s_before:
            assert after.asset_reserve * s_before >= before.asset_reserve * s_after
            assert after.etm_reserve * s_before >= before.etm_reserve * s_after

    # --- rules ----------------------------------------------------------------------------------

    @rule(who=st.sampled_from(LPS), btc=st.integers(10**3, 10**8), etm=st.integers(10**6, 10**13))
    def deposit(self, who: str, btc: int, etm: int) -> None:
        pool, bal = self.led.pool(), self.led.balance(who)
        payload = pl.LpDeposit("btc", etm, 1, b"p")
        record = VerifiedDeposit(self._fresh(b"dep"), "btc", btc, self.led.address(who))
        if self._attempt(
            lambda: self.led.send_verified(
                who, tt.LP_DEPOSIT, payload, plans.plan_lp_deposit, record
            )
        ):
            self.asset.deposits += self.led.pool().asset_reserve - pool.asset_reserve
            self._backing_kept(pool, self.led.pool())
            self.etm.deposits += bal - self.led.balance(who)

    @rule(who=st.sampled_from(LPS), part=st.integers(1, 100))
    def withdraw(self, who: str, part: int) -> None:
        owned = self.led.shares(who)
        if not owned:
            return
        pool, bal = self.led.pool(), self.led.balance(who)
        shares = max(1, owned * part // 100)
        if self._attempt(lambda: self.led.send(who, tt.LP_WITHDRAW, pl.LpWithdraw("btc", shares))):
            self.asset.withdrawals += pool.asset_reserve - self.led.pool().asset_reserve
            self.etm.withdrawals += self.led.balance(who) - bal
            self._backing_kept(pool, self.led.pool())

    @rule(amount=st.integers(1, 10**7), late=st.sampled_from([False, False, False, True]))
    def swap_in(self, amount: int, late: bool) -> None:
        lock_id = self._fresh(b"lock")
        h = hashlock_of(lock_id.rjust(32, b"\x00"))
        lock = foreign_lock(
            self.led,
            lock_id=lock_id,
            amount=amount,
            hashlock=h,
            tip_height=1_060 if late else 1_000,
        )
        payload = pl.SwapIn("btc", self.led.address("alice"), amount, h, 0, b"p")
        if self._attempt(
            lambda: self.led.send_verified(
                "alice", tt.SWAP_IN, payload, swap_plans.plan_swap_in, lock
            )
        ):
            htlc_id = swap_plans.swap_in_htlc_id("btc", lock_id)
            self.htlcs.append(htlc_id)
            self.secrets[htlc_id] = lock_id.rjust(32, b"\x00")

    @rule(amount=st.integers(1, 10**12))
    def swap_out(self, amount: int) -> None:
        secret = self._fresh(b"out").rjust(32, b"\x00")
        expiry = self.led.height + sr.LONG_LEG_S // self.led.params.block_time_s
        payload = pl.SwapOut("btc", amount, hashlock_of(secret), expiry, 0)
        sent: list[bytes] = []
        if self._attempt(lambda: sent.append(self.led.send("alice", tt.SWAP_OUT, payload).id)):
            self.htlcs.append(sent[0])
            self.secrets[sent[0]] = secret

    @rule(index=st.integers(0, 50), wrong=st.booleans())
    def claim(self, index: int, wrong: bool) -> None:
        if not self.htlcs:
            return
        htlc_id = self.htlcs[index % len(self.htlcs)]
        htlc, swap = self.led.htlc(htlc_id), plans.get_swap(self.led.state, htlc_id)
        preimage = PREIMAGE if wrong else self.secrets[htlc_id]
        if self._attempt(
            lambda: self.led.send("carol", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, preimage))
        ):
            assert htlc.status is HtlcStatus.LOCKED and swap is not None
            side_in, side_out = (
                (self.asset, self.etm)
                if swap.direction is PoolDirection.ASSET_TO_ETM
                else (self.etm, self.asset)
            )
            side_in.fees += swap.fee
            side_in.swaps_in += swap.amount_in - swap.fee
            side_out.swaps_out += swap.amount_out

    @rule(index=st.integers(0, 50))
    def refund(self, index: int) -> None:
        if self.htlcs:
            htlc_id = self.htlcs[index % len(self.htlcs)]
            self._attempt(lambda: self.led.send("carol", tt.HTLC_REFUND, pl.HtlcRefund(htlc_id)))

    @rule(index=st.integers(0, 50), kind=st.sampled_from(["in", "out"]))
    def reuse_a_hashlock(self, index: int, kind: str) -> None:
        """The pool drain of issue 11: a new swap with an earlier swap's hashlock."""
        if not self.htlcs:
            return
        h = self.led.htlc(self.htlcs[index % len(self.htlcs)]).hashlock
        if kind == "in":
            lock = foreign_lock(self.led, lock_id=self._fresh(b"reuse"), amount=10**5, hashlock=h)
            payload = pl.SwapIn("btc", self.led.address("alice"), 10**5, h, 0, b"p")

            def run() -> object:
                return self.led.send_verified(
                    "alice", tt.SWAP_IN, payload, swap_plans.plan_swap_in, lock
                )
        else:
            expiry = self.led.height + sr.LONG_LEG_S // self.led.params.block_time_s

            def run() -> object:
                return self.led.send("alice", tt.SWAP_OUT, pl.SwapOut("btc", 10**9, h, expiry, 0))

        try:
            run()
        except REJECTED as exc:
            assert exc.reason == Reason.HASHLOCK_USED, exc
        else:
            raise AssertionError(f"a used hashlock {h.hex()} opened a second swap")

    @rule(blocks=st.sampled_from([1, 100, 2_000, 5_000]))
    def advance(self, blocks: int) -> None:
        self.led.height += blocks

    # --- invariants -----------------------------------------------------------------------------

    @invariant()
    def money(self) -> None:
        self.led.check_money()

    @invariant()
    def reserves_match_the_books(self) -> None:
        pool = self.led.pool()
        assert pool.asset_reserve == self.asset.reserve()
        assert pool.etm_reserve == self.etm.reserve()
        assert (pool.fees_asset, pool.fees_etm) == (self.asset.fees, self.etm.fees)

    @invariant()
    def reservations_are_the_open_swaps(self) -> None:
        pool = self.led.pool()
        reserved = {PoolDirection.ASSET_TO_ETM: 0, PoolDirection.ETM_TO_ASSET: 0}
        pending = dict(reserved)
        for htlc_id in self.htlcs:
            if self.led.htlc(htlc_id).status is HtlcStatus.LOCKED:
                swap = plans.get_swap(self.led.state, htlc_id)
                assert swap is not None
                reserved[swap.direction] += swap.amount_out
                pending[swap.direction] += swap.amount_in
        assert pool.etm_reserved == reserved[PoolDirection.ASSET_TO_ETM] <= pool.etm_reserve
        assert pool.asset_reserved == reserved[PoolDirection.ETM_TO_ASSET] <= pool.asset_reserve
        assert pool.asset_pending_in == pending[PoolDirection.ASSET_TO_ETM]
        assert pool.etm_pending_in == pending[PoolDirection.ETM_TO_ASSET]

    @invariant()
    def hashlock_registry_and_indexes_match_the_records(self) -> None:
        state = self.led.state
        for htlc_id in self.htlcs:
            assert hk.htlc_of(state, self.led.htlc(htlc_id).hashlock) == htlc_id
        assert [v for _, v in state.scan(rc.SWAP_LOG, rc.asset_key("btc", b""))] == self.htlcs
        locked = {h for h in self.htlcs if self.led.htlc(h).status is HtlcStatus.LOCKED}
        opened = {k.split(b"\x00", 1)[1] for k, _ in state.scan(rc.OPEN_SWAPS)}
        assert opened == locked
        for key, _ in state.scan(rc.OBLIGATIONS):
            if key != b"next":
                ob = plans.get_obligation(state, int.from_bytes(key, "big"))
                assert ob.amount >= withdrawal_floor("btc"), ob


# EXCHANGE_STATEFUL_EXAMPLES=1000 pytest ... --hypothesis-seed=N: the long run of the audit
ExchangeMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("EXCHANGE_STATEFUL_EXAMPLES", "60")),
    stateful_step_count=30,
    deadline=None,
)
TestExchangeMachine = ExchangeMachine.TestCase
