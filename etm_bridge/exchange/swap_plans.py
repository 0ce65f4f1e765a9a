"""Planners of the HTLC and swap transaction types (see :mod:`.plans` for the pattern).

Swap in: a proven foreign lock reserves pool ETM and opens a pool-funded HTLC to the user.
Swap out: the user's ETM goes into a user-funded HTLC to the pool and the asset output is
reserved. Claim settles the swap's reservation, refund releases it; the HTLC's status makes
that happen exactly once. Every HTLC gets a wall-clock deadline besides its expiry height
(:mod:`.htlc`); a swap-in's is the ETM leg after the block time. A claim of a proof-funded
HTLC (swap in) re-checks that the proven block is still on the relay's best chain at the depth
the proof needed (``proof_reorged`` otherwise): ``proof_depth(asset, block_hash)`` answers the
block's confirmations there. Pure.
"""

from __future__ import annotations

from collections.abc import Callable

from ..chain.address import encode_address
from ..chain.codec import U64, sha256
from ..chain.params import ETM_EPOCH_UNIX
from ..chain.registry import TxContext
from ..chain.state import StateView
from ..chain.tx import Tx
from ..errors import ExchangeError, SwapRuleError
from . import binding as bd
from . import hashlocks as hk
from . import htlc as hx
from . import payloads as pl
from . import pool as pm
from . import proof_budget
from . import records as rc
from . import swap_rules as sr
from .custody_port import LEGACY, CustodyPort
from .plans import TxPlan, address20, get_binding, get_htlc, get_pool, get_swap, is_used
from .reasons import Reason

#: ``(asset, block hash) -> confirmations`` of that block on the asset's relay (0: not on its
#: best chain). Bound to the chain's relays by the tx types (``ForeignVerifier.confirmations``).
ProofDepth = Callable[[StateView, str, bytes], int]

# --- HTLCs and swaps ----------------------------------------------------------------------------


def plan_htlc_lock(view: StateView, tx: Tx, p: pl.HtlcLockPayload, ctx: TxContext) -> TxPlan:
    address20(p.recipient)
    sender = encode_address(tx.sender)
    lock = hx.new_lock(
        tx.id,
        sender,
        p.recipient,
        p.amount,
        p.hashlock,
        p.expiry_height,
        ctx.height,
        timestamp=ctx.timestamp,
        block_time_s=ctx.params.block_time_s,
    )
    hk.require_usable(view, p.hashlock, sender)
    plan = TxPlan(escrow_in=[(tx.sender, p.amount)])
    plan.put(rc.HTLCS, tx.id, lock)
    hk.mark_used(plan, p.hashlock, sender, tx.id, ctx.height)
    return plan


def swap_in_htlc_id(asset: str, lock_id: bytes) -> bytes:
    """The id of the ETM HTLC a proven foreign lock creates (one per lock)."""
    return sha256(b"etm-bridge swap-in\x00" + asset.encode() + b"\x00" + lock_id)


def plan_swap_in(
    view: StateView,
    tx: Tx,
    p: pl.SwapIn,
    ctx: TxContext,
    lock: sr.VerifiedForeignLock,
    custody: CustodyPort = LEGACY,
) -> TxPlan:
    """``lock`` is the user's foreign HTLC as SPV verified it from ``p.proof``.

    The recipient may submit with any ``min_out``; anyone else only with the recipient's
    recorded :class:`~.records.SwapIntent`, whose ``min_out`` then applies (a third party must
    not choose the slippage bound and sandwich the swap).
    """
    pool = get_pool(view, p.asset)
    recipient = address20(p.recipient)
    used = {lock.lock_id} if is_used(view, "lock", lock.lock_id) else set()
    if used:  # the most telling reason first, before asking who may submit
        raise SwapRuleError(Reason.REPLAYED_PROOF, f"lock {lock.lock_id.hex()} was already used")
    min_out = _pinned_min_out(view, tx, p, recipient)
    hk.require_usable(view, lock.hashlock, p.recipient)  # permanent: before transient reasons
    custody.check_inflow(view, p.asset, lock.amount, ctx)
    request = sr.SwapInRequest(p.recipient, p.amount_in, p.hashlock, min_out)
    new_pool, terms = sr.check_swap_in(
        lock,
        request,
        pool,
        binding=get_binding(view, recipient, bd.chain_of_asset(p.asset)),
        used_lock_ids=used,
        etm_height=ctx.height,
        etm_block_s=ctx.params.block_time_s,
        etm_unix_s=ctx.timestamp + ETM_EPOCH_UNIX,
        claim_keys=custody.accepted_claim_keys(view, pool, ctx),
    )
    htlc_id = swap_in_htlc_id(p.asset, lock.lock_id)
    q = terms.quote
    htlc = hx.new_lock(
        htlc_id, rc.pool_account(p.asset), p.recipient, q.amount_out, lock.hashlock,
        terms.etm_expiry_height, ctx.height, timestamp=ctx.timestamp,
        block_time_s=ctx.params.block_time_s, deadline_s=ctx.timestamp + terms.etm_leg_s,
    )  # fmt: skip
    depth = max(lock.required_confirmations, pool.params.min_confirmations)
    swap = rc.PoolSwap(
        p.asset, q.direction, q.amount_in, q.fee, q.amount_out, p.recipient, lock.refund_key,
        lock.lock_id, lock.block_hash, depth,
    )  # fmt: skip
    plan = _open_swap(view, new_pool, htlc, swap, ctx.height)
    plan.put_raw(rc.USED, rc.used_key("lock", lock.lock_id), b"\x01")
    plan.put_raw(rc.INTENTS, recipient + p.hashlock, None)
    proof_budget.add_proven(plan, view, p.asset, lock.block_hash, lock.amount)
    custody.on_swap_in(view, plan, htlc_id, lock, ctx)
    return plan


def _pinned_min_out(view: StateView, tx: Tx, p: pl.SwapIn, recipient: bytes) -> int:
    raw = view.get_json(rc.INTENTS, recipient + p.hashlock)
    intent = None if raw is None else rc.decode(rc.SwapIntent, raw)
    if intent is None or (intent.asset, intent.amount_in) != (p.asset, p.amount_in):
        if tx.sender != recipient:
            raise SwapRuleError(
                Reason.NO_SWAP_INTENT,
                f"only {p.recipient} may submit this proof, unless they record a swap intent "
                "for this hashlock, asset and amount (it pins the minimum output)",
            )
        return p.min_out
    return max(p.min_out, intent.min_out)


def plan_swap_intent(
    view: StateView,
    tx: Tx,
    p: pl.SwapIntentPayload,
    ctx: TxContext,
    custody: CustodyPort = LEGACY,
) -> TxPlan:
    """Record (or replace) the sender's terms for a coming swap in with ``p.hashlock``, and
    reserve the hashlock for the sender (:mod:`.hashlocks`: ``hashlock_used`` if any HTLC ever
    used it, ``hashlock_reserved`` if another address reserved it)."""
    get_pool(view, p.asset)
    pm.require_amount(p.amount_in, "amount_in")
    custody.check_inflow(view, p.asset, p.amount_in, ctx)
    plan = TxPlan()
    hk.reserve(view, plan, p.hashlock, encode_address(tx.sender), ctx.height)
    plan.put(rc.INTENTS, tx.sender + p.hashlock, rc.SwapIntent(p.asset, p.amount_in, p.min_out))
    return plan


def _open_swap(
    view: StateView, pool: pm.Pool, htlc: hx.Htlc, swap: rc.PoolSwap, height: int
) -> TxPlan:
    """The writes of a new pool swap: pool, HTLC, swap record, the hashlock's one use, and the
    read indexes (the swap log in the order opened, the open set)."""
    plan = TxPlan()
    plan.put(rc.POOLS, swap.asset.encode(), pool)
    plan.put(rc.HTLCS, htlc.htlc_id, htlc)
    plan.put(rc.SWAPS, htlc.htlc_id, swap)
    hk.mark_used(plan, htlc.hashlock, swap.user, htlc.htlc_id, height)
    seq = view.get_u64(rc.SWAP_SEQ, swap.asset.encode())
    plan.put_raw(rc.SWAP_LOG, rc.asset_key(swap.asset, U64.pack(seq)), htlc.htlc_id)
    plan.put_raw(rc.SWAP_SEQ, swap.asset.encode(), U64.pack(seq + 1))
    plan.put_raw(rc.OPEN_SWAPS, rc.asset_key(swap.asset, htlc.htlc_id), b"\x01")
    return plan


def plan_swap_out(
    view: StateView, tx: Tx, p: pl.SwapOut, ctx: TxContext, custody: CustodyPort = LEGACY
) -> TxPlan:
    pool = get_pool(view, p.asset)
    custody.check_outflow(view, p.asset, ctx)
    sender = encode_address(tx.sender)
    hk.require_usable(view, p.hashlock, sender)
    request = sr.SwapOutRequest(sender, p.amount_in, p.hashlock, p.expiry_height, p.min_out)
    new_pool, terms = sr.check_swap_out(
        request,
        pool,
        binding=get_binding(view, tx.sender, bd.chain_of_asset(p.asset)),
        etm_height=ctx.height,
        etm_block_s=ctx.params.block_time_s,
    )
    q = terms.quote
    htlc = hx.new_lock(
        tx.id,
        sender,
        rc.pool_account(p.asset),
        p.amount_in,
        p.hashlock,
        p.expiry_height,
        ctx.height,
        timestamp=ctx.timestamp,
        block_time_s=ctx.params.block_time_s,
    )
    swap = rc.PoolSwap(
        p.asset, q.direction, q.amount_in, q.fee, q.amount_out, sender, terms.claim_key
    )
    plan = _open_swap(view, new_pool, htlc, swap, ctx.height)
    plan.escrow_in.append((tx.sender, p.amount_in))
    custody.on_swap_out(view, plan, htlc, swap, ctx)
    return plan


def _end_swap(view: StateView, plan: TxPlan, htlc: hx.Htlc, swap: rc.PoolSwap) -> None:
    pool = get_pool(view, swap.asset)
    claimed = htlc.status is hx.HtlcStatus.CLAIMED
    new_pool = pm.settle_swap(pool, swap.quote) if claimed else pm.release_swap(pool, swap.quote)
    plan.put(rc.POOLS, swap.asset.encode(), new_pool)
    plan.put_raw(rc.OPEN_SWAPS, rc.asset_key(swap.asset, htlc.htlc_id), None)


def _payout(plan: TxPlan, htlc: hx.Htlc) -> None:
    """Pay an ended HTLC's amount to whoever it names, unless that is a pool (stays in escrow)."""
    to = htlc.recipient if htlc.status is hx.HtlcStatus.CLAIMED else htlc.sender
    if not to.startswith("pool:"):
        plan.escrow_out.append((address20(to), htlc.amount))


def plan_htlc_claim(
    view: StateView,
    tx: Tx,
    p: pl.HtlcClaim,
    ctx: TxContext,
    proof_depth: ProofDepth | None,
    custody: CustodyPort = LEGACY,
) -> TxPlan:
    htlc = get_htlc(view, p.htlc_id)
    claimed = hx.claim(htlc, p.preimage, ctx.height, ctx.timestamp)
    swap = get_swap(view, htlc.htlc_id)
    if swap is not None and swap.proof_block:
        _require_still_proven(view, swap, proof_depth)
    plan = _finish(view, claimed)
    if swap is not None:
        custody.on_htlc_claim(view, plan, claimed, swap, p.preimage, ctx)
    return plan


def _require_still_proven(view: StateView, swap: rc.PoolSwap, depth: ProofDepth | None) -> None:
    """The swap-in's proven block must still be on the relay's best chain, as deep as the
    proof had to be: a lock reorganised out (e.g. double-spent) funds nothing."""
    have = 0 if depth is None else depth(view, swap.asset, swap.proof_block)
    if have < swap.proof_depth:
        where = "is no longer on" if have == 0 else f"has {have} confirmations on"
        raise ExchangeError(
            Reason.PROOF_REORGED,
            f"block {swap.proof_block.hex()} of the proven {swap.asset} lock {where} the "
            f"relay's best chain; {swap.proof_depth} are required: this HTLC can only be "
            "refunded to the pool",
        )


def plan_htlc_refund(
    view: StateView, tx: Tx, p: pl.HtlcRefund, ctx: TxContext, custody: CustodyPort = LEGACY
) -> TxPlan:
    refunded = hx.refund(get_htlc(view, p.htlc_id), ctx.height, ctx.timestamp)
    plan = _finish(view, refunded)
    swap = get_swap(view, refunded.htlc_id)
    if swap is not None:
        custody.on_htlc_refund(view, plan, refunded, swap, ctx)
    return plan


def _finish(view: StateView, ended: hx.Htlc) -> TxPlan:
    plan = TxPlan()
    swap = get_swap(view, ended.htlc_id)
    if swap is not None:
        _end_swap(view, plan, ended, swap)
    _payout(plan, ended)
    plan.put(rc.HTLCS, ended.htlc_id, ended)
    return plan
