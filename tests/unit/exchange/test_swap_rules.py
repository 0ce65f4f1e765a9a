"""Contract-side swap checks: every rejection reason, the leg arithmetic, and no leftovers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from etm_bridge.errors import ExchangeError, SlippageError, SwapRuleError
from etm_bridge.exchange import pool as P
from etm_bridge.exchange import swap_rules as S
from etm_bridge.exchange.binding import Binding
from etm_bridge.exchange.reasons import Reason
from etm_bridge.hashlock import hashlock_of

POOL_KEY = b"\x02" + b"\xaa" * 32
USER_KEY = b"\x03" + b"\xbb" * 32
H = hashlock_of(b"\x05" * 32)
USER = "etm1user"
BINDING = Binding(USER, "btc", USER_KEY, 1, 1)
ETM_BLOCK_S = 10
BTC_BLOCK_S = 600
H0 = 1_000  # height of the block holding the user's BTC lock
NOW = 1_800_000_000  # the ETM block's time (unix s)


def pool() -> P.Pool:
    params = P.PoolParams("btc", "etm1op", POOL_KEY, fee_ppm=3_000, min_confirmations=6)
    p, _ = P.add_liquidity(P.Pool(params), 10**8, 10**12)
    return p


def lock(**kw: Any) -> S.VerifiedForeignLock:
    """A lock mined at H0; the relay tip (default H0 + 5) is fresh (stamped NOW) and blocks
    came every 10 minutes, so the lock's block is ``(tip - H0) * 600`` s old."""
    tip = kw.get("tip_height", H0 + 5)
    base: dict[str, Any] = {
        "asset": "btc",
        "lock_id": b"txid:0",
        "amount": 1_000_000,
        "hashlock": H,
        "claim_key": POOL_KEY,
        "refund_key": USER_KEY,
        "timelock_height": H0 + 72,  # 12 h of 10-minute blocks
        "confirmations": 6,
        "required_confirmations": 6,
        "block_hash": b"\xb1" * 32,
        "lock_height": H0,
        "lock_time_s": NOW - (tip - H0) * BTC_BLOCK_S,
        "tip_height": H0 + 5,  # the lock's block plus 5 more: 6 confirmations
        "tip_time_s": NOW,
        "block_time_s": BTC_BLOCK_S,
        "max_relay_lag_s": 7_200,
    }
    base.update(kw)
    return S.VerifiedForeignLock(**base)


REQ = S.SwapInRequest(USER, 1_000_000, H, min_out=1)


def swap_in(lk: S.VerifiedForeignLock | None = None, **kw: Any) -> tuple[P.Pool, S.SwapInTerms]:
    args: dict[str, Any] = {
        "binding": BINDING,
        "used_lock_ids": frozenset(),
        "etm_height": 500,
        "etm_block_s": ETM_BLOCK_S,
        "etm_unix_s": NOW,
    }
    req = kw.pop("req", REQ)
    args.update(kw)
    return S.check_swap_in(lk or lock(), req, pool(), **args)


def reason(call: Any) -> str:
    with pytest.raises(ExchangeError) as exc:
        call()
    return exc.value.reason


def test_swap_in_reserves_etm_and_sets_the_short_leg() -> None:
    new_pool, terms = swap_in()
    # remaining = 67 blocks * 600 s = 40200 s; leg = min(6 h, 40200 - 6 h margin) = 18600 s
    assert terms.etm_leg_s == 67 * 600 - S.MARGIN_S == 18_600
    assert terms.etm_expiry_height == 500 + 18_600 // ETM_BLOCK_S
    assert terms.quote == P.quote(pool(), P.PoolDirection.ASSET_TO_ETM, 1_000_000)
    assert new_pool.etm_reserved == terms.quote.amount_out
    assert new_pool.asset_pending_in == 1_000_000


def test_swap_in_leg_is_the_default_when_time_allows() -> None:
    _, terms = swap_in(lock(timelock_height=H0 + 200))
    assert terms.etm_leg_s == S.SHORT_LEG_S


def test_late_proof_is_rejected_and_boundary_accepted() -> None:
    need_blocks = (S.MIN_ETM_LEG_S + S.MARGIN_S) // BTC_BLOCK_S  # 42 blocks = 7 h
    ok_tip = H0 + 72 - need_blocks
    _, terms = swap_in(lock(tip_height=ok_tip))
    assert terms.etm_leg_s == S.MIN_ETM_LEG_S
    assert reason(lambda: swap_in(lock(tip_height=ok_tip + 1))) == Reason.LATE_PROOF
    assert reason(lambda: swap_in(lock(tip_height=H0 + 80))) == Reason.LATE_PROOF  # expired


def test_each_mismatch_is_rejected_with_its_reason() -> None:
    cases = {
        Reason.REPLAYED_PROOF: lambda: swap_in(used_lock_ids={b"txid:0"}),
        Reason.WRONG_CHAIN: lambda: swap_in(lock(asset="eth")),
        Reason.NOT_ENOUGH_CONFIRMATIONS: lambda: swap_in(lock(confirmations=5)),
        Reason.WRONG_AMOUNT: lambda: swap_in(lock(amount=999_999)),
        Reason.WRONG_HASHLOCK: lambda: swap_in(lock(hashlock=b"\x00" * 32)),
        Reason.BAD_HASHLOCK: lambda: swap_in(req=replace(REQ, hashlock=b"\x00" * 5)),
        Reason.WRONG_CLAIM_KEY: lambda: swap_in(lock(claim_key=USER_KEY)),
        Reason.WRONG_REFUND_KEY: lambda: swap_in(lock(refund_key=POOL_KEY)),
        Reason.NOT_BOUND: lambda: swap_in(binding=None),
    }
    for expected, call in cases.items():
        assert reason(call) == expected, expected


def test_swap_in_slippage_bound() -> None:
    out = P.quote(pool(), P.PoolDirection.ASSET_TO_ETM, 1_000_000).amount_out
    with pytest.raises(SlippageError):
        swap_in(req=replace(REQ, min_out=out + 1))
    assert swap_in(req=replace(REQ, min_out=out))[1].quote.amount_out == out


def test_swap_in_leg_shorter_than_one_etm_block_is_late() -> None:
    assert reason(lambda: swap_in(etm_block_s=S.SHORT_LEG_S * 10)) == Reason.LATE_PROOF


# --- swap out -----------------------------------------------------------------------------------


def out_req(**kw: Any) -> S.SwapOutRequest:
    base: dict[str, Any] = {
        "sender": USER,
        "amount_in": 10**9,
        "hashlock": H,
        "expiry_height": 500 + S.LONG_LEG_S // ETM_BLOCK_S,
        "min_out": 0,
    }
    base.update(kw)
    return S.SwapOutRequest(**base)


def swap_out(req: S.SwapOutRequest | None = None, **kw: Any) -> tuple[P.Pool, S.SwapOutTerms]:
    args: dict[str, Any] = {"binding": BINDING, "etm_height": 500, "etm_block_s": ETM_BLOCK_S}
    args.update(kw)
    return S.check_swap_out(req or out_req(), pool(), **args)


def test_swap_out_reserves_the_asset_and_names_the_operator_lock() -> None:
    new_pool, terms = swap_out()
    assert terms.claim_key == USER_KEY and terms.refund_key == POOL_KEY
    assert terms.hashlock == H
    assert terms.latest_foreign_expiry_s == S.LONG_LEG_S - S.MARGIN_S
    assert new_pool.asset_reserved == terms.quote.amount_out
    assert new_pool.etm_pending_in == 10**9


def test_swap_out_rejections() -> None:
    short = 500 + (S.SHORT_LEG_S + S.MARGIN_S) // ETM_BLOCK_S - 1
    long = 500 + S.MAX_LEG_S // ETM_BLOCK_S + 1
    cases = {
        Reason.NOT_BOUND: lambda: swap_out(binding=None),
        Reason.LEG_TOO_SHORT: lambda: swap_out(out_req(expiry_height=short)),
        Reason.LEG_TOO_LONG: lambda: swap_out(out_req(expiry_height=long)),
        Reason.BAD_HASHLOCK: lambda: swap_out(out_req(hashlock=b"")),
        Reason.BAD_AMOUNT: lambda: swap_out(out_req(amount_in=0)),
        Reason.SLIPPAGE: lambda: swap_out(out_req(min_out=10**12)),
    }
    for expected, call in cases.items():
        assert reason(call) == expected, expected
    with pytest.raises(SwapRuleError):
        swap_out(binding=None)
