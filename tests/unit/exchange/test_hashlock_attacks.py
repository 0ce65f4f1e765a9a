"""Issue 11, items 1 and 7, performed on the exchange's transaction types.

Item 1 (a pool drain): once a pool swap ends, its preimage is public on ETM. Before the fix its
hashlock left the open set and a new swap in with the same hashlock was accepted: the pool
locked ETM to someone who could claim it at once. Now a hashlock serves one HTLC ever
(``xchg_hashlocks``), whatever kind of HTLC, open or ended.

Item 7 (squatting): ``swap start`` publishes the hashlock in its intent before the user's lock
is proven; a stranger used it first (a tiny swap out) and the victim's proof failed. Now the
intent reserves the hashlock for its recipient: only she can use it. And the permanence cannot
be turned into a squatting tool: a stranger who takes a hashlock before the intent only makes
the victim draw a new secret, while nothing of hers is locked yet.
"""

from __future__ import annotations

from typing import Any

import pytest
from exchange_harness import Ledger
from test_txtypes import PREIMAGE, H, bind, foreign_lock, rejected, seeded_ledger, swap_in, swap_out

from etm_bridge.exchange import hashlocks as hk
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import swap_plans
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.pool import PoolDirection, quote
from etm_bridge.exchange.reasons import Reason
from etm_bridge.hashlock import hashlock_of

H2 = hashlock_of(b"\x77" * 32)


@pytest.fixture
def led() -> Ledger:
    led = seeded_ledger()
    bind(led, "bob")  # the attacker is bound on Bitcoin too
    return led


def _uses(led: Ledger) -> Any:
    """Every way to put a hashlock into an HTLC or an intent, by anyone."""
    expiry = led.height + 100
    return {
        "swap in": lambda h: swap_in(led, foreign_lock(led, lock_id=b"again", hashlock=h)),
        "swap out": lambda h: swap_out(led, hashlock=h),
        "htlc lock": lambda h: led.send(
            "bob", tt.HTLC_LOCK, pl.HtlcLockPayload(led.address("bob"), 5, h, expiry)
        ),
        "intent": lambda h: led.send(
            "bob", tt.SWAP_INTENT, pl.SwapIntentPayload("btc", h, 100_000, 1)
        ),
    }


@pytest.mark.parametrize("ending", ["claimed", "refunded"])
def test_an_ended_pool_swaps_hashlock_never_opens_another_swap(led: Ledger, ending: str) -> None:
    htlc_id = swap_in(led, foreign_lock(led))
    if ending == "claimed":  # the preimage is now public on ETM
        led.send("carol", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE))
        assert led.htlc(htlc_id).preimage == PREIMAGE
    else:
        led.height = led.htlc(htlc_id).expiry_height + 1
        led.send("carol", tt.HTLC_REFUND, pl.HtlcRefund(htlc_id))
    pool, changes = led.pool(), dict(led.state.changes())
    # the drain: a second BTC lock with the same hashlock, proven -> the pool would lock ETM
    # that the attacker claims at once with the known preimage, then refund the BTC
    for name, use in _uses(led).items():
        rejected(Reason.HASHLOCK_USED, lambda use=use: use(H))
        assert led.pool() == pool and dict(led.state.changes()) == changes, name
    assert hk.htlc_of(led.state, H) == htlc_id  # the one HTLC it ever served
    led.check_money()


def test_a_plain_htlcs_hashlock_is_used_for_good_too(led: Ledger) -> None:
    lock = led.send(
        "bob", tt.HTLC_LOCK, pl.HtlcLockPayload(led.address("bob"), 5, H, led.height + 9)
    )
    led.send("bob", tt.HTLC_CLAIM, pl.HtlcClaim(lock.id, PREIMAGE))
    rejected(Reason.HASHLOCK_USED, lambda: swap_in(led, foreign_lock(led)))
    rejected(Reason.HASHLOCK_USED, lambda: swap_out(led))


def test_a_strangers_squat_on_a_reserved_hashlock_is_refused(led: Ledger) -> None:
    """Alice's intent is in a block; bob read H from it and tries every way to block it."""
    fair = quote(led.pool(), PoolDirection.ASSET_TO_ETM, 100_000).amount_out
    led.send("alice", tt.SWAP_INTENT, pl.SwapIntentPayload("btc", H, 100_000, fair))
    use = hk.get_use(led.state, H)
    assert use is not None and use.owner == led.address("alice") and use.htlc_id == b""
    expiry = led.height + 100
    squats = {
        "bob's tiny swap out": lambda: led.send(
            "bob", tt.SWAP_OUT, pl.SwapOut("btc", 10**8, H, led.height + 4_400, 1)
        ),
        "bob's HTLC lock": lambda: led.send(
            "bob", tt.HTLC_LOCK, pl.HtlcLockPayload(led.address("bob"), 5, H, expiry)
        ),
        "an HTLC to alice by carol": lambda: led.send(
            "carol", tt.HTLC_LOCK, pl.HtlcLockPayload(led.address("alice"), 5, H, expiry)
        ),
        "bob's own intent": lambda: led.send(
            "bob", tt.SWAP_INTENT, pl.SwapIntentPayload("btc", H, 5, 1)
        ),
        "bob's own proven lock": lambda: swap_in(
            led, foreign_lock(led, who="bob", lock_id=b"bob-lock"), who="bob"
        ),
    }
    for name, squat in squats.items():
        rejected(Reason.HASHLOCK_RESERVED, squat)
        assert hk.get_use(led.state, H) == use, name
    # the victim's proof goes through, submitted by anyone with her intent
    lock = foreign_lock(led)
    payload = pl.SwapIn("btc", led.address("alice"), lock.amount, H, 0, b"proof")
    led.send_verified("carol", tt.SWAP_IN, payload, swap_plans.plan_swap_in, lock)
    htlc_id = swap_plans.swap_in_htlc_id("btc", lock.lock_id)
    assert led.htlc(htlc_id).amount >= fair
    assert hk.htlc_of(led.state, H) == htlc_id
    led.check_money()


def test_the_reserver_may_use_her_own_hashlock(led: Ledger) -> None:
    led.send("alice", tt.SWAP_INTENT, pl.SwapIntentPayload("btc", H, 100_000, 1))
    led.send("alice", tt.SWAP_INTENT, pl.SwapIntentPayload("btc", H, 100_000, 2))  # replaces it
    swap_out(led)  # her own swap out: a swap's own party may use (and so end) it
    rejected(Reason.HASHLOCK_USED, lambda: swap_in(led, foreign_lock(led)))


def test_a_hashlock_taken_before_the_intent_costs_the_victim_only_a_new_secret(
    led: Ledger,
) -> None:
    """Bob uses H first (before alice's intent is in a block). Her intent is refused while
    nothing of hers is locked; with a new secret everything works."""
    led.send("bob", tt.HTLC_LOCK, pl.HtlcLockPayload(led.address("bob"), 5, H, led.height + 9))
    alice = led.balance("alice")
    rejected(
        Reason.HASHLOCK_USED,
        lambda: led.send("alice", tt.SWAP_INTENT, pl.SwapIntentPayload("btc", H, 100_000, 1)),
    )
    assert led.balance("alice") == alice  # the harness charges no fee: nothing moved
    led.send("alice", tt.SWAP_INTENT, pl.SwapIntentPayload("btc", H2, 100_000, 1))
    htlc_id = swap_in(led, foreign_lock(led, hashlock=H2), h=H2)
    assert hk.htlc_of(led.state, H2) == htlc_id
    led.check_money()


def test_intents_need_a_32_byte_hashlock(led: Ledger) -> None:
    rejected(
        Reason.BAD_HASHLOCK,
        lambda: led.send("alice", tt.SWAP_INTENT, pl.SwapIntentPayload("btc", b"\x01" * 31, 5, 1)),
    )
