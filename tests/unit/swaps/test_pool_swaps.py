"""Pool swap terms and the operator's records (etm_bridge.swaps.core.pool_terms), pure."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st
from swapkit import HASHLOCK as KIT_HASHLOCK
from swapkit import NOW, PREIMAGE, leg, lock_for

from etm_bridge.app.swaps import _depth_of, chain_of, operator_chain_of
from etm_bridge.chain.address import encode_address
from etm_bridge.chain.params import ETM_EPOCH_UNIX
from etm_bridge.etm_client.exchange import FINAL_REJECTIONS
from etm_bridge.exchange.htlc import Htlc
from etm_bridge.exchange.pool import PoolDirection
from etm_bridge.exchange.reasons import Reason
from etm_bridge.exchange.records import PoolSwap, pool_account
from etm_bridge.exchange.swap_rules import MARGIN_S, MAX_LEG_S, SHORT_LEG_S
from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import Role, SwapDirection, SwapState
from etm_bridge.swaps.core.model import SwapRecord
from etm_bridge.swaps.core.policy import reveal_refusal
from etm_bridge.swaps.core.pool_terms import (
    LegChain,
    PoolInfo,
    operator_counter_timelock,
    operator_record,
    pool_asset_of,
    pool_leg_key,
    swap_in_terms,
    swap_out_terms,
)
from etm_bridge.swaps.core.views import SwapView
from etm_bridge.testing.fake import FakeAdapter
from etm_bridge.testing.fakechain import FakeChain

POOL = PoolInfo("btc", b"\x02" + b"\x11" * 32, 2)
BTC, ETM_CHAIN = LegChain("bitcoin", 500, 600), LegChain("etm", 1_000, 1)
USER_BTC, USER_ETM = b"\x03" + b"\x22" * 32, b"\x33" * 20
HASHLOCK = sha256(b"\x01" * 32)


def test_pool_leg_keys_are_20_bytes_distinct_and_reversible() -> None:
    btc, eth = pool_leg_key("btc"), pool_leg_key("eth")
    assert len(btc) == len(eth) == 20 and btc != eth
    assert pool_asset_of(btc) == "btc" and pool_asset_of(eth) == "eth"
    assert pool_asset_of(USER_ETM) is None


def test_swap_in_terms_lock_to_the_pool_refund_to_the_bound_key() -> None:
    t = swap_in_terms("s1", HASHLOCK, POOL, BTC, ETM_CHAIN, amount_in=100_000, min_out=7,
                      user_foreign_key=USER_BTC, user_etm_address20=USER_ETM, now_s=10)  # fmt: skip
    assert t.direction is SwapDirection.FOREIGN_TO_ETM
    u, c = t.user_leg, t.counter_leg
    assert (u.chain, u.amount, u.claim_key, u.refund_key) == ("bitcoin", 100_000, POOL.claim_key,
                                                              USER_BTC)  # fmt: skip
    assert u.timelock_height == 500 + 72 and u.confirmations == 2  # 12 h of 10-min blocks
    assert (c.chain, c.amount, c.claim_key, c.refund_key) == ("etm", 7, USER_ETM,
                                                              pool_leg_key("btc"))  # fmt: skip
    assert c.timelock_height == 0  # the exchange sets the ETM leg
    assert t.reveal_margin_blocks == 600  # 10 min of 1-second ETM blocks


def test_swap_out_terms_fit_the_exchange_window() -> None:
    t = swap_out_terms(
        "s2", HASHLOCK, POOL, BTC, ETM_CHAIN, amount_in=5, min_out=3,
        user_foreign_key=USER_BTC, user_etm_address20=USER_ETM, now_s=10,
    )  # fmt: skip
    u, c = t.user_leg, t.counter_leg
    assert u.claim_key == pool_leg_key("btc") and u.refund_key == USER_ETM
    assert SHORT_LEG_S + MARGIN_S < (u.timelock_height - ETM_CHAIN.tip_height) <= MAX_LEG_S
    assert (c.claim_key, c.refund_key, c.amount) == (USER_BTC, POOL.claim_key, 3)


@given(
    remaining_s=st.integers(0, 3 * MAX_LEG_S),
    etm_block_s=st.integers(1, 30),
    foreign_block_s=st.integers(1, 900),
)
def test_operator_lock_ends_a_margin_before_the_etm_lock(
    remaining_s: int, etm_block_s: int, foreign_block_s: int
) -> None:
    etm = LegChain("etm", 1_000, etm_block_s)
    foreign = LegChain("bitcoin", 500, foreign_block_s)
    expiry = etm.tip_height + remaining_s // etm_block_s
    height = operator_counter_timelock(expiry, etm, foreign)
    if height:
        foreign_s = (height - foreign.tip_height) * foreign_block_s
        assert height > foreign.tip_height
        assert foreign_s + MARGIN_S <= (expiry - etm.tip_height) * etm_block_s
        assert foreign_s <= SHORT_LEG_S + foreign_block_s


def _htlc(sender: str, recipient: str, expiry: int) -> Htlc:
    return Htlc(b"\x44" * 32, sender, recipient, 10, HASHLOCK, expiry)


def test_operator_record_of_a_swap_in_claims_the_users_lock() -> None:
    user = encode_address(USER_ETM)
    txid_le = bytes(range(32))
    proven = txid_le + (1).to_bytes(4, "big")  # the exchange's id of the proven Bitcoin lock
    swap = PoolSwap("btc", PoolDirection.ASSET_TO_ETM, 100_000, 300, 9, user, USER_BTC, proven)
    htlc = _htlc(pool_account("btc"), user, 5_000)
    rec = operator_record(swap, htlc, POOL, BTC, ETM_CHAIN, 1)
    # keyed by the ETM HTLC id, never by the hashlock (issue 11, item 1)
    assert rec is not None and rec.role is Role.OPERATOR and rec.swap_id == htlc.htlc_id.hex()
    u, c = rec.terms.user_leg, rec.terms.counter_leg
    assert (u.claim_key, u.refund_key, u.amount) == (POOL.claim_key, USER_BTC, 100_000)
    # it follows the lock ETM proved (the Bitcoin adapter's id form), never a look-alike
    assert u.lock_id == f"{txid_le[::-1].hex()}:1:{HASHLOCK.hex()}"
    assert (c.claim_key, c.refund_key, c.amount) == (USER_ETM, pool_leg_key("btc"), 9)


def test_operator_record_of_a_swap_out_locks_only_with_room() -> None:
    user = encode_address(USER_ETM)
    swap = PoolSwap("btc", PoolDirection.ETM_TO_ASSET, 5, 1, 3, user, USER_BTC)
    far = ETM_CHAIN.tip_height + SHORT_LEG_S + MARGIN_S + 600
    rec = operator_record(swap, _htlc(user, pool_account("btc"), far), POOL, BTC, ETM_CHAIN, 1)
    assert rec is not None and rec.terms.direction is SwapDirection.ETM_TO_FOREIGN
    c = rec.terms.counter_leg
    assert (c.claim_key, c.refund_key, c.amount) == (USER_BTC, POOL.claim_key, 3)
    assert c.timelock_height == BTC.tip_height + SHORT_LEG_S // 600
    near = ETM_CHAIN.tip_height + MARGIN_S
    assert operator_record(swap, _htlc(user, pool_account("btc"), near), POOL, BTC, ETM_CHAIN,
                           1) is None  # fmt: skip


def test_final_rejections_are_exchange_reason_codes() -> None:
    # exchange reasons, plus the proof-decoding rejection of the tx-type layer (txtypes.py)
    assert {r.value for r in Reason} | {"malformed_proof"} >= FINAL_REJECTIONS
    assert "not_enough_confirmations" not in FINAL_REJECTIONS  # waiting fixes that one
    assert "bad_proof" not in FINAL_REJECTIONS  # relaying fixes that one
    # issue 11, item 7: transient refusals are retried until ETM says late_proof
    for transient in ("slippage", "insufficient_liquidity", "pool_halted", "not_bound"):
        assert transient not in FINAL_REJECTIONS, transient
    assert {"late_proof", "hashlock_used", "hashlock_reserved"} <= FINAL_REJECTIONS


def test_a_swap_out_user_reveals_only_once_the_operators_lock_is_deep_enough() -> None:
    """Review a11b: the user of a swap out claims the operator's Bitcoin lock, revealing the
    secret. At one confirmation (the terms' old value) an operator with hash power could
    replace that block, double-spend its lock and claim the user's ETM with the secret (the
    relay policy's q = 10 % succeeds about 1 in 5 at one block). ``swap start`` now takes the
    counter leg's confirmations from the node's quote (the relay's depth for the output, 6 for
    1 BTC on mainnet): the reveal guard waits for them."""
    assert _depth_of({"amount_out": 10**8, "depth": {"confirmations": 6}}) == 6
    assert _depth_of({"amount_out": 10**8}) == 1  # a node from before the depth
    for asked, first_reveal_tip in ((None, 500), (6, 505)):
        extra = {} if asked is None else {"counter_confirmations": asked}
        t = swap_out_terms(
            "s3", KIT_HASHLOCK, POOL, BTC, ETM_CHAIN, amount_in=5, min_out=10**8,
            user_foreign_key=USER_BTC, user_etm_address20=USER_ETM, now_s=NOW, **extra,
        )  # fmt: skip
        assert t.counter_leg.confirmations == (asked or 1)
        rec = SwapRecord(t, Role.USER, state=SwapState.COUNTER_LOCKED, preimage=PREIMAGE)
        user = leg("etm", 1_001, lock_for(t.user_leg, block_height=1_000), block_time_s=1)
        # the operator's lock: its timelock is its own (0 in the terms: the reveal guard checks)
        counter_lock = lock_for(replace(t.counter_leg, timelock_height=536), block_height=500)
        for tip in range(500, 507):
            counter = leg("bitcoin", tip, counter_lock, block_time_s=600)
            refusal = reveal_refusal(rec, SwapView(user, counter))
            assert (refusal is None) is (tip >= first_reveal_tip), (asked, tip, refusal)


def test_a_slow_bitcoin_no_longer_lets_a_swap_out_user_claim_after_the_etm_deadline() -> None:
    """Review a11b: a swap out's ETM lock ends by its wall-clock deadline (12 h, the least the
    exchange accepts), the operator's Bitcoin lock by its height. Sized at the nominal 10
    minutes it was 35 blocks; with blocks 21 minutes apart (a hash-rate drop; at 15 minutes the
    35 blocks outlast 12 h about 1 time in 50, at 18 minutes 1 in 5) the user claims the BTC
    at the lock's last block, after the ETM deadline, and refunds the ETM as well. The operator
    now sizes its lock by the recent spacing (``operator_chain_of``): it ends the 6 h margin
    before the ETM deadline at the rate blocks actually come."""
    FakeChain.forget("slow-btc")
    chain = FakeChain.named("slow-btc")
    chain.spacing_s = 21 * 60
    chain.mine(200)
    adapter = FakeAdapter(chain, b"\x05" * 16)
    assert adapter.recent_block_time_s() == 21 * 60
    now = 1_800_000_000
    user = encode_address(USER_ETM)
    swap = PoolSwap("btc", PoolDirection.ETM_TO_ASSET, 5, 1, 3, user, USER_BTC)
    etm = LegChain("etm", 1_000, 10)
    etm_leg_s = SHORT_LEG_S + MARGIN_S  # the shortest swap out the exchange accepts
    deadline = now + etm_leg_s - ETM_EPOCH_UNIX  # the HTLC's, in ETM-epoch seconds
    htlc = Htlc(b"\x44" * 32, user, pool_account("btc"), 10, HASHLOCK,
                etm.tip_height + etm_leg_s // 10, deadline_s=deadline)  # fmt: skip

    def last_claim_s(foreign: LegChain) -> int:
        rec = operator_record(swap, htlc, POOL, foreign, etm, now)
        assert rec is not None
        blocks = rec.terms.counter_leg.timelock_height - foreign.tip_height
        return now + blocks * chain.spacing_s  # the user claims in the lock's last block

    etm_deadline_unix = now + etm_leg_s
    nominal = chain_of("bitcoin", adapter)
    assert nominal.block_time_s == 600
    assert last_claim_s(nominal) > etm_deadline_unix  # before: the user gets both legs
    measured = operator_chain_of("bitcoin", adapter)
    assert measured.block_time_s == 21 * 60
    assert last_claim_s(measured) <= etm_deadline_unix - MARGIN_S
    FakeChain.forget("slow-btc")
