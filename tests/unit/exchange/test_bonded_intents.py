"""Issue 15, "quotes that hold": a swap intent reserves its quote against a bond.

Rules (``exchange/intents.py``, docs/exchange.md "Bonded intents"): an intent reserves its
quoted ETM output until its expiry height and moves a bond into the escrow; the proof gets the
reserved quote and the bond back; a cancel releases it, the LPs keeping the share of the bond
for the blocks held; an expired intent is swept at the next intent, cancel or swap in of its
pool and its whole bond goes to the LPs. Attacks performed: reserving the whole pool (now
costs its bond), cancel-and-re-intent loops, a bond refunded twice, an intent for a hashlock
someone else reserved, an expired reservation still blocking; review x6b: a dust proof with
other terms to get the whole bond back, a pile of expired intents taxing every transaction's
sweep, a deposit sniping a forfeited bond. Every test ends with the money check (escrow =
pools + user HTLCs + live bonds).
"""

from __future__ import annotations

import pytest
from exchange_harness import Ledger
from test_txtypes import (
    H,
    bind,
    deposit,
    foreign_lock,
    rejected,
    seeded_ledger,
    swap_in,
    swap_out,
)

from etm_bridge.chain.state import canonical_json
from etm_bridge.errors import ValidationError
from etm_bridge.exchange import intents, swap_plans, views
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import records as rc
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.pool import (
    PoolDirection,
    quote,
    release_swap,
    remove_liquidity,
    share_value_ppm,
)
from etm_bridge.exchange.reasons import Reason
from etm_bridge.hashlock import hashlock_of

HB = hashlock_of(b"\x55" * 32)  # bob's
AMOUNT = 100_000  # sat


@pytest.fixture
def led() -> Ledger:
    led = seeded_ledger()
    bind(led, "bob")
    return led


def intent(led: Ledger, who: str = "alice", h: bytes = H, amount: int = AMOUNT, min_out: int = 1):
    led.send(who, tt.SWAP_INTENT, pl.SwapIntentPayload("btc", h, amount, min_out))
    return intents.get(led.state, led.addr20(who), h)


def cancel(led: Ledger, who: str = "alice", h: bytes = H) -> None:
    led.send(who, tt.SWAP_INTENT_CANCEL, pl.SwapIntentCancel(h))


def test_an_intent_reserves_its_quote_and_moves_its_bond(led: Ledger) -> None:
    before, alice = led.pool(), led.balance("alice")
    q = quote(before, PoolDirection.ASSET_TO_ETM, AMOUNT)
    rec = intent(led)
    assert rec is not None and (rec.amount_out, rec.fee) == (q.amount_out, q.fee)
    assert rec.bond == intents.BOND_FLOOR + q.amount_out * intents.BOND_PPM // 10**6
    assert rec.expiry_height == led.height + intents.lifetime_blocks(led.params.block_time_s)
    assert led.pool().etm_reserved == before.etm_reserved + q.amount_out
    assert led.pool().asset_pending_in == before.asset_pending_in + AMOUNT
    assert led.balance("alice") == alice - rec.bond
    led.check_money()


def test_the_proof_gets_the_reserved_quote_and_the_bond_back(led: Ledger) -> None:
    alice = led.balance("alice")
    rec = intent(led)
    assert rec is not None
    swap_in(led, foreign_lock(led, "bob", lock_id=b"b", hashlock=HB), who="bob")  # pool moves
    reserved = led.pool().etm_reserved
    led.height += 5
    htlc_id = swap_in(led, foreign_lock(led), min_out=1)
    assert led.htlc(htlc_id).amount == rec.amount_out  # the quote held
    assert led.pool().etm_reserved == reserved  # the intent's reservation became the swap's
    assert led.balance("alice") == alice  # bond back
    assert intents.get(led.state, led.addr20("alice"), H) is None
    assert led.state.scan_page(rc.INTENT_EXPIRY, b"", None, 10) == []
    led.check_money()


def test_two_intents_beyond_the_free_reserve_refuse_the_second_before_any_lock(
    led: Ledger,
) -> None:
    """Two users quote the same pool state; together they want more than it can give at that
    price. The second is refused at intent time (nothing of hers locked on Bitcoin yet)."""
    big = 60_000_000  # 0.6 BTC each into a 1 BTC pool
    fair = quote(led.pool(), PoolDirection.ASSET_TO_ETM, big).amount_out
    bound = fair * 99 // 100  # 1 % slippage allowed
    intent(led, "alice", H, big, bound)
    bob = led.balance("bob")
    rejected(Reason.SLIPPAGE, lambda: intent(led, "bob", HB, big, bound))
    assert led.balance("bob") == bob and intents.get(led.state, led.addr20("bob"), HB) is None
    led.check_money()


def test_cancel_releases_the_reservation_and_returns_the_bond_less_the_blocks_held(
    led: Ledger,
) -> None:
    before, alice = led.pool(), led.balance("alice")
    rec = intent(led)
    assert rec is not None
    life = rec.expiry_height - rec.height
    led.height += 10
    cancel(led)
    charge = -(-rec.bond * 10 // life)
    assert charge == intents.cancel_charge(rec, led.height) and 0 < charge < rec.bond
    assert led.balance("alice") == alice - charge
    after = led.pool()
    assert (after.etm_reserved, after.asset_pending_in) == (0, 0)
    assert after.etm_reserve == before.etm_reserve + charge  # the LPs keep the charge
    led.check_money()


def test_an_expired_intent_forfeits_its_bond_to_the_lps_and_releases_its_reservation(
    led: Ledger,
) -> None:
    before, alice = led.pool(), led.balance("alice")
    rec = intent(led)
    assert rec is not None
    led.height = rec.expiry_height + 1
    intent(led, "bob", HB)  # any intent (cancel, swap in) of the pool sweeps it
    assert intents.get(led.state, led.addr20("alice"), H) is None
    assert led.pool().etm_reserve == before.etm_reserve + rec.bond
    assert share_value_ppm(led.pool()) >= share_value_ppm(before)
    assert led.balance("alice") == alice - rec.bond
    rejected(Reason.NO_SWAP_INTENT, lambda: cancel(led))  # nothing left to cancel
    led.check_money()


def test_an_intent_holds_up_to_its_expiry_height(led: Ledger) -> None:
    rec = intent(led)
    assert rec is not None
    led.height = rec.expiry_height
    swap_in(led, foreign_lock(led, "bob", lock_id=b"b", hashlock=HB), who="bob")  # sweeps nothing
    assert intents.get(led.state, led.addr20("alice"), H) == rec
    led.check_money()


def test_a_proof_after_expiry_is_priced_at_proof_time_and_the_bond_is_lost(led: Ledger) -> None:
    alice = led.balance("alice")
    rec = intent(led)
    assert rec is not None
    led.height = rec.expiry_height + 1
    lock = foreign_lock(led)
    late = pl.SwapIn("btc", led.address("alice"), lock.amount, H, 1, b"proof")
    rejected(  # a third party may no longer submit: the pinned terms expired with the intent
        Reason.NO_SWAP_INTENT,
        lambda: led.send_verified("bob", tt.SWAP_IN, late, swap_plans.plan_swap_in, lock),
    )
    swept = intents.to_lps(release_swap(led.pool(), intents.quote_of(rec)), rec.bond)
    fair = quote(swept, PoolDirection.ASSET_TO_ETM, AMOUNT).amount_out
    htlc_id = swap_in(led, lock)  # alice proves herself, at the price after the sweep
    assert led.htlc(htlc_id).amount == fair
    assert led.balance("alice") == alice - rec.bond
    led.check_money()


# --- attacks ------------------------------------------------------------------------------------


def test_attack_reserving_the_whole_pool_now_costs_its_bond(led: Ledger) -> None:
    """Bob intents a swap that takes almost all the pool's ETM and never locks. Before issue 15
    an intent reserved nothing; now it blocks the pool for its lifetime, and that costs bob
    the bond (floor + share of the output), which the LPs keep."""
    before, bob = led.pool(), led.balance("bob")
    rec = intent(led, "bob", HB, 100 * 10**8)  # 100 BTC into a 1 BTC pool: ~99 % of the ETM
    assert rec is not None and rec.amount_out > before.etm_reserve * 98 // 100
    assert rec.bond >= rec.amount_out * intents.BOND_PPM // 10**6 > 0
    fair = quote(led.pool(), PoolDirection.ASSET_TO_ETM, AMOUNT).amount_out
    rejected(Reason.SLIPPAGE, lambda: intent(led, "alice", H, AMOUNT, 10**9))  # pool blocked
    assert fair < 10**9
    led.height = rec.expiry_height + 1
    intent(led, "alice", H, AMOUNT, 10**9)  # the sweep freed it
    assert led.balance("bob") == bob - rec.bond
    assert led.pool().etm_reserve == before.etm_reserve + rec.bond
    led.check_money()


def test_attack_cancel_and_re_intent_loops_pay_for_every_block_held(led: Ledger) -> None:
    """Bob holds the whole pool with an intent cancelled and re-recorded every block (and by
    replacing it with the same hashlock): each block held costs him its share of the bond, at
    least what letting it expire would cost per block; the LPs collect it."""
    before, bob = led.pool(), led.balance("bob")
    rec = intent(led, "bob", HB, 100 * 10**8)
    assert rec is not None
    life = rec.expiry_height - rec.height
    per_block = -(-rec.bond // life)
    rounds = 20
    for i in range(rounds):
        led.height += 1
        if i % 2:
            cancel(led, "bob", HB)
            intent(led, "bob", HB, 100 * 10**8)
        else:
            intent(led, "bob", HB, 100 * 10**8)  # replaces: the cancel charge applies too
    last = intents.get(led.state, led.addr20("bob"), HB)
    assert last is not None
    paid = bob - led.balance("bob") - last.bond
    assert paid >= rounds * per_block
    assert led.pool().etm_reserve - before.etm_reserve == paid
    led.check_money()


def test_attack_a_cancel_in_the_intents_own_block_is_not_free(led: Ledger) -> None:
    bob = led.balance("bob")
    rec = intent(led, "bob", HB, 100 * 10**8)
    assert rec is not None
    cancel(led, "bob", HB)  # same height
    assert bob - led.balance("bob") == intents.cancel_charge(rec, rec.height) > 0
    led.check_money()


def test_attack_a_tiny_proof_with_other_terms_does_not_make_holding_the_pool_free(
    led: Ledger,
) -> None:
    """Review x6b: bob holds the whole pool with an intent for 100 BTC until the block before
    its expiry, then proves a tiny lock of his own with the same hashlock (other terms). The
    proof released the intent and returned the whole bond: holding the pool for ~3 h cost a
    dust-sized swap instead of the bond. Now the intent ends as if cancelled at the proof:
    the LPs keep the bond's share of the blocks held, the tiny swap is priced at the proof."""
    before, bob = led.pool(), led.balance("bob")
    rec = intent(led, "bob", HB, 100 * 10**8)
    assert rec is not None
    led.height = rec.expiry_height - 1
    charge = intents.cancel_charge(rec, led.height)
    assert charge > rec.bond * 9 // 10  # held for almost the whole lifetime
    swept = intents.to_lps(release_swap(led.pool(), intents.quote_of(rec)), charge)
    tiny = foreign_lock(led, "bob", lock_id=b"tiny", hashlock=HB, amount=10_000)
    htlc_id = swap_in(led, tiny, who="bob")
    fair = quote(swept, PoolDirection.ASSET_TO_ETM, 10_000)
    assert led.htlc(htlc_id).amount == fair.amount_out  # priced at the proof, not reserved
    assert intents.get(led.state, led.addr20("bob"), HB) is None
    assert led.balance("bob") == bob - charge
    assert led.pool().etm_reserve == before.etm_reserve + charge
    assert led.pool().etm_reserved == fair.amount_out
    led.check_money()


def test_attack_a_bond_is_never_refunded_twice(led: Ledger) -> None:
    alice = led.balance("alice")
    intent(led)
    cancel(led)
    lost = alice - led.balance("alice")
    rejected(Reason.NO_SWAP_INTENT, lambda: cancel(led))  # cancel twice
    swap_in(led, foreign_lock(led))  # the proof after a cancel: no bond comes back with it
    assert alice - led.balance("alice") == lost
    # proof first, then cancel: the bond came back with the proof, once
    h3 = hashlock_of(b"\x66" * 32)
    intent(led, h=h3)
    swap_in(led, foreign_lock(led, lock_id=b"l3", hashlock=h3), h=h3)
    rejected(Reason.NO_SWAP_INTENT, lambda: cancel(led, h=h3))
    assert alice - led.balance("alice") == lost
    led.check_money()


def test_attack_an_intent_or_cancel_on_a_hashlock_someone_else_reserved(led: Ledger) -> None:
    rec = intent(led)
    bob = led.balance("bob")
    rejected(Reason.HASHLOCK_RESERVED, lambda: intent(led, "bob", H))
    rejected(Reason.NO_SWAP_INTENT, lambda: cancel(led, "bob", H))  # bob cannot free alice's
    assert intents.get(led.state, led.addr20("alice"), H) == rec
    assert led.balance("bob") == bob
    led.check_money()


def _pile(led: Ledger, n: int, who: str = "bob") -> None:
    for i in range(n):
        h = hashlock_of(i.to_bytes(2, "big") * 16)
        led.send(who, tt.SWAP_INTENT, pl.SwapIntentPayload("btc", h, 1_000, 1))


def _expiry_rows(led: Ledger) -> int:
    return len(led.state.scan_page(rc.INTENT_EXPIRY, b"", None, 10_000))


def test_attack_an_expired_reservation_does_not_block_the_next_swap(led: Ledger) -> None:
    """Many expired intents hold the pool; the next pool transactions sweep them (one page
    each, oldest first), without anyone sending an expire transaction."""
    before = led.pool()
    _pile(led, intents.SWEEP_MAX + 44)  # more than one transaction sweeps
    assert led.pool().etm_reserved > 0
    led.height += intents.lifetime_blocks(led.params.block_time_s) + 1
    cancel_h = hashlock_of(b"\x77" * 32)
    intent(led, "carol", cancel_h, AMOUNT)  # any pool tx: sweeps the oldest page
    cancel(led, "carol", cancel_h)  # and the next one the rest
    assert _expiry_rows(led) == 0
    fair = quote(before, PoolDirection.ASSET_TO_ETM, AMOUNT).amount_out
    rec = intent(led, "alice", H, AMOUNT, fair)  # priced as if those intents never were
    assert rec is not None and rec.amount_out >= fair
    assert led.pool().etm_reserved == rec.amount_out
    assert led.state.scan_page(rc.INTENT_EXPIRY, b"", None, 10) == [
        (intents.expiry_key("btc", rec.expiry_height, led.addr20("alice"), H), b"\x01")
    ]
    led.check_money()


def test_attack_a_pile_of_expired_intents_costs_each_transaction_one_page_at_most(
    led: Ledger,
) -> None:
    """Review x6b: bob piles up cheap intents (floor bond each) that expire together. The
    sweep forfeited them all in the next pool transaction, and a transaction refused *after*
    the sweep (here: slippage) is rolled back and pays no fee, so every such submission made
    every node's mempool redo the whole sweep: CPU work in proportion to the pile, for free.
    Now one transaction sweeps at most ``SWEEP_MAX`` (oldest first); the next ones the rest.
    An expired intent a transaction meets before its sweep is forfeited, never honoured: its
    proof gets no reserved quote and no bond back."""
    n = 2 * intents.SWEEP_MAX + 10
    _pile(led, n)
    led.height += 1
    alice_rec = intent(led)  # alice's expires a block later: swept last
    assert alice_rec is not None
    led.height = alice_rec.expiry_height + 1
    rows = _expiry_rows(led)
    assert rows == n + 1
    refused = pl.SwapIntentPayload("btc", hashlock_of(b"\x78" * 32), AMOUNT, 10**15)
    rejected(Reason.SLIPPAGE, lambda: led.send("carol", tt.SWAP_INTENT, refused))
    assert _expiry_rows(led) == rows  # refused: rolled back, nothing swept
    carol_h = hashlock_of(b"\x79" * 32)
    intent(led, "carol", carol_h, AMOUNT)
    assert _expiry_rows(led) == rows - intents.SWEEP_MAX + 1  # one page swept, carol's added
    # alice's own expired intent, not swept yet (this tx sweeps bob's next page), is met by
    # her late proof: forfeited, no bond back, no reserved quote
    alice = led.balance("alice")
    htlc_id = swap_in(led, foreign_lock(led))
    assert _expiry_rows(led) == 10 + 1  # bob's last 10 and carol's
    assert led.balance("alice") == alice
    assert intents.get(led.state, led.addr20("alice"), H) is None
    cancel(led, "carol", carol_h)
    while _expiry_rows(led):  # the rest goes with the next pool transactions
        cancel_h = hashlock_of(led.height.to_bytes(4, "big") * 8)
        intent(led, "carol", cancel_h, AMOUNT)
        cancel(led, "carol", cancel_h)
    pool = led.pool()
    assert pool.etm_reserved == led.htlc(htlc_id).amount and pool.asset_pending_in == AMOUNT
    led.check_money()


def test_attack_a_deposit_after_expiry_does_not_snipe_the_forfeited_bond(led: Ledger) -> None:
    """Review x6b: bob's intent for the whole pool expired; its bond is the LPs' at the next
    sweep. Alice deposits as much as the pool holds (a deposit did not sweep) and withdraws at
    once (a withdrawal sweeps first): half the forfeited bond was hers, taken from the LPs who
    were in the pool while it was held. A deposit sweeps first now: she buys in after it."""
    rec = intent(led, "bob", HB, 100 * 10**8)
    assert rec is not None
    led.height = rec.expiry_height + 1
    pool = led.pool()
    alice = led.balance("alice")
    deposit(led, "alice", b"dep-snipe", pool.asset_reserve, pool.etm_reserve * 2)
    swept = intents.get(led.state, led.addr20("bob"), HB) is None  # by the deposit
    shares = led.shares("alice")
    led.send("alice", tt.LP_WITHDRAW, pl.LpWithdraw("btc", shares, 1, 1))
    assert led.balance("alice") - alice <= 0  # no share of the bond (and her fees paid)
    assert swept
    led.check_money()


def test_swap_outs_are_priced_atomically_with_their_lock(led: Ledger) -> None:
    """Swap outs do not need an intent: the ETM lock *is* the pricing transaction, so a
    refused swap out (slippage) locks nothing."""
    alice = led.balance("alice")
    expiry = led.height + 12 * 3600 // led.params.block_time_s
    rejected(
        Reason.SLIPPAGE,
        lambda: led.send("alice", tt.SWAP_OUT, pl.SwapOut("btc", 10**10, H, expiry, 10**8)),
    )
    assert led.balance("alice") == alice and led.pool().asset_reserved == 0
    swap_out(led)
    led.check_money()


def test_an_expired_reservation_does_not_hold_an_lps_withdrawal(led: Ledger) -> None:
    """The operator (the only LP) withdraws every share: a live intent's reservation holds
    part of the ETM (``reserved_by_inflight_swaps``); once it expired, the withdrawal sweeps it
    and pays the LP the pool's ETM including the forfeited bond."""
    rec = intent(led, "bob", HB, 100 * 10**8)
    assert rec is not None
    shares = led.shares("operator")
    withdraw = pl.LpWithdraw("btc", shares, 1, 1)
    rejected(Reason.RESERVED_BY_INFLIGHT, lambda: led.send("operator", tt.LP_WITHDRAW, withdraw))
    led.height = rec.expiry_height + 1
    swept = intents.to_lps(release_swap(led.pool(), intents.quote_of(rec)), rec.bond)
    _, burn = remove_liquidity(swept, shares, shares, 1, 1)
    _, without_bond = remove_liquidity(
        release_swap(led.pool(), intents.quote_of(rec)), shares, shares, 1, 1
    )
    assert burn.etm_out > without_bond.etm_out  # the forfeited bond is the LPs'
    operator = led.balance("operator")
    led.send("operator", tt.LP_WITHDRAW, withdraw)
    assert led.balance("operator") == operator + burn.etm_out
    led.check_money()


def test_views_show_the_reservation_and_the_bond(led: Ledger) -> None:
    rec = intent(led)
    assert rec is not None
    [row] = views.intents_page(led.state, led.addr20("alice")).rows
    assert row["owner"] == led.address("alice") and row["hashlock"] == H.hex()
    assert (row["amount_out"], row["bond"], row["expiry_height"]) == (
        rec.amount_out,
        rec.bond,
        rec.expiry_height,
    )
    assert views.intent_of(led.state, led.addr20("bob"), H) is None
    q = views.swap_quote(led.state, "btc", PoolDirection.ASSET_TO_ETM, AMOUNT)
    assert q["intent_bond"] == intents.bond_for(q["amount_out"])
    assert "intent_bond" not in views.swap_quote(
        led.state, "btc", PoolDirection.ETM_TO_ASSET, 10**9
    )
    assert views.show_pool(led.state, "btc")["etm_reserved"] == rec.amount_out


# --- pinned encodings (consensus; docs/exchange.md "Consensus changes of issue 15") -----------

VECTOR_H = bytes(range(32))


def test_the_cancel_payload_and_the_intent_record_encodings_are_pinned() -> None:
    cancel_bytes = b'{"hashlock":"' + VECTOR_H.hex().encode() + b'"}'
    assert pl.encode_payload(pl.SwapIntentCancel(VECTOR_H)) == cancel_bytes
    assert pl.decode_payload(pl.SwapIntentCancel, cancel_bytes) == pl.SwapIntentCancel(VECTOR_H)
    for bad in (b'{"hashlock":"' + b"AB" * 32 + b'"}', b"{}", b'{"hashlock":1}'):
        with pytest.raises(ValidationError):
            pl.decode_payload(pl.SwapIntentCancel, bad)
    record = rc.SwapIntent("btc", 100_000, 1, 9_000, 300, 118_000, 5, 1_085)
    assert canonical_json(rc.encode(record)) == (
        b'{"amount_in":100000,"amount_out":9000,"asset":"btc","bond":118000,'
        b'"expiry_height":1085,"fee":300,"height":5,"min_out":1}'
    )
    assert intents.expiry_key("btc", 1_085, b"\x01" * 20, VECTOR_H) == (
        b"btc\x00" + (1_085).to_bytes(8, "big") + b"\x01" * 20 + VECTOR_H
    )
    assert (intents.BOND_FLOOR, intents.BOND_PPM, intents.INTENT_LIFETIME_S) == (
        100_000,
        2_000,
        3 * 3600,
    )
    assert tt.SWAP_INTENT_CANCEL == 213
