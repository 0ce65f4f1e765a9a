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
from . import binding as address_binding
from . import hashlocks, payloads, proof_budget, records, swap_rules
from . import htlc as htlc_rules
from . import pool as pool_math
from .custody_port import LEGACY, CustodyPort
from .plans import TxPlan, address20, get_binding, get_htlc, get_pool, get_swap, is_used
from .reasons import Reason

#: ``(asset, block hash) -> confirmations`` of that block on the asset's relay (0: not on its
#: best chain). Bound to the chain's relays by the tx types (``ForeignVerifier.confirmations``).
ProofDepth = Callable[[StateView, str, bytes], int]

# --- HTLCs and swaps ----------------------------------------------------------------------------


def plan_htlc_lock(view: StateView, tx: Tx, p: payloads.HtlcLockPayload, ctx: TxContext) -> TxPlan:
    address20(p.recipient)
    sender = encode_address(tx.sender)
    lock = htlc_rules.new_lock(
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
    hashlocks.require_usable(view, p.hashlock, sender)
    plan = TxPlan(escrow_in=[(tx.sender, p.amount)])
    plan.put(records.HTLCS, tx.id, lock)
    hashlocks.mark_used(plan, p.hashlock, sender, tx.id, ctx.height)
    return plan


def swap_in_htlc_id(asset: str, lock_id: bytes) -> bytes:
    """The id of the ETM HTLC a proven foreign lock creates (one per lock)."""
    return sha256(b"etm-bridge swap-in\x00" + asset.encode() + b"\x00" + lock_id)


def plan_swap_in(
    view: StateView,
    tx: Tx,
    p: payloads.SwapIn,
    ctx: TxContext,
    lock: swap_rules.VerifiedForeignLock,
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
    hashlocks.require_usable(
        view, lock.hashlock, p.recipient
    )  # permanent: before transient reasons
    custody.check_inflow(view, p.asset, lock.amount, ctx)
    request = swap_rules.SwapInRequest(p.recipient, p.amount_in, p.hashlock, min_out)
    new_pool, terms = swap_rules.check_swap_in(
        lock,
        request,
        pool,
        binding=get_binding(view, recipient, address_binding.chain_of_asset(p.asset)),
        used_lock_ids=used,
        etm_height=ctx.height,
        etm_block_s=ctx.params.block_time_s,
        etm_unix_s=ctx.timestamp + ETM_EPOCH_UNIX,
        claim_keys=custody.accepted_claim_keys(view, pool, ctx),
    )
    htlc_id = swap_in_htlc_id(p.asset, lock.lock_id)
    q = terms.quote
    htlc = htlc_rules.new_lock(
        htlc_id, records.pool_account(p.asset), p.recipient, q.amount_out, lock.hashlock,
        terms.etm_expiry_height, ctx.height, timestamp=ctx.timestamp,
        block_time_s=ctx.params.block_time_s, deadline_s=ctx.timestamp + terms.etm_leg_s,
    )  # fmt: skip
    depth = max(lock.required_confirmations, pool.params.min_confirmations)
    swap = records.PoolSwap(
        p.asset, q.direction, q.amount_in, q.fee, q.amount_out, p.recipient, lock.refund_key,
        lock.lock_id, lock.block_hash, depth,
    )  # fmt: skip
    plan = _open_swap(view, new_pool, htlc, swap, ctx.height)
    plan.put_raw(records.USED, records.used_key("lock", lock.lock_id), b"\x01")
    plan.put_raw(records.INTENTS, recipient + p.hashlock, None)
    proof_budget.add_proven(plan, view, p.asset, lock.block_hash, lock.amount)
    custody.on_swap_in(view, plan, htlc_id, lock, ctx)
    return plan


def _pinned_min_out(view: StateView, tx: Tx, p: payloads.SwapIn, recipient: bytes) -> int:
    raw = view.get_json(records.INTENTS, recipient + p.hashlock)
    intent = None if raw is None else records.decode(records.SwapIntent, raw)
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
    p: payloads.SwapIntentPayload,
    ctx: TxContext,
    custody: CustodyPort = LEGACY,
) -> TxPlan:
    """Record (or replace) the sender's terms for a coming swap in with ``p.hashlock``, and
    reserve the hashlock for the sender (:mod:`.hashlocks`: ``hashlock_used`` if any HTLC ever
    used it, ``hashlock_reserved`` if another address reserved it)."""
    get_pool(view, p.asset)
    pool_math.require_amount(p.amount_in, "amount_in")
    custody.check_inflow(view, p.asset, p.amount_in, ctx)
    plan = TxPlan()
    hashlocks.reserve(view, plan, p.hashlock, encode_address(tx.sender), ctx.height)
    plan.put(
        records.INTENTS, tx.sender + p.hashlock, records.SwapIntent(p.asset, p.amount_in, p.min_out)
    )
    return plan


def _open_swap(
    view: StateView,
    pool: pool_math.Pool,
    htlc: htlc_rules.Htlc,
    swap: records.PoolSwap,
    height: int,
) -> TxPlan:
    """The writes of a new pool swap: pool, HTLC, swap record, the hashlock's one use, and the
    read indexes (the swap log in the order opened, the open set)."""
    plan = TxPlan()
    plan.put(records.POOLS, swap.asset.encode(), pool)
    plan.put(records.HTLCS, htlc.htlc_id, htlc)
    plan.put(records.SWAPS, htlc.htlc_id, swap)
    hashlocks.mark_used(plan, htlc.hashlock, swap.user, htlc.htlc_id, height)
    seq = view.get_u64(records.SWAP_SEQ, swap.asset.encode())
    plan.put_raw(records.SWAP_LOG, records.asset_key(swap.asset, U64.pack(seq)), htlc.htlc_id)
    plan.put_raw(records.SWAP_SEQ, swap.asset.encode(), U64.pack(seq + 1))
    plan.put_raw(records.OPEN_SWAPS, records.asset_key(swap.asset, htlc.htlc_id), b"\x01")
    return plan


def plan_swap_out(
    view: StateView, tx: Tx, p: payloads.SwapOut, ctx: TxContext, custody: CustodyPort = LEGACY
) -> TxPlan:
    pool = get_pool(view, p.asset)
    custody.check_outflow(view, p.asset, ctx)
    sender = encode_address(tx.sender)
    hashlocks.require_usable(view, p.hashlock, sender)
    request = swap_rules.SwapOutRequest(sender, p.amount_in, p.hashlock, p.expiry_height, p.min_out)
    new_pool, terms = swap_rules.check_swap_out(
        request,
        pool,
        binding=get_binding(view, tx.sender, address_binding.chain_of_asset(p.asset)),
        etm_height=ctx.height,
        etm_block_s=ctx.params.block_time_s,
    )
    q = terms.quote
    htlc = htlc_rules.new_lock(
        tx.id,
        sender,
        records.pool_account(p.asset),
        p.amount_in,
        p.hashlock,
        p.expiry_height,
        ctx.height,
        timestamp=ctx.timestamp,
        block_time_s=ctx.params.block_time_s,
    )
    swap = records.PoolSwap(
        p.asset, q.direction, q.amount_in, q.fee, q.amount_out, sender, terms.claim_key
    )
    plan = _open_swap(view, new_pool, htlc, swap, ctx.height)
    plan.escrow_in.append((tx.sender, p.amount_in))
    custody.on_swap_out(view, plan, htlc, swap, ctx)
    return plan


def _end_swap(view: StateView, plan: TxPlan, htlc: htlc_rules.Htlc, swap: records.PoolSwap) -> None:
    pool = get_pool(view, swap.asset)
    claimed = htlc.status is htlc_rules.HtlcStatus.CLAIMED
    new_pool = (
        pool_math.settle_swap(pool, swap.quote)
        if claimed
        else pool_math.release_swap(pool, swap.quote)
    )
    plan.put(records.POOLS, swap.asset.encode(), new_pool)
    plan.put_raw(records.OPEN_SWAPS, records.asset_key(swap.asset, htlc.htlc_id), None)


def _payout(plan: TxPlan, htlc: htlc_rules.Htlc) -> None:
    """Pay an ended HTLC's amount to whoever it names, unless that is a pool (stays in escrow)."""
    to = htlc.recipient if htlc.status is htlc_rules.HtlcStatus.CLAIMED else htlc.sender
    if not to.startswith("pool:"):
        plan.escrow_out.append((address20(to), htlc.amount))


def plan_htlc_claim(
    view: StateView,
    tx: Tx,
    p: payloads.HtlcClaim,
    ctx: TxContext,
    proof_depth: ProofDepth | None,
    custody: CustodyPort = LEGACY,
) -> TxPlan:
    htlc = get_htlc(view, p.htlc_id)
    claimed = htlc_rules.claim(htlc, p.preimage, ctx.height, ctx.timestamp)
    swap = get_swap(view, htlc.htlc_id)
    if swap is not None and swap.proof_block:
        _require_still_proven(view, swap, proof_depth)
    plan = _finish(view, claimed)
    if swap is not None:
        custody.on_htlc_claim(view, plan, claimed, swap, p.preimage, ctx)
    return plan


def _require_still_proven(
    view: StateView, swap: records.PoolSwap, depth: ProofDepth | None
) -> None:
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
    view: StateView, tx: Tx, p: payloads.HtlcRefund, ctx: TxContext, custody: CustodyPort = LEGACY
) -> TxPlan:
    refunded = htlc_rules.refund(get_htlc(view, p.htlc_id), ctx.height, ctx.timestamp)
    plan = _finish(view, refunded)
    swap = get_swap(view, refunded.htlc_id)
    if swap is not None:
        custody.on_htlc_refund(view, plan, refunded, swap, ctx)
    return plan


def _finish(view: StateView, ended: htlc_rules.Htlc) -> TxPlan:
    plan = TxPlan()
    swap = get_swap(view, ended.htlc_id)
    if swap is not None:
        _end_swap(view, plan, ended, swap)
    _payout(plan, ended)
    plan.put(records.HTLCS, ended.htlc_id, ended)
    return plan
