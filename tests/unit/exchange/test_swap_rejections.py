"""Issue 6's "done when": a late proof, a wrong amount, a wrong hash, a replayed proof and a
double claim are each rejected with a reason AND leave no reservation behind.

One test per item, both directions where the item applies. Each starts from a pool with no
swap in flight, so "no reservation behind" is checked absolutely (nothing reserved, nothing
pending, no HTLC locked) and not only as "unchanged".
"""

from __future__ import annotations

from exchange_harness import Ledger
from test_txtypes import (
    PREIMAGE,
    H,
    bind,
    foreign_lock,
    rejected,
    seeded_ledger,
    swap_in,
    swap_out,
)

from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans, swap_plans, views
from etm_bridge.exchange import records as rc
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.htlc import HtlcStatus
from etm_bridge.exchange.obligations import VerifiedDeposit
from etm_bridge.exchange.reasons import Reason


def assert_nothing_reserved(led: Ledger) -> None:
    pool = led.pool()
    assert pool.etm_reserved == pool.asset_reserved == 0, pool
    assert pool.asset_pending_in == pool.etm_pending_in == 0, pool
    for key, _ in led.state.scan(rc.HTLCS):
        assert led.htlc(key).status is not HtlcStatus.LOCKED, key.hex()
    led.check_money()


def submit_lock(led: Ledger, **kw: object) -> None:
    lock = foreign_lock(led, **kw)
    payload = pl.SwapIn("btc", led.address("alice"), 100_000, H, 1, b"p")
    led.send_verified("alice", tt.SWAP_IN, payload, swap_plans.plan_swap_in, lock)


def test_late_proof_is_rejected_and_reserves_nothing() -> None:
    led = seeded_ledger()
    # 60 of the lock's 72 blocks are gone: 2 h left, less than 1 h ETM leg + 6 h margin
    rejected(Reason.LATE_PROOF, lambda: submit_lock(led, tip_height=1_060))
    assert_nothing_reserved(led)


def test_wrong_amount_is_rejected_and_reserves_nothing() -> None:
    led = seeded_ledger()
    rejected(Reason.WRONG_AMOUNT, lambda: submit_lock(led, amount=99_999))
    assert_nothing_reserved(led)


def test_wrong_hash_is_rejected_and_reserves_nothing() -> None:
    led = seeded_ledger()
    rejected(Reason.WRONG_HASHLOCK, lambda: submit_lock(led, hashlock=b"\x01" * 32))
    assert_nothing_reserved(led)


def test_replayed_proof_is_rejected_and_reserves_nothing() -> None:
    led = seeded_ledger()
    htlc_id = swap_in(led, foreign_lock(led))
    led.send("carol", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE))
    assert_nothing_reserved(led)
    rejected(Reason.REPLAYED_PROOF, lambda: submit_lock(led))  # same lock, after its swap
    assert_nothing_reserved(led)


def test_replayed_proof_after_refund_is_rejected_and_reserves_nothing() -> None:
    led = seeded_ledger()
    htlc_id = swap_in(led, foreign_lock(led))
    led.height = led.htlc(htlc_id).expiry_height + 1
    led.send("carol", tt.HTLC_REFUND, pl.HtlcRefund(htlc_id))
    assert_nothing_reserved(led)
    rejected(Reason.REPLAYED_PROOF, lambda: submit_lock(led, tip_height=1_000))
    assert_nothing_reserved(led)


def test_double_claim_of_a_swap_in_is_rejected_and_reserves_nothing() -> None:
    led = seeded_ledger()
    htlc_id = swap_in(led, foreign_lock(led))
    claim = pl.HtlcClaim(htlc_id, PREIMAGE)
    led.send("carol", tt.HTLC_CLAIM, claim)
    alice = led.balance("alice")
    rejected(Reason.ALREADY_CLAIMED, lambda: led.send("bob", tt.HTLC_CLAIM, claim))
    assert led.balance("alice") == alice
    assert_nothing_reserved(led)


def test_double_claim_of_a_swap_out_is_rejected_and_reserves_nothing() -> None:
    led = seeded_ledger()
    htlc_id = swap_out(led)
    claim = pl.HtlcClaim(htlc_id, PREIMAGE)
    led.send("operator", tt.HTLC_CLAIM, claim)
    pool = led.pool()
    rejected(Reason.ALREADY_CLAIMED, lambda: led.send("bob", tt.HTLC_CLAIM, claim))
    assert led.pool() == pool
    assert_nothing_reserved(led)


def test_wrong_preimage_keeps_the_reservation_until_refund_releases_it() -> None:
    led = seeded_ledger()
    htlc_id = swap_out(led)
    rejected(
        Reason.WRONG_PREIMAGE,
        lambda: led.send("bob", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, b"\x43" * 32)),
    )
    assert led.pool().asset_reserved > 0  # still a live swap: the right preimage may come
    led.height = led.htlc(htlc_id).expiry_height + 1
    led.send("carol", tt.HTLC_REFUND, pl.HtlcRefund(htlc_id))
    assert_nothing_reserved(led)


def test_deposit_quote_view_names_the_etm_a_deposit_needs() -> None:

    led = seeded_ledger()
    bind(led, "bob")
    q = views.lp_deposit_quote(led.state, "btc", 10**6)
    assert 0 < q["etm_needed"] <= 10**11 and q["shares"] > 0  # pool: 1 BTC : 100,000 ETM

    def send(etm_max: int) -> None:
        payload = pl.LpDeposit("btc", etm_max, 1, b"proof")
        record = VerifiedDeposit(b"dep-bob", "btc", 10**6, led.address("bob"))
        led.send_verified("bob", tt.LP_DEPOSIT, payload, plans.plan_lp_deposit, record)

    rejected(Reason.DEPOSIT_ETM_SHORT, lambda: send(q["etm_needed"] - 1))
    send(q["etm_needed"])  # the same proof, resubmitted with enough ETM
    assert led.shares("bob") == q["shares"]
