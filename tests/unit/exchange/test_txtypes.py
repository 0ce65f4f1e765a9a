"""The exchange as ETM transaction types: both swap directions, LPs, obligations, binding.

Every test ends with the money check: supply conserved, and the exchange escrow holding exactly
the pools' ETM reserves plus the ETM in user-funded HTLCs.
"""

from __future__ import annotations

from typing import Any

import pytest
from exchange_harness import Ledger

from etm_bridge.chain.params import ETM_EPOCH_UNIX
from etm_bridge.chains.bitcoin.binding import btc_pubkey_of, sign_btc
from etm_bridge.errors import ExchangeError, TxRejectedError, ValidationError
from etm_bridge.exchange import binding as bd
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans, swap_plans
from etm_bridge.exchange import swap_rules as sr
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.obligations import ObligationStatus, VerifiedDeposit, VerifiedPayment
from etm_bridge.exchange.pool import PoolDirection, quote
from etm_bridge.exchange.reasons import Reason
from etm_bridge.hashlock import hashlock_of

SECRETS = {"operator": b"\x01" * 32, "alice": b"\x02" * 32, "bob": b"\x03" * 32}
PREIMAGE = b"\x42" * 32
H = hashlock_of(PREIMAGE)
BTC_LIQ = 10**8  # 1 BTC
ETM_LIQ = 10**13  # 100,000 ETM


def btc_key(who: str) -> bytes:
    return btc_pubkey_of(SECRETS[who])


def bind(led: Ledger, who: str, nonce: int = 1, rebind: bool = False, secret: bytes = b"") -> None:
    secret = secret or SECRETS[who]
    expiry = led.height + 100
    msg = bd.binding_message(plans.network_name(led.ctx()), led.address(who), "btc", nonce, expiry)
    payload = pl.Bind("btc", btc_pubkey_of(secret), nonce, expiry, sign_btc(msg, secret), rebind)
    led.send(who, tt.BIND, payload)


def rejected(reason: str, call: Any) -> None:
    """``call`` fails with ``reason``: a TxRejectedError from a registered type, or the
    planner's ExchangeError (same reason code) when the test hands it a verified record."""
    with pytest.raises((TxRejectedError, ExchangeError)) as exc:
        call()
    assert exc.value.reason == reason, exc.value


def deposit(led: Ledger, who: str, dep_id: bytes, btc: int, etm_max: int) -> None:
    payload = pl.LpDeposit("btc", etm_max, 1, b"proof")
    record = VerifiedDeposit(dep_id, "btc", btc, led.address(who))
    led.send_verified(who, tt.LP_DEPOSIT, payload, plans.plan_lp_deposit, record)


def seeded_ledger() -> Ledger:
    """A BTC pool seeded by the operator (1 BTC, 100,000 ETM); operator and alice bound."""
    led = Ledger()
    led.send("operator", tt.POOL_CREATE, pl.PoolCreate("btc", btc_key("operator"), 3_000, 100, 1))
    bind(led, "operator")
    deposit(led, "operator", b"dep-0", BTC_LIQ, ETM_LIQ)
    bind(led, "alice")
    return led


@pytest.fixture
def led() -> Ledger:
    return seeded_ledger()


def foreign_lock(led: Ledger, who: str = "alice", **kw: Any) -> sr.VerifiedForeignLock:
    base: dict[str, Any] = {
        "asset": "btc",
        "lock_id": b"btc-lock-1",
        "amount": 100_000,
        "hashlock": H,
        "claim_key": btc_key("operator"),
        "refund_key": btc_key(who),
        "timelock_height": 1_072,
        "confirmations": 1,
        "required_confirmations": 1,
        "block_hash": b"\xb1" * 32,
        "lock_height": 1_000,
        "lock_time_s": ETM_EPOCH_UNIX - 60,  # mined a minute before the ETM block
        "tip_height": 1_000,
        "tip_time_s": ETM_EPOCH_UNIX - 60,
        "block_time_s": 600,
        "max_relay_lag_s": 7_200,
    }
    base.update(kw)
    return sr.VerifiedForeignLock(**base)


def swap_in(
    led: Ledger,
    lock: sr.VerifiedForeignLock,
    who: str = "alice",
    min_out: int = 1,
    h: bytes | None = None,
) -> bytes:
    hashlock = lock.hashlock if h is None else h
    payload = pl.SwapIn("btc", led.address(who), lock.amount, hashlock, min_out, b"proof")
    led.send_verified(who, tt.SWAP_IN, payload, swap_plans.plan_swap_in, lock)
    return swap_plans.swap_in_htlc_id("btc", lock.lock_id)


# --- BTC -> ETM ---------------------------------------------------------------------------------


def test_swap_in_then_claim_pays_the_user_and_settles_the_pool(led: Ledger) -> None:
    before = led.pool()
    expected = quote(before, PoolDirection.ASSET_TO_ETM, 100_000)
    htlc_id = swap_in(led, foreign_lock(led))
    assert led.pool().etm_reserved == expected.amount_out
    led.check_money()
    alice = led.balance("alice")
    led.send("carol", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE))  # anyone may submit
    assert led.balance("alice") == alice + expected.amount_out
    after = led.pool()
    assert after.etm_reserved == 0 and after.asset_pending_in == 0
    assert after.asset_reserve == BTC_LIQ + 100_000
    assert after.fees_asset == expected.fee
    assert led.htlc(htlc_id).preimage == PREIMAGE  # the operator learns it to claim the BTC
    rejected(
        Reason.ALREADY_CLAIMED,
        lambda: led.send("carol", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE)),
    )
    led.check_money()


def test_replayed_late_wrong_amount_and_wrong_hash_leave_no_reservation(led: Ledger) -> None:
    swap_in(led, foreign_lock(led))
    pool = led.pool()
    fresh = hashlock_of(b"\x45" * 32)  # H is used for good by the first swap (issue 11)
    cases = {
        Reason.REPLAYED_PROOF: foreign_lock(led),
        Reason.LATE_PROOF: foreign_lock(led, lock_id=b"2", tip_height=1_060, hashlock=fresh),
        Reason.WRONG_AMOUNT: foreign_lock(led, lock_id=b"3", amount=5, hashlock=fresh),
        Reason.WRONG_HASHLOCK: foreign_lock(led, lock_id=b"4", hashlock=b"\x00" * 32),
        Reason.WRONG_REFUND_KEY: foreign_lock(
            led, lock_id=b"5", refund_key=btc_key("bob"), hashlock=fresh
        ),
        Reason.HASHLOCK_USED: foreign_lock(led, lock_id=b"6"),
    }
    for reason, lock in cases.items():
        h = H if reason in (Reason.WRONG_HASHLOCK, Reason.REPLAYED_PROOF) else lock.hashlock
        payload = pl.SwapIn("btc", led.address("alice"), 100_000, h, 1, b"p")
        rejected(
            reason,
            lambda lock=lock, payload=payload: led.send_verified(
                "alice", tt.SWAP_IN, payload, swap_plans.plan_swap_in, lock
            ),
        )
        assert led.pool() == pool, reason
    led.check_money()


def test_unclaimed_swap_in_expires_and_releases_its_reservation(led: Ledger) -> None:
    pool = led.pool()
    htlc_id = swap_in(led, foreign_lock(led))
    expiry = led.htlc(htlc_id).expiry_height
    rejected(Reason.EARLY_REFUND, lambda: led.send("bob", tt.HTLC_REFUND, pl.HtlcRefund(htlc_id)))
    led.height = expiry + 1
    rejected(
        Reason.HTLC_EXPIRED,
        lambda: led.send("alice", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE)),
    )
    led.send("bob", tt.HTLC_REFUND, pl.HtlcRefund(htlc_id))
    assert led.pool() == pool  # released exactly: nothing reserved, nothing pending
    rejected(
        Reason.ALREADY_REFUNDED, lambda: led.send("bob", tt.HTLC_REFUND, pl.HtlcRefund(htlc_id))
    )
    led.check_money()


# --- ETM -> BTC ---------------------------------------------------------------------------------


def swap_out(led: Ledger, amount: int = 10**10, hashlock: bytes = H) -> bytes:
    expiry = led.height + sr.LONG_LEG_S // led.params.block_time_s
    tx = led.send("alice", tt.SWAP_OUT, pl.SwapOut("btc", amount, hashlock, expiry, 1))
    return tx.id


def test_swap_out_claim_moves_the_locked_etm_into_the_pool(led: Ledger) -> None:
    alice = led.balance("alice")
    expected = quote(led.pool(), PoolDirection.ETM_TO_ASSET, 10**10)
    htlc_id = swap_out(led)
    assert led.balance("alice") == alice - 10**10
    assert led.pool().asset_reserved == expected.amount_out
    led.check_money()
    # alice claims the operator's BTC lock (revealing the preimage); anyone relays it to ETM
    led.send("operator", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, PREIMAGE))
    pool = led.pool()
    assert pool.etm_reserve == ETM_LIQ + 10**10
    assert pool.asset_reserve == BTC_LIQ - expected.amount_out
    assert pool.asset_reserved == 0 and pool.etm_pending_in == 0
    led.check_money()


def test_swap_out_refund_returns_the_etm_and_releases(led: Ledger) -> None:
    pool, alice = led.pool(), led.balance("alice")
    htlc_id = swap_out(led)
    led.height = led.htlc(htlc_id).expiry_height + 1
    led.send("carol", tt.HTLC_REFUND, pl.HtlcRefund(htlc_id))
    assert led.balance("alice") == alice and led.pool() == pool
    led.check_money()


def test_swap_out_needs_a_bound_key_and_funds(led: Ledger) -> None:
    expiry = led.height + sr.LONG_LEG_S // led.params.block_time_s
    rejected(
        Reason.NOT_BOUND,
        lambda: led.send("bob", tt.SWAP_OUT, pl.SwapOut("btc", 10**10, H, expiry, 1)),
    )
    rejected(
        "insufficient_balance",
        lambda: led.send("alice", tt.SWAP_OUT, pl.SwapOut("btc", 10**15, H, expiry, 1)),
    )


# --- investors ----------------------------------------------------------------------------------


def test_lp_earns_fees_and_withdraws_into_an_obligation(led: Ledger) -> None:
    bind(led, "bob")
    bob_before = led.balance("bob")
    deposit(led, "bob", b"dep-bob", 10**7, 10**13)
    shares = led.shares("bob")
    etm_in = bob_before - led.balance("bob")
    # pro rata: bob brought 10 % of the BTC; his shares are rounded down, the ETM he pays for
    # them rounded up, and both stay within 10 % of the pool's ETM
    assert ETM_LIQ // 10 - ETM_LIQ // 10**9 < etm_in <= ETM_LIQ // 10
    for i in range(3):  # traffic both ways earns fees (a new secret per swap: issue 11)
        secret_in, secret_out = bytes([0x50 + i]) * 32, bytes([0x60 + i]) * 32
        h_in = hashlock_of(secret_in)
        htlc_id = swap_in(led, foreign_lock(led, lock_id=b"L%d" % i, hashlock=h_in), h=h_in)
        led.send("alice", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, secret_in))
        out_id = swap_out(led, 10**9, hashlock=hashlock_of(secret_out))
        led.send("alice", tt.HTLC_CLAIM, pl.HtlcClaim(out_id, secret_out))
    from etm_bridge.exchange import views

    [pos] = views.positions(led.state, led.addr20("bob"))
    assert pos["fees_earned_asset"] > 0 and pos["fees_earned_etm"] > 0
    assert pos["fees_earned_asset"] < led.pool().fees_asset // 10 + 1  # bob owns ~1/11
    bob_etm = led.balance("bob")
    led.send("bob", tt.LP_WITHDRAW, pl.LpWithdraw("btc", shares))
    etm_back = led.balance("bob") - bob_etm
    ob = plans.get_obligation(led.state, 0)
    assert ob.investor == led.address("bob") and ob.destination == btc_key("bob")
    assert ob.status is ObligationStatus.PENDING
    # value in, value out at the pool's price now: fees made it grow (the geometric mean)
    assert ob.amount * etm_back > 10**7 * etm_in
    led.check_money()


def test_deposit_replay_and_foreign_payer_are_rejected(led: Ledger) -> None:
    rejected(Reason.DEPOSIT_REPLAYED, lambda: deposit(led, "operator", b"dep-0", 10, 10**9))
    # the payment names alice as its owner: bob cannot have it credited to himself
    payload = pl.LpDeposit("btc", 10**9, 1, b"p")
    alices = VerifiedDeposit(b"d", "btc", 10**6, led.address("alice"))
    rejected(
        Reason.DEPOSIT_NOT_OWNER,
        lambda: led.send_verified("bob", tt.LP_DEPOSIT, payload, plans.plan_lp_deposit, alices),
    )


def test_missed_obligation_halts_the_pool_until_paid(led: Ledger) -> None:
    bind(led, "bob")
    deposit(led, "bob", b"dep-bob", 10**7, 10**13)
    led.send("bob", tt.LP_WITHDRAW, pl.LpWithdraw("btc", led.shares("bob")))
    ob = plans.get_obligation(led.state, 0)
    rejected(
        Reason.OBLIGATION_NOT_DUE,
        lambda: led.send("carol", tt.OBLIGATION_DEFAULT, pl.ObligationDefault(0)),
    )
    led.height = ob.deadline_height + 1
    led.send("carol", tt.OBLIGATION_DEFAULT, pl.ObligationDefault(0))
    assert led.pool().halted
    rejected(Reason.POOL_HALTED, lambda: swap_in(led, foreign_lock(led, lock_id=b"x")))
    payment = VerifiedPayment(b"btc-pay-1", "btc", ob.amount, btc_key("bob"), (0,))
    paid = pl.ObligationPaid(0, b"proof")
    led.send_verified("operator", tt.OBLIGATION_PAID, paid, plans.plan_obligation_paid, payment)
    assert plans.get_obligation(led.state, 0).status is ObligationStatus.PAID_LATE
    assert not led.pool().halted
    led.check_money()


# --- binding, pools, payloads -------------------------------------------------------------------


def test_rebind_unbind_and_nonce_replay(led: Ledger) -> None:
    rejected(Reason.ALREADY_BOUND, lambda: bind(led, "alice", nonce=2))
    rejected(Reason.NONCE_REPLAYED, lambda: bind(led, "alice", nonce=1, rebind=True))
    rejected(Reason.KEY_BOUND_ELSEWHERE, lambda: bind(led, "bob", secret=SECRETS["alice"]))
    bind(led, "alice", nonce=3, rebind=True, secret=b"\x09" * 32)
    bind(led, "bob", secret=SECRETS["alice"])  # alice's old key is free again
    led.send("alice", tt.UNBIND, pl.Unbind("btc"))
    rejected(Reason.NOT_BOUND, lambda: led.send("alice", tt.UNBIND, pl.Unbind("btc")))
    rejected(Reason.NONCE_REPLAYED, lambda: bind(led, "alice", nonce=3))
    rejected(Reason.KEY_BOUND_ELSEWHERE, lambda: bind(led, "alice", nonce=4))  # bob has it
    bind(led, "alice", nonce=5, secret=b"\x0a" * 32)


def test_pool_create_twice_is_rejected(led: Ledger) -> None:
    payload = pl.PoolCreate("btc", btc_key("bob"), 3_000, 100, 1)
    rejected(Reason.POOL_EXISTS, lambda: led.send("bob", tt.POOL_CREATE, payload))
    eth_with_btc_key = pl.PoolCreate("eth", btc_key("bob"), 3_000, 100, 1)
    rejected(Reason.BAD_PARAMETER, lambda: led.send("bob", tt.POOL_CREATE, eth_with_btc_key))
    rejected(
        Reason.UNSUPPORTED_CHAIN,
        lambda: led.send("bob", tt.POOL_CREATE, pl.PoolCreate("doge", b"\x02" * 33, 0, 1, 1)),
    )


def test_proof_carrying_types_reject_without_an_spv_verifier() -> None:
    led = Ledger(verifier=tt.ChainVerifiers({}))
    led.send("operator", tt.POOL_CREATE, pl.PoolCreate("btc", btc_key("operator"), 3_000, 100, 1))
    for type_id, payload in (
        (tt.LP_DEPOSIT, pl.LpDeposit("btc", 10, 1, b"\x00")),
        (tt.SWAP_IN, pl.SwapIn("btc", led.address("alice"), 1, H, 1, b"\x00")),
    ):
        rejected("spv_unavailable", lambda t=type_id, p=payload: led.send("bob", t, p))


def test_default_verifier_covers_only_known_chains() -> None:
    verifier = tt.default_verifier()
    assert isinstance(verifier, tt.ChainVerifiers)
    from etm_bridge.chains.registry import chain_registry

    # the installed chains with an exchange, and no other (a third chain is one more folder)
    assert set(verifier.by_chain) == {p.ticker for p in chain_registry() if p.exchange}


def test_payloads_are_canonical_and_complete() -> None:
    good = pl.encode_payload(pl.HtlcRefund(b"\x01" * 32))
    assert pl.decode_payload(pl.HtlcRefund, good) == pl.HtlcRefund(b"\x01" * 32)
    for bad in (
        b'{"htlc_id": "01"}',  # not canonical
        b'{"htlc_id":"0G"}',
        b'{"htlc_id":"AB"}',
        b'{"htlc_id":1}',
        b'{"htlc_id":"01","x":1}',
        b"[]",
        b"nope",
    ):
        with pytest.raises(ValidationError):
            pl.decode_payload(pl.HtlcRefund, bad)
    with pytest.raises(ValidationError):
        pl.decode_payload(pl.Unbind, b'{"chain":true}')
    with pytest.raises(ValidationError):
        pl.decode_payload(pl.LpWithdraw, b'{"asset":"btc","shares":-1}')


# --- read views ---------------------------------------------------------------------------------


def test_views_show_pools_positions_quotes_and_obligations(led: Ledger) -> None:
    from etm_bridge.exchange import views

    [pool] = views.list_pools(led.state)
    assert pool == views.show_pool(led.state, "btc")
    assert (pool["asset_reserve"], pool["etm_reserve"]) == (BTC_LIQ, ETM_LIQ)
    assert pool["etm_per_asset_unit"] == f"{ETM_LIQ}/{BTC_LIQ}"
    [pos] = views.positions(led.state, led.addr20("operator"))
    assert pos["shares"] == led.shares("operator")
    # everything but the locked minimum: value is what a withdrawal of all shares pays now
    assert BTC_LIQ - pos["value_asset"] < BTC_LIQ // 10**6
    assert views.positions(led.state, led.addr20("carol")) == []
    q = views.swap_quote(led.state, "btc", PoolDirection.ASSET_TO_ETM, 100_000)
    assert q["amount_out"] == quote(led.pool(), PoolDirection.ASSET_TO_ETM, 100_000).amount_out
    led.send("operator", tt.LP_WITHDRAW, pl.LpWithdraw("btc", 10**7))  # ~31,600 sat
    [ob] = views.obligations(led.state, led.addr20("operator"))
    assert ob["status"] == "pending" and ob["destination"] == btc_key("operator").hex()
    assert views.obligations(led.state, led.addr20("bob")) == []


def test_open_swaps_view_names_what_the_operator_must_do(led: Ledger) -> None:
    from etm_bridge.exchange import views

    in_id = swap_in(led, foreign_lock(led))
    rejected(Reason.HASHLOCK_USED, lambda: swap_out(led))  # H is the swap in's, forever
    out_id = swap_out(led, hashlock=hashlock_of(b"\x43" * 32))
    [s_in, s_out] = sorted(views.open_swaps(led.state), key=lambda s: s["direction"])
    assert s_in["htlc_id"] == in_id.hex() and s_in["lock_id"] == b"btc-lock-1".hex()
    assert s_out["htlc_id"] == out_id.hex() and s_out["user_key"] == btc_key("alice").hex()
    led.send("alice", tt.HTLC_CLAIM, pl.HtlcClaim(in_id, PREIMAGE))
    assert [s["htlc_id"] for s in views.open_swaps(led.state, "btc")] == [out_id.hex()]


def test_third_party_submission_needs_the_recipients_intent_and_keeps_its_quote(
    led: Ledger,
) -> None:
    lock = foreign_lock(led)
    careless = pl.SwapIn("btc", led.address("alice"), lock.amount, H, 0, b"proof")

    def submit() -> object:
        return led.send_verified("bob", tt.SWAP_IN, careless, swap_plans.plan_swap_in, lock)

    rejected(Reason.NO_SWAP_INTENT, submit)  # bob may not pick alice's slippage bound
    fair = quote(led.pool(), PoolDirection.ASSET_TO_ETM, lock.amount).amount_out
    intent = pl.SwapIntentPayload("btc", H, lock.amount, fair)
    led.send("alice", tt.SWAP_INTENT, intent)
    moved = foreign_lock(led, lock_id=b"other", hashlock=hashlock_of(b"\x44" * 32))
    swap_in(led, moved)  # the pool moves; alice's quote was reserved at intent time (issue 15)
    submit()  # bob's min_out 0 is overridden by alice's intent, whose quote holds
    assert led.htlc(swap_plans.swap_in_htlc_id("btc", lock.lock_id)).amount == fair
    assert led.state.get("xchg_swap_intents", led.addr20("alice") + H) is None  # used up
    led.check_money()
