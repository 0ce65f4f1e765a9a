"""Swap-outs of a committee pool (design-14 sections 2.3, 4.1 kind 1, 4.5 rows 209/204, 4.7 rules
1 and 3): tx 209 opens the ``counter_lock`` mandate over the active vault's outputs (quote net of
the outbound fee, the real fee charged to the pool), tx 302 proves it (``in_htlc``), the claim
of the swap's ETM HTLC (204) clears it; the books balance after every step. The chain is
Bitcoin's real ``CustodySpec`` (scripts, plans, digests, txids); the relay tip and the SPV part
of the outcome proof are the test's (the real ones run on a node in
tests/integration/custody/test_btc_swap_out_vault.py). Attacks of the brief performed here: a
swap-out larger than the vault, payee key substitution, a 302 of a lock paying another key, an
ETM claim before the Bitcoin claim."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from test_lp_custody import KEYS, PAYEE, SECRETS, SECTION, TEST_SPEC, World, ctx

from etm_bridge.chain.params import ETM_EPOCH_UNIX
from etm_bridge.chain.state import StateView
from etm_bridge.chains.bitcoin.custody import build, scripts
from etm_bridge.custody import records as cr
from etm_bridge.custody import swap_out
from etm_bridge.custody.params import CustodyParams
from etm_bridge.custody.port import ChainCustody
from etm_bridge.errors import CustodyError, ExchangeError, TxRejectedError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import records as xr
from etm_bridge.exchange import swap_plans
from etm_bridge.exchange.binding import Binding
from etm_bridge.exchange.plans import TxPlan
from etm_bridge.exchange.pool import Pool

pytestmark = pytest.mark.unit

TIP = 500
TIP_TIME = ETM_EPOCH_UNIX + 1_000  # 10 s before the test blocks (ctx: 1_000 + height)
SPEC = replace(TEST_SPEC, extra={**TEST_SPEC.extra, "relay_tip": lambda view: (TIP, TIP_TIME)})
PORT = ChainCustody(lambda: {"btc": SPEC})
USER = bytes([0x42]) * 20
PREIMAGE = bytes([0x99]) * 32
HASHLOCK = __import__("hashlib").sha256(PREIMAGE).digest()
DEPOSIT = 200_000
ETM = 10**10


class _Tx:
    def __init__(self, tx_id: bytes, sender: bytes = USER) -> None:
        self.id, self.sender = tx_id, sender


class Swaps(World):
    """The lp test's world with a liquid pool and a user bound to ``PAYEE``."""

    def __init__(self, swap_outs_on: bool = True) -> None:
        super().__init__()
        if swap_outs_on:  # off by default until counter refunds exist (docs/custody.md 3)
            section = {**SECTION, "unsafe_test_behaviours": True}
            self.s.put_json(cr.PARAMS, b"params", CustodyParams.from_json(section).to_json())
        self.seat(0, range(4))

    def fund(self, *amounts: int) -> None:
        for a in amounts:
            self.deposit(a, self.vault(0))
        pool = replace(self.pool, asset_reserve=self.reserve, etm_reserve=ETM, total_shares=10**6)
        self.s.put_json(xr.POOLS, b"btc", xr.encode(pool))
        binding = Binding("etm1user", "btc", PAYEE, 1, 1)
        self.s.put_json(xr.BINDINGS, USER + b"btc", xr.encode(binding))

    def apply(self, plan: TxPlan) -> None:
        for (table, key), value in plan.writes.items():
            if isinstance(value, dict):
                self.s.put_json(table, key, value)
            else:
                self.s.put(table, key, value)
        self.reserve = self.get_pool().asset_reserve

    def get_pool(self) -> Pool:
        return xr.decode(Pool, self.s.get_json(xr.POOLS, b"btc"))

    def swap_out(
        self, tx_id: bytes, amount_in: int, height: int = 10, hashlock: bytes = HASHLOCK
    ) -> Any:
        p = pl.SwapOut("btc", amount_in, hashlock, height + 8_000, 0)
        plan = swap_plans.plan_swap_out(self.s, _Tx(tx_id), p, ctx(height), PORT)  # type: ignore[arg-type]
        self.apply(plan)
        return self.s

    def claim_etm(self, tx_id: bytes, height: int = 12) -> None:
        p = pl.HtlcClaim(tx_id, PREIMAGE)
        plan = swap_plans.plan_htlc_claim(self.s, _Tx(b"c" * 32), p, ctx(height), None, PORT)  # type: ignore[arg-type]
        self.apply(plan)

    def account(self) -> cr.CustodyAccount:
        raw = self.s.get_json(cr.ACCOUNTS, b"btc")
        return cr.CustodyAccount() if raw is None else cr.decode(cr.CustodyAccount, raw)

    def mandate(self, tx_id: bytes) -> cr.Mandate:
        from etm_bridge.custody import mandate_store

        m = mandate_store.get_mandate(self.s, swap_out.counter_lock_id("btc", tx_id))
        assert m is not None
        return m


def quote_fee(view: StateView) -> int:
    return PORT.quote_fee(view, "btc")


def test_a_swap_out_opens_a_counter_lock_to_the_users_bound_key_and_the_books_balance() -> None:
    w = Swaps()
    w.fund(DEPOSIT)
    sid = b"s" * 32
    w.swap_out(sid, 10**8)
    swap = xr.decode(xr.PoolSwap, w.s.get_json(xr.SWAPS, sid))
    m = w.mandate(sid)
    assert quote_fee(w.s) == m.revisions[0].fee == 628 > 2 * 250  # a one-input lock's real fee
    gross = DEPOSIT * (10**8 - 10**8 * 3000 // 10**6) // (ETM + 10**8 - 10**8 * 3000 // 10**6)
    assert swap.amount_out == gross - 628  # the quote the user signed for is net of the fee
    m = w.mandate(sid)
    assert m.status is cr.MandateStatus.OPEN and m.kind is cr.MandateKind.COUNTER_LOCK
    assert (int(m.terms["amount"]), m.terms["claim_key"]) == (swap.amount_out, PAYEE.hex())
    htlc = xr.decode(swap_plans.htlc_rules.Htlc, w.s.get_json(xr.HTLCS, sid))
    window = htlc.deadline_s - 1_010 - 6 * 3600 - 3600
    assert m.terms["timelock"] == TIP + window * 4 // (5 * 600)  # blocks counted 25% slow
    assert m.sign_until_s == min(1_010 + 3600, htlc.deadline_s - 12 * 3600)
    plan = build.decode_plan(m.revisions[0].spend)
    policy = scripts.KeyPolicy(3, tuple(sorted(KEYS[:4])))
    lock = scripts.CounterHtlc(HASHLOCK, PAYEE, policy, int(m.terms["timelock"]))
    assert plan.outputs[0] == build.PlannedOutput(scripts.p2wsh(lock.script), swap.amount_out)
    assert plan.outputs[2].script_pubkey == w.vault(0) and len(plan.outputs) == 3
    fee = m.revisions[0].fee
    assert (w.account().pending_fees, w.get_pool().asset_reserve) == (fee, DEPOSIT - fee)
    assert w.books_balance()[0] == w.books_balance()[1]
    w.prove(m.id, m.revisions[0].spend)
    assert (w.account().in_htlc, w.account().pending_fees) == (swap.amount_out, 0)
    held, owed = w.books_balance()
    assert held == owed and held - w.account().in_htlc == DEPOSIT - swap.amount_out - fee
    w.claim_etm(sid)
    assert w.account().in_htlc == 0
    assert w.get_pool().asset_reserve == DEPOSIT - fee - swap.amount_out
    held, owed = w.books_balance()
    assert held == owed == DEPOSIT - swap.amount_out - fee
    lock_rec = cr.decode(
        cr.CustodyHtlc, w.s.get_json(cr.HTLCS, cr.ticker_key("btc", m.revisions[0].txid + bytes(4)))
    )  # type: ignore[operator]
    assert (lock_rec.status, lock_rec.role, lock_rec.amount) == ("claimed", cr.HtlcRole.COUNTER,
                                                                 swap.amount_out)  # fmt: skip


def test_an_etm_claim_before_the_lock_is_proven_keeps_the_books_exact() -> None:
    """The user claims the ETM HTLC first (the preimage is theirs): the pool got its ETM; the
    later proof of the lock does not count it in ``in_htlc``."""
    w = Swaps()
    w.fund(DEPOSIT)
    sid = b"t" * 32
    w.swap_out(sid, 10**8)
    m = w.mandate(sid)
    w.claim_etm(sid)
    assert w.account().in_htlc == 0
    held, owed = w.books_balance()
    assert held - owed == int(m.terms["amount"])  # a surplus until the lock's spend is proven
    w.prove(m.id, m.revisions[0].spend)
    assert w.account() == cr.CustodyAccount()
    assert w.books_balance()[0] == w.books_balance()[1]


def test_swap_outs_from_a_committee_pool_are_off_by_default() -> None:
    """x7e's open theft: a user who waits out the ETM deadline refunds the ETM and claims the
    proven counter lock later (nothing refunds it to the vault after T yet). Until counter
    refunds and the ETM-claim duty exist, a custody genesis refuses committee swap-outs (only
    a test genesis with ``unsafe_test_behaviours`` opens them); nothing is reserved."""
    w = Swaps(swap_outs_on=False)
    w.fund(DEPOSIT)
    with pytest.raises(ExchangeError) as err:
        w.swap_out(b"a" * 32, 10**8)
    assert err.value.reason == "custody_pool" and "swap-outs" in str(err.value)
    assert w.s.get_json(cr.MANDATES, swap_out.counter_lock_id("btc", b"a" * 32)) is None
    assert w.get_pool().asset_reserve == DEPOSIT


def test_a_swap_out_larger_than_the_vaults_free_outputs_is_refused() -> None:
    w = Swaps()
    w.fund(DEPOSIT)
    w.swap_out(b"a" * 32, 10**8)  # reserves the vault's only output
    with pytest.raises(ExchangeError) as err:
        w.swap_out(b"b" * 32, 10**8, hashlock=bytes(32))
    assert err.value.reason == "insufficient_liquidity" and "\n" not in str(err.value)
    assert w.s.get_json(cr.MANDATES, swap_out.counter_lock_id("btc", b"b" * 32)) is None


def test_a_swap_out_of_nearly_the_whole_vault_cannot_pay_its_fee_and_is_refused() -> None:
    w = Swaps()
    w.fund(DEPOSIT // 2, DEPOSIT // 2)  # one output would pay it: the quote keeps its real fee
    with pytest.raises(ExchangeError) as err:
        w.swap_out(b"d" * 32, 10**4 * ETM)  # the AMM pays 199_980 of the 200_000, two inputs
    assert err.value.reason == "insufficient_liquidity"


def test_the_lock_pays_the_key_bound_at_swap_time_and_a_lock_to_another_key_proves_nothing() -> (
    None
):
    w = Swaps()
    w.fund(DEPOSIT)
    sid = b"k" * 32
    w.swap_out(sid, 10**8)
    # the user rebinds afterwards: the mandate keeps the swap's key
    w.s.put_json(xr.BINDINGS, USER + b"btc", xr.encode(Binding("etm1user", "btc", KEYS[5], 2, 11)))
    m = w.mandate(sid)
    assert m.terms["claim_key"] == PAYEE.hex()
    # members build the same lock to another key: another txid, not this mandate's spend
    plan = build.decode_plan(m.revisions[0].spend)
    evil = scripts.CounterHtlc(HASHLOCK, KEYS[5], scripts.KeyPolicy(3, tuple(sorted(KEYS[:4]))),
                               int(m.terms["timelock"]))  # fmt: skip
    marker = build.PlannedOutput(scripts.MarkerV2.of(evil).script_pubkey(), 0)
    to_evil = build.PlannedOutput(scripts.p2wsh(evil.script), plan.outputs[0].amount)
    outs = (to_evil, marker, *plan.outputs[2:])
    forged = replace(plan, outputs=outs)
    assert build.txid(forged) != m.revisions[0].txid
    with pytest.raises(TxRejectedError) as err:
        w.prove(m.id, build.encode_plan(forged))
    assert err.value.reason == "outcome_mismatch"
    assert w.account().in_htlc == 0 and w.mandate(sid).status is cr.MandateStatus.OPEN
    assert SECRETS  # the members' keys are the lp world's


def test_a_swap_out_below_the_output_dust_after_the_fee_is_refused() -> None:
    w = Swaps()
    w.fund(DEPOSIT)
    with pytest.raises(ExchangeError) as err:
        w.swap_out(b"e" * 32, 3 * 10**7)  # ~600 gross, less than the 628 fee estimate
    assert err.value.reason == "zero_output"


def refund_etm(w: Swaps, sid: bytes) -> None:
    p = pl.HtlcRefund(sid)
    plan = swap_plans.plan_htlc_refund(w.s, _Tx(b"r" * 32), p, ctx(8_100), PORT)  # type: ignore[arg-type]
    w.apply(plan)


def balanced(w: Swaps) -> bool:
    w.reserve = w.get_pool().asset_reserve  # a 302 may move it (fees charged or released)
    assets, liabilities = w.books_balance()
    return assets == liabilities


def test_an_etm_refund_cancels_the_unproven_lock_and_the_cancel_brings_the_inputs_back() -> None:
    w = Swaps()
    w.fund(DEPOSIT)
    sid = b"x" * 32
    w.swap_out(sid, 10**8)
    lock = w.mandate(sid)
    refund_etm(w, sid)
    lock = w.mandate(sid)
    cancel_id = swap_out.cancel_id(lock)
    from etm_bridge.custody import mandate_store

    cancel = mandate_store.get_mandate(w.s, cancel_id)
    assert lock.status is cr.MandateStatus.CANCELLED and cancel is not None
    want = (cr.MandateKind.CANCEL, cr.MandateStatus.OPEN, lock.id)
    assert (cancel.kind, cancel.status, cancel.source) == want
    plan = build.decode_plan(cancel.revisions[0].spend)
    old = build.decode_plan(lock.revisions[0].spend)
    assert [i.outpoint for i in plan.inputs] == [i.outpoint for i in old.inputs]  # races it
    assert [o.script_pubkey for o in plan.outputs] == [w.vault(0)]
    f2 = cancel.revisions[0].fee
    assert f2 > lock.revisions[0].fee and cancel.revisions[0].fee_rate == 2 * 2
    assert w.account().pending_fees == f2 and w.get_pool().asset_reserve == DEPOSIT - f2
    assert w.get_pool().asset_reserved == 0 and balanced(w)
    w.prove(cancel_id, cancel.revisions[0].spend)
    assert w.account() == cr.CustodyAccount() and balanced(w)
    assert w.books_balance()[0] == DEPOSIT - f2
    # the lock can no longer be proven: its inputs are spent by the cancel
    with pytest.raises(TxRejectedError):
        w.prove(lock.id, lock.revisions[0].spend)


def test_a_cancelled_lock_that_confirms_first_voids_its_cancel_and_the_books_stay_exact() -> None:
    """A lock signed before the ETM refund (205) confirms instead of its cancel: the cancel is
    void, the lock's amount is in ``in_htlc`` (the committee refunds it after the timelock, or
    the user's claim of both legs is a loss solvency will show)."""
    w = Swaps()
    w.fund(DEPOSIT)
    sid = b"y" * 32
    w.swap_out(sid, 10**8)
    refund_etm(w, sid)
    lock = w.mandate(sid)
    from etm_bridge.custody import mandate_store

    w.prove(lock.id, lock.revisions[0].spend)
    cancel = mandate_store.get_mandate(w.s, swap_out.cancel_id(lock))
    assert cancel is not None and cancel.status is cr.MandateStatus.VOID
    amount, fee = int(lock.terms["amount"]), lock.revisions[0].fee
    assert w.mandate(sid).status is cr.MandateStatus.PROVEN
    assert (w.account().in_htlc, w.account().pending_fees) == (amount, 0)
    assert w.get_pool().asset_reserve == DEPOSIT - fee and balanced(w)
    with pytest.raises(TxRejectedError) as err:  # the cancel cannot be proven now
        w.prove(cancel.id, cancel.revisions[0].spend)
    assert err.value.reason == "bad_transition"


def test_an_etm_refund_after_the_lock_is_proven_creates_no_cancel() -> None:
    w = Swaps()
    w.fund(DEPOSIT)
    sid = b"z" * 32
    w.swap_out(sid, 10**8)
    lock = w.mandate(sid)
    w.prove(lock.id, lock.revisions[0].spend)
    refund_etm(w, sid)
    from etm_bridge.custody import mandate_store

    assert mandate_store.get_mandate(w.s, swap_out.cancel_id(lock)) is None
    assert w.account().in_htlc == int(lock.terms["amount"]) and balanced(w)


def test_an_etm_refund_goes_through_even_when_no_cancel_spend_can_be_built() -> None:
    """The user's refund must never fail: a cancel the chain cannot build (here its builder
    refuses) leaves the lock ``cancelled`` (never signed again) without a cancel mandate."""
    from etm_bridge.custody import mandate_store
    from etm_bridge.errors import CustodyError

    def no_cancel(req: Any, utxos: Any, cfg: Any) -> Any:
        if req.kind is cr.MandateKind.CANCEL:
            raise CustodyError("bad_parameter", "bitcoin cancel: dust")
        return SPEC.build(req, utxos, cfg)

    w = Swaps()
    w.fund(DEPOSIT)
    sid = b"w" * 32
    w.swap_out(sid, 10**8)
    port = ChainCustody(lambda: {"btc": replace(SPEC, build=no_cancel)})
    plan = swap_plans.plan_htlc_refund(w.s, _Tx(b"r" * 32), pl.HtlcRefund(sid), ctx(8_100), port)  # type: ignore[arg-type]
    w.apply(plan)
    lock = w.mandate(sid)
    assert lock.status is cr.MandateStatus.CANCELLED
    assert mandate_store.get_mandate(w.s, swap_out.cancel_id(lock)) is None
    htlc = xr.decode(swap_plans.htlc_rules.Htlc, w.s.get_json(xr.HTLCS, sid))
    assert htlc.status is swap_plans.htlc_rules.HtlcStatus.REFUNDED and balanced(w)


def test_a_swap_out_counted_from_a_stale_relay_tip_is_refused() -> None:
    """A tip so old that the lock's timelock would leave the user under an hour to claim after
    the signing window: ``stale_relay`` (the user would lock ETM for a lock they cannot use)."""
    w = Swaps()
    w.fund(DEPOSIT)
    old = replace(SPEC, extra={**SPEC.extra, "relay_tip": lambda view: (TIP, TIP_TIME - 50_000)})
    p = pl.SwapOut("btc", 10**8, HASHLOCK, 10 + 8_000, 0)
    port = ChainCustody(lambda: {"btc": old})
    with pytest.raises(ExchangeError) as err:
        swap_plans.plan_swap_out(w.s, _Tx(b"o" * 32), p, ctx(10), port)  # type: ignore[arg-type]
    assert err.value.reason == "stale_relay" and "\n" not in str(err.value)
    fresh = replace(SPEC, extra={**SPEC.extra, "relay_tip": lambda view: (TIP, TIP_TIME - 35_000)})
    port = ChainCustody(lambda: {"btc": fresh})  # older, but still leaves the user time
    w.apply(swap_plans.plan_swap_out(w.s, _Tx(b"o" * 32), p, ctx(10), port))  # type: ignore[arg-type]
    window = 80_000 - 10 - 21_600 - 3_600
    assert w.mandate(b"o" * 32).terms["timelock"] == TIP + window * 4 // 3_000


def test_a_small_swap_out_takes_the_smallest_output_that_pays_it_not_the_largest() -> None:
    """A griefer's tiny swap-out must not reserve the vault's largest output (every other
    swap-out would be refused until its lock is proven)."""
    w = Swaps()
    w.fund(150_000, 20_000, 60_000)
    w.swap_out(b"g" * 32, 2 * 10**9)  # ~ 38k out: the 60k output pays it with change
    m = w.mandate(b"g" * 32)
    (only,) = build.decode_plan(m.revisions[0].spend).inputs
    assert only.amount == 60_000
    w.swap_out(b"h" * 32, 3 * 10**9, hashlock=bytes(32))  # ~ 40k: the 150k output is free
    (big,) = build.decode_plan(w.mandate(b"h" * 32).revisions[0].spend).inputs
    assert big.amount == 150_000 and balanced(w)


def test_a_refund_without_a_cancel_releases_the_locks_fee_and_a_late_lock_pays_it_once() -> None:
    """Attack (x7e): the cancel cannot be built (its doubled fee leaves dust), so 205 only marks
    the lock ``cancelled``. Its fee must go back to the pool (no spend is pending), and if the
    lock, signed before the refund, confirms after all, the pool pays its fee once, not twice
    (before: the fee stayed in ``pending_fees`` forever and the late 302 charged it again)."""

    def no_cancel(req: Any, utxos: Any, cfg: Any) -> Any:
        if req.kind is cr.MandateKind.CANCEL:
            raise CustodyError("bad_parameter", "bitcoin cancel: dust")
        return SPEC.build(req, utxos, cfg)

    w = Swaps()
    w.fund(DEPOSIT)
    sid = b"v" * 32
    w.swap_out(sid, 10**8)
    lock = w.mandate(sid)
    amount, fee = int(lock.terms["amount"]), lock.revisions[0].fee
    port = ChainCustody(lambda: {"btc": replace(SPEC, build=no_cancel)})
    plan = swap_plans.plan_htlc_refund(w.s, _Tx(b"r" * 32), pl.HtlcRefund(sid), ctx(8_100), port)  # type: ignore[arg-type]
    w.apply(plan)
    assert w.mandate(sid).status is cr.MandateStatus.CANCELLED
    assert w.account().pending_fees == 0 and w.get_pool().asset_reserve == DEPOSIT
    assert balanced(w)
    w.prove(lock.id, lock.revisions[0].spend)  # the lock signed before the refund confirms
    assert (w.account().in_htlc, w.account().pending_fees) == (amount, 0)
    assert w.get_pool().asset_reserve == DEPOSIT - fee and balanced(w)


def test_a_long_swap_out_leg_reaches_its_timelock_before_the_etm_deadline_if_blocks_slow() -> None:
    """Attack (x7e): a user swaps out with the longest ETM leg (48 h) and waits. T counted at
    a flat 600 s a block puts ~241 blocks between the tip and T: Poisson variance alone makes
    them last past the ETM deadline about 1% of the time, a sustained 20% slowdown (hashrate
    leaving before a retarget) every time. Then the user refunds the ETM leg (205: the lock is
    proven, nothing is cancelled) and still claims the lock before T, when the committee cannot
    refund it yet: both legs. T must be reached, with blocks 20% slower than nominal, a signing
    window before the ETM deadline (time for the committee's counter refund)."""
    w = Swaps()
    w.fund(DEPOSIT)
    sid = b"l" * 32
    p = pl.SwapOut("btc", 10**8, HASHLOCK, 10 + 17_000, 0)
    w.apply(swap_plans.plan_swap_out(w.s, _Tx(sid), p, ctx(10), PORT))  # type: ignore[arg-type]
    htlc = xr.decode(swap_plans.htlc_rules.Htlc, w.s.get_json(xr.HTLCS, sid))
    t = int(w.mandate(sid).terms["timelock"])
    reached = TIP_TIME + (t - TIP) * 720  # unix time of block T at 720 s a block
    assert reached + 3600 <= ETM_EPOCH_UNIX + htlc.deadline_s
    # and the user, at the nominal 600 s, still has hours to claim after the signing window
    assert TIP_TIME + (t - TIP) * 600 - (ETM_EPOCH_UNIX + 1_010 + 3600) >= 3600


def test_a_refund_whose_doubled_cancel_cannot_be_built_still_frees_the_locks_inputs() -> None:
    """Attack (x7e): a griefer swaps out a lock just above the dust (it takes the smallest output
    that pays it) and refunds the ETM leg; the cancel at twice the fee rate leaves dust, so the
    lock was only ``cancelled`` and its input stayed reserved by it forever: vault money no
    mandate could ever spend, one output per free ETM round trip. A cancel at the lock's own
    rate (a fee no larger than the lock's: nothing more to charge) brings the input back."""
    from etm_bridge.custody import mandate_store

    def no_double(req: Any, utxos: Any, cfg: Any) -> Any:
        if req.kind is cr.MandateKind.CANCEL and req.fee_rate > 2:
            raise CustodyError("bad_parameter", "bitcoin cancel: dust")
        return SPEC.build(req, utxos, cfg)

    w = Swaps()
    w.fund(DEPOSIT)
    sid = b"g" * 32
    w.swap_out(sid, 10**8)
    lock = w.mandate(sid)
    port = ChainCustody(lambda: {"btc": replace(SPEC, build=no_double)})
    plan = swap_plans.plan_htlc_refund(w.s, _Tx(b"r" * 32), pl.HtlcRefund(sid), ctx(8_100), port)  # type: ignore[arg-type]
    w.apply(plan)
    cancel = mandate_store.get_mandate(w.s, swap_out.cancel_id(lock))
    assert cancel is not None and cancel.revisions[0].fee_rate == 2
    assert cancel.revisions[0].fee <= lock.revisions[0].fee and balanced(w)
    w.prove(cancel.id, cancel.revisions[0].spend)
    assert w.account() == cr.CustodyAccount() and balanced(w)
    free = [u for u in mandate_store.epoch_utxos(w.s, "btc", 0)
            if u.status is cr.UtxoStatus.UNSPENT]  # fmt: skip
    assert sum(u.amount for u in free) == DEPOSIT - cancel.revisions[0].fee


@pytest.mark.xfail(strict=True, reason="no counter refund (kind 4) after T exists yet (docs 2.12)")
def test_a_user_who_waits_out_the_etm_deadline_cannot_keep_both_legs() -> None:
    """Attack (x7e), the thief's plain path today: the lock confirms and is proven; the user
    does not claim it, lets the ETM deadline pass and refunds the ETM leg (205: a proven lock
    creates nothing), then claims the lock on Bitcoin at leisure: its claim path has no time
    limit, and nothing lets the committee take it back after T (design-14 kind 4,
    ``counter_refund``, is not built; no signer duty refunds). Both legs, on every swap-out."""
    w = Swaps()
    w.fund(DEPOSIT)
    sid = b"t" * 32
    w.swap_out(sid, 10**8)
    lock = w.mandate(sid)
    w.prove(lock.id, lock.revisions[0].spend)
    refund_etm(w, sid)
    htlc = xr.decode(swap_plans.htlc_rules.Htlc, w.s.get_json(xr.HTLCS, sid))
    assert htlc.status is swap_plans.htlc_rules.HtlcStatus.REFUNDED  # the ETM is back
    assert w.account().in_htlc == int(lock.terms["amount"])  # the lock is still the user's
    from etm_bridge.custody import mandate_store

    every = [mandate_store.get_mandate(w.s, key) for key, _ in w.s.scan(cr.MANDATES, b"")]
    refunds = [m for m in every if m is not None and m.kind is cr.MandateKind.COUNTER_REFUND]
    assert refunds, "nothing can refund the counter lock after T"


def test_the_swap_out_quote_covers_the_fee_of_a_one_input_lock() -> None:
    """Attack (x7e), an LP drain: the quote keeps ``fee_rate * outbound_vbytes`` (500 sat) in
    the pool, but the counter lock it pays for (one 3-of-4 P2WSH input, the counter HTLC, the
    marker, change) costs more; the pool's reserve pays the difference on every swap-out,
    however many a user makes. The estimate must cover at least the cheapest real lock."""
    w = Swaps()
    w.fund(DEPOSIT)
    sid = b"q" * 32
    w.swap_out(sid, 10**8)
    lock = w.mandate(sid)
    assert len(build.decode_plan(lock.revisions[0].spend).inputs) == 1
    assert lock.revisions[0].fee <= quote_fee(w.s), (lock.revisions[0].fee, quote_fee(w.s))


def test_a_swap_out_whose_lock_could_never_be_signed_is_refused() -> None:
    """Attack (x7e): the exchange accepts an ETM leg of 12 h (``SHORT_LEG_S + MARGIN_S``), but a
    counter lock may only be signed until ``etm_deadline - 2 MARGIN_S``: at 12 h that is *now*.
    The mandate opened anyway, reserving vault outputs for the whole leg with a lock no member
    could sign (a free, repeatable liquidity lock-up; an honest user's swap dead on arrival).
    A leg leaving members less than 15 min to sign is ``leg_too_short``."""
    w = Swaps()
    w.fund(DEPOSIT)
    dead = pl.SwapOut("btc", 10**8, HASHLOCK, 10 + 4_320, 0)  # 43_200 s: the exchange's minimum
    with pytest.raises(ExchangeError) as err:
        swap_plans.plan_swap_out(w.s, _Tx(b"k" * 32), dead, ctx(10), PORT)  # type: ignore[arg-type]
    assert err.value.reason == "leg_too_short" and "\n" not in str(err.value)
    ok = pl.SwapOut("btc", 10**8, HASHLOCK, 10 + 4_500, 0)  # 12.5 h, the client's leg: 30 min
    w.apply(swap_plans.plan_swap_out(w.s, _Tx(b"k" * 32), ok, ctx(10), PORT))  # type: ignore[arg-type]
    assert w.mandate(b"k" * 32).sign_until_s == 1_010 + 1_800
