"""Issue 11, item 6: dust withdrawals must not halt a pool.

The attack: an investor withdraws a few shares whose asset part is 1 sat. The operator cannot
pay a 1-sat output (below Bitcoin's dust limit; its fee alone is thousands of sats) without
overpaying, and a missed obligation halts the whole pool. Now a withdrawal's asset part is 0 or
at least the pool's minimum (never below the chain's floor: dust plus the payment's fee), and
one payment may settle several obligations (so many investors cost the operator one
transaction). The Bitcoin batch form is proven through real SPV here (``MiniChain``).
"""

from __future__ import annotations

import pytest
from exchange_harness import Ledger
from test_exchange_btc_proofs import MiniChain, deposit_tx, op_return, tx_paying
from test_exchange_btc_proofs import world as btc_world  # noqa: F401 (a fixture)
from test_txtypes import BTC_LIQ, ETM_LIQ, bind, btc_key, deposit, rejected, seeded_ledger

from etm_bridge.chains.bitcoin.etm import verifier as bp
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.exchange import obligations as ob
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans, views
from etm_bridge.exchange import pool as pm
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.obligations import ObligationStatus, VerifiedPayment
from etm_bridge.exchange.reasons import Reason

FLOOR = ob.withdrawal_floor("btc")


def shares_paying(led: Ledger, sat: int) -> int:
    """The fewest shares whose withdrawal pays ``sat`` of the asset now."""
    pool = led.pool()
    return -(-sat * pool.total_shares // pool.asset_reserve)


def test_a_dust_withdrawal_is_refused_and_changes_nothing() -> None:
    led = seeded_ledger()
    shares = shares_paying(led, 1)
    assert pm.remove_liquidity(led.pool(), shares, led.shares("operator"))[1].asset_out == 1
    before = dict(led.state.changes())
    for dust in (shares, shares_paying(led, FLOOR - 1)):
        rejected(
            Reason.WITHDRAWAL_TOO_SMALL,
            lambda d=dust: led.send("operator", tt.LP_WITHDRAW, pl.LpWithdraw("btc", d)),
        )
        assert dict(led.state.changes()) == before  # no obligation, no shares burnt
    led.send("operator", tt.LP_WITHDRAW, pl.LpWithdraw("btc", shares_paying(led, FLOOR)))
    assert plans.get_obligation(led.state, 0).amount >= FLOOR
    led.check_money()


def test_a_withdrawal_paying_no_asset_needs_no_obligation() -> None:
    led = seeded_ledger()
    etm = led.balance("operator")
    led.send("operator", tt.LP_WITHDRAW, pl.LpWithdraw("btc", 1))  # 0 sat, a few ETM units
    assert led.balance("operator") > etm
    assert led.state.get("xchg_obligations", b"next") is None  # no obligation was made
    led.check_money()


@pytest.mark.parametrize(("asked", "least"), [(50_000, 50_000), (1, FLOOR), (0, FLOOR)])
def test_a_pool_may_ask_more_than_the_floor_but_never_less(asked: int, least: int) -> None:
    led = Ledger()
    create = pl.PoolCreate("btc", btc_key("operator"), 3_000, 100, 1, asked)
    led.send("operator", tt.POOL_CREATE, create)
    bind(led, "operator")
    deposit(led, "operator", b"dep-0", BTC_LIQ, ETM_LIQ)
    assert views.show_pool(led.state, "btc")["min_withdrawal"] == least
    below = pl.LpWithdraw("btc", shares_paying(led, least - 1))
    rejected(Reason.WITHDRAWAL_TOO_SMALL, lambda: led.send("operator", tt.LP_WITHDRAW, below))
    led.send("operator", tt.LP_WITHDRAW, pl.LpWithdraw("btc", shares_paying(led, least)))


def test_an_operators_high_minimum_never_keeps_an_investor_in_the_pool() -> None:
    """Review a11a: the pool's ``min_withdrawal`` is its operator's choice, up to a u128. With
    it above every position, no investor could take its asset out, ever: a trap for whoever
    deposited (their ETM part stays in the pool too). A partial withdrawal still needs the
    pool's minimum; a withdrawal of the whole position needs only the chain's floor."""
    led = Ledger()
    create = pl.PoolCreate("btc", btc_key("operator"), 3_000, 100, 1, 2**100)  # a trap
    led.send("operator", tt.POOL_CREATE, create)
    bind(led, "operator")
    deposit(led, "operator", b"dep-0", BTC_LIQ, ETM_LIQ)
    bind(led, "bob")
    deposit(led, "bob", b"dep-bob", 10**6, 10**12)  # 0.01 BTC
    owned = led.shares("bob")
    half = pl.LpWithdraw("btc", owned // 2)
    rejected(Reason.WITHDRAWAL_TOO_SMALL, lambda: led.send("bob", tt.LP_WITHDRAW, half))
    led.send("bob", tt.LP_WITHDRAW, pl.LpWithdraw("btc", owned))  # the whole position
    [paid_out] = [o for o in views.obligations(led.state) if o["investor"] == led.address("bob")]
    assert paid_out["amount"] >= FLOOR and led.shares("bob") == 0
    led.check_money()


def test_a_whole_position_below_the_floor_stays_refused() -> None:
    led = seeded_ledger()
    bind(led, "bob")
    deposit(led, "bob", b"dep-bob", FLOOR - 1, 10**12)
    whole = pl.LpWithdraw("btc", led.shares("bob"))
    rejected(Reason.WITHDRAWAL_TOO_SMALL, lambda: led.send("bob", tt.LP_WITHDRAW, whole))


def _two_obligations(led: Ledger) -> tuple[ob.Obligation, ob.Obligation]:
    bind(led, "bob")
    deposit(led, "bob", b"dep-bob", 10**7, 10**13)
    half = led.shares("bob") // 2
    led.send("bob", tt.LP_WITHDRAW, pl.LpWithdraw("btc", half))
    led.send("bob", tt.LP_WITHDRAW, pl.LpWithdraw("btc", half))
    return plans.get_obligation(led.state, 0), plans.get_obligation(led.state, 1)


def _pay(led: Ledger, payment: VerifiedPayment, oid: int = 0) -> None:
    paid = pl.ObligationPaid(oid, b"proof")
    led.send_verified("operator", tt.OBLIGATION_PAID, paid, plans.plan_obligation_paid, payment)


def test_one_payment_settles_several_obligations_of_one_destination() -> None:
    led = seeded_ledger()
    first, second = _two_obligations(led)
    owed, dest = first.amount + second.amount, btc_key("bob")
    short = VerifiedPayment(b"pay-1", "btc", owed - 1, dest, (0, 1))
    rejected(Reason.PAYMENT_MISMATCH, lambda: _pay(led, short))
    paying_one = VerifiedPayment(b"pay-1", "btc", owed, dest, (1,))
    rejected(Reason.PAYMENT_MISMATCH, lambda: _pay(led, paying_one, 0))  # 0 is not among them
    both = VerifiedPayment(b"pay-1", "btc", owed, dest, (0, 1))
    _pay(led, both, 1)  # any obligation it pays names the pool
    for oid in (0, 1):
        done = plans.get_obligation(led.state, oid)
        assert (done.status, done.payment_id) == (ObligationStatus.PAID, b"pay-1")
    rejected(Reason.PAYMENT_REPLAYED, lambda: _pay(led, both))
    led.check_money()


def test_a_late_batch_payment_heals_every_default_it_pays() -> None:
    led = seeded_ledger()
    first, second = _two_obligations(led)
    led.height = first.deadline_height + 1
    for oid in (0, 1):
        led.send("carol", tt.OBLIGATION_DEFAULT, pl.ObligationDefault(oid))
    assert led.pool().defaulted_obligations == 2 and led.pool().halted
    both = VerifiedPayment(b"pay-1", "btc", first.amount + second.amount, btc_key("bob"), (0, 1))
    _pay(led, both)
    assert led.pool().defaulted_obligations == 0 and not led.pool().halted
    assert plans.get_obligation(led.state, 1).status is ObligationStatus.PAID_LATE


def test_bitcoin_batch_payment_through_spv(btc_world: tuple[MiniChain, Ledger]) -> None:  # noqa: F811
    """One Bitcoin transaction pays bob's two obligations with one output and the operator's
    with another, its OP_RETURN listing all three; each output is proven on its own."""
    btc, led = btc_world
    led.send("operator", tt.LP_DEPOSIT, pl.LpDeposit(
        "btc", ETM_LIQ, 1, btc.include(deposit_tx(led, "operator", BTC_LIQ), 0)))  # fmt: skip
    bind(led, "bob")
    led.send("bob", tt.LP_DEPOSIT, pl.LpDeposit(
        "btc", ETM_LIQ, 1, btc.include(deposit_tx(led, "bob", 10**7), 0)))  # fmt: skip
    half = led.shares("bob") // 2
    for _ in range(2):
        led.send("bob", tt.LP_WITHDRAW, pl.LpWithdraw("btc", half))
    led.send("operator", tt.LP_WITHDRAW, pl.LpWithdraw("btc", shares_paying(led, FLOOR)))
    bob0, bob1, op2 = (plans.get_obligation(led.state, i) for i in range(3))
    tag = bp.payment_tag([0, 1, 2])
    pay = tx_paying(
        (bob0.amount + bob1.amount, bp.p2wpkh(btc_key("bob"))),
        (op2.amount, bp.p2wpkh(btc_key("operator"))),
        (0, op_return(tag)),
    )
    bob_proof = btc.include(pay, 0)
    op_proof = bp.BtcProof(bp.BtcProof.decode(bob_proof).tx_proof, 1).encode()
    rejected(  # the operator's output does not pay obligation 0
        Reason.PAYMENT_MISMATCH,
        lambda: led.send("carol", tt.OBLIGATION_PAID, pl.ObligationPaid(0, op_proof)),
    )
    led.send("carol", tt.OBLIGATION_PAID, pl.ObligationPaid(0, bob_proof))
    assert [plans.get_obligation(led.state, i).status for i in range(3)] == [
        ObligationStatus.PAID, ObligationStatus.PAID, ObligationStatus.PENDING,
    ]  # fmt: skip
    led.send("carol", tt.OBLIGATION_PAID, pl.ObligationPaid(2, op_proof))
    assert plans.get_obligation(led.state, 2).status is ObligationStatus.PAID
    rejected(
        Reason.PAYMENT_REPLAYED,
        lambda: led.send("carol", tt.OBLIGATION_PAID, pl.ObligationPaid(0, bob_proof)),
    )
    led.check_money()


def test_an_investor_closing_one_obligation_first_cannot_void_the_operators_batch(
    btc_world: tuple[MiniChain, Ledger],  # noqa: F811
) -> None:
    """Review a11a. Bob has a large obligation and a small one; the operator pays both with one
    output (a batch, as the floor and the fees invite). Bob had prepared a payment of his own
    coins to his own key tagged with the small one's id (anyone may prove a payment), and
    proves it as soon as he sees the batch: the small one closes. The batch listed a closed
    obligation, so it was refused whole (``obligation_closed``): the large one stayed open
    although paid, and the operator had to pay it again (or default, halting the pool). Now the
    batch settles what it lists that is still open."""
    btc, led = btc_world
    led.send("operator", tt.LP_DEPOSIT, pl.LpDeposit(
        "btc", ETM_LIQ, 1, btc.include(deposit_tx(led, "operator", BTC_LIQ), 0)))  # fmt: skip
    bind(led, "bob")
    led.send("bob", tt.LP_DEPOSIT, pl.LpDeposit(
        "btc", ETM_LIQ, 1, btc.include(deposit_tx(led, "bob", 10**7), 0)))  # fmt: skip
    owned = led.shares("bob")
    led.send("bob", tt.LP_WITHDRAW, pl.LpWithdraw("btc", owned - shares_paying(led, FLOOR)))
    led.send("bob", tt.LP_WITHDRAW, pl.LpWithdraw("btc", led.shares("bob")))
    large, small = (plans.get_obligation(led.state, i) for i in (0, 1))
    assert large.amount > 100 * small.amount
    to_bob = bp.p2wpkh(btc_key("bob"))
    own = tx_paying((small.amount, to_bob), (0, op_return(bp.payment_tag([1]))))
    own_proof = btc.include(own, 0)  # ready in advance: his coins, his key
    batch = tx_paying((large.amount + small.amount, to_bob), (0, op_return(bp.payment_tag([0, 1]))))
    batch_proof = btc.include(batch, 0)
    led.send("bob", tt.OBLIGATION_PAID, pl.ObligationPaid(1, own_proof))  # front-run
    led.send("carol", tt.OBLIGATION_PAID, pl.ObligationPaid(0, batch_proof))
    done = [plans.get_obligation(led.state, i) for i in (0, 1)]
    assert [o.status for o in done] == [ObligationStatus.PAID, ObligationStatus.PAID]
    assert [o.payment_id for o in done] == [dsha256(batch) + bytes(4), dsha256(own) + bytes(4)]
    again = tx_paying((small.amount + 1, to_bob), (0, op_return(bp.payment_tag([0, 1]))))
    rejected(  # nothing left for a third payment to close: each was closed once
        Reason.OBLIGATION_CLOSED,
        lambda: led.send("carol", tt.OBLIGATION_PAID, pl.ObligationPaid(0, btc.include(again, 0))),
    )
    led.check_money()


@pytest.mark.parametrize(
    "ids", [list(range(9)), [0, 0], []], ids=["nine ids", "an id twice", "no id"]
)
def test_a_payment_listing_too_many_or_repeated_ids_is_malformed(
    btc_world: tuple[MiniChain, Ledger],  # noqa: F811
    ids: list[int],
) -> None:
    btc, led = btc_world
    led.send("operator", tt.LP_DEPOSIT, pl.LpDeposit(
        "btc", ETM_LIQ, 1, btc.include(deposit_tx(led, "operator", BTC_LIQ), 0)))  # fmt: skip
    led.send("operator", tt.LP_WITHDRAW, pl.LpWithdraw("btc", shares_paying(led, FLOOR)))
    data = bp.PAYMENT_TAG + b"".join(i.to_bytes(8, "big") for i in ids)
    pay = tx_paying((10**6, bp.p2wpkh(btc_key("operator"))), (0, op_return(data)))
    rejected(
        "malformed_proof",
        lambda: led.send("carol", tt.OBLIGATION_PAID, pl.ObligationPaid(0, btc.include(pay, 0))),
    )
    with pytest.raises(Exception, match="distinct"):
        bp.payment_tag(ids)
