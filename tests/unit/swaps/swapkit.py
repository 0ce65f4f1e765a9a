"""Builders for swap tests: terms, locks, spends and views with readable defaults.

Heights: the user leg ("btc") times out at 200, the counter leg ("etm") at 150; both tips start
at 100. Block times: 600 s and 60 s.
"""

from __future__ import annotations

from dataclasses import replace

from etm_bridge.adapter import HtlcLock, HtlcSpend, HtlcTerms, LockState, SpendKind
from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import Role, SwapDirection, SwapState
from etm_bridge.swaps.core.model import LegTerms, SwapRecord, SwapTerms
from etm_bridge.swaps.core.views import LegView, ProofStatus, ProofView, SwapView

PREIMAGE = bytes(range(32))
HASHLOCK = sha256(PREIMAGE)
USER_KEY = b"\x02" + b"\x11" * 32
OPERATOR_KEY = b"\x03" + b"\x22" * 32
NOW = 1_700_000_000


def terms(direction: SwapDirection = SwapDirection.FOREIGN_TO_ETM, **over: object) -> SwapTerms:
    foreign, etm = "btc", "etm"
    user_chain, counter_chain = (
        (foreign, etm) if direction is SwapDirection.FOREIGN_TO_ETM else (etm, foreign)
    )
    user_leg = LegTerms(user_chain, 100_000, OPERATOR_KEY, USER_KEY, 200, confirmations=2)
    counter_leg = LegTerms(counter_chain, 5_000_000, USER_KEY, OPERATOR_KEY, 150)
    base = SwapTerms(
        swap_id="s1",
        direction=direction,
        hashlock=HASHLOCK,
        user_leg=user_leg,
        counter_leg=counter_leg,
        created_at_s=NOW,
        lock_deadline_s=NOW + 600,
        reveal_margin_blocks=10,
    )
    return replace(base, **over)  # type: ignore[arg-type]


def record(
    state: SwapState = SwapState.CREATED,
    role: Role = Role.USER,
    direction: SwapDirection = SwapDirection.FOREIGN_TO_ETM,
    **over: object,
) -> SwapRecord:
    preimage = PREIMAGE if role is Role.USER else None
    rec = SwapRecord(terms=terms(direction), role=role, state=state, preimage=preimage)
    return replace(rec, **over)  # type: ignore[arg-type]


def lock_for(
    leg: LegTerms,
    block_height: int | None = 100,
    state: LockState = LockState.OPEN,
    **term_over: object,
) -> HtlcLock:
    t = HtlcTerms(
        amount=leg.amount,
        hashlock=HASHLOCK,
        claim_key=leg.claim_key,
        refund_key=leg.refund_key,
        timelock_height=leg.timelock_height,
    )
    return HtlcLock(
        leg.chain,
        f"{leg.chain}-lock",
        f"{leg.chain}-locktx",
        replace(t, **term_over),  # type: ignore[arg-type]
        block_height,
        state,
    )


def claim_of(lock: HtlcLock, preimage: bytes = PREIMAGE, height: int | None = 120) -> HtlcSpend:
    return HtlcSpend(lock.lock_id, f"{lock.chain}-claimtx", SpendKind.CLAIM, preimage, height)


def refund_of(lock: HtlcLock, height: int | None = 220) -> HtlcSpend:
    return HtlcSpend(lock.lock_id, f"{lock.chain}-refundtx", SpendKind.REFUND, None, height)


def leg(
    chain: str,
    tip: int = 100,
    lock: HtlcLock | None = None,
    spend: HtlcSpend | None = None,
    block_time_s: int | None = None,
) -> LegView:
    bt = block_time_s or (600 if chain == "btc" else 60)
    return LegView(chain, tip, bt, lock, spend)


def view(
    rec: SwapRecord,
    *,
    user_tip: int = 100,
    counter_tip: int = 100,
    user_lock: HtlcLock | None = None,
    counter_lock: HtlcLock | None = None,
    user_spend: HtlcSpend | None = None,
    counter_spend: HtlcSpend | None = None,
    proof: ProofView | None = None,
    removed: frozenset = frozenset(),
) -> SwapView:
    t = rec.terms
    if proof is None and t.direction is SwapDirection.FOREIGN_TO_ETM:
        proof = ProofView(relay_tip_height=user_tip, status=ProofStatus.NONE)
    return SwapView(
        leg(t.user_leg.chain, user_tip, user_lock, user_spend),
        leg(t.counter_leg.chain, counter_tip, counter_lock, counter_spend),
        proof,
        removed,
    )
