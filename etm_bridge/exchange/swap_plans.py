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
from . import hashlocks, intents, payloads, proof_budget, records, swap_rules
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
    not choose the slippage bound and sandwich the swap). A live intent for this asset and
    amount gives the swap the quote it reserved and its bond back (issue 15, :mod:`.intents`);
    any other intent of the recipient for the hashlock is released as a cancel is (the LPs
    keep the charge for the blocks held, the whole bond if it expired).
    """
    pool = get_pool(view, p.asset)
    recipient = address20(p.recipient)
    used = {lock.lock_id} if is_used(view, "lock", lock.lock_id) else set()
    if used:  # the most telling reason first, before asking who may submit
        raise SwapRuleError(Reason.REPLAYED_PROOF, f"lock {lock.lock_id.hex()} was already used")
    plan = TxPlan()
    pool, swept = intents.sweep_expired(view, plan, pool, ctx.height)
    intent = _live_intent(view, swept, recipient, p.hashlock)
    matches = (
        intent is not None
        and intents.is_live(intent, ctx.height)  # expired, not swept yet: forfeited below
        and (intent.asset, intent.amount_in) == (p.asset, p.amount_in)
    )
    min_out = _pinned_min_out(tx, p, recipient, intent if matches else None)
    hashlocks.require_usable(
        view, lock.hashlock, p.recipient
    )  # permanent: before transient reasons
    custody.check_inflow(view, p.asset, lock.amount, ctx)
    reserved = None
    if intent is not None:
        if matches:  # live: the lock is proven, the bond goes back
            plan.escrow_out.append((recipient, intent.bond))
            reserved = intents.quote_of(intent)
            plan.put_raw(records.INTENTS, intents.key(recipient, p.hashlock), None)
            plan.put_raw(
                records.INTENT_EXPIRY,
                intents.expiry_key(intent.asset, intent.expiry_height, recipient, p.hashlock),
                None,
            )
        else:  # other terms or expired: ended as a cancel now (review x6b; expired: all)
            pool = _drop_in(view, plan, pool, recipient, p.hashlock, intent, ctx.height)
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
        reserved=reserved,
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
    _open_swap(view, new_pool, htlc, swap, ctx.height, plan)
    plan.put_raw(records.USED, records.used_key("lock", lock.lock_id), b"\x01")
    proof_budget.add_proven(plan, view, p.asset, lock.block_hash, lock.amount)
    custody.on_swap_in(view, plan, htlc_id, lock, ctx)
    return plan


def _live_intent(
    view: StateView, swept: set[bytes], owner20: bytes, hashlock: bytes
) -> records.SwapIntent | None:
    """The owner's intent for ``hashlock`` unless the sweep of this tx just forfeited it."""
    return None if intents.key(owner20, hashlock) in swept else intents.get(view, owner20, hashlock)


def _drop_in(
    view: StateView,
    plan: TxPlan,
    pool: pool_math.Pool,
    owner20: bytes,
    hashlock: bytes,
    intent: records.SwapIntent,
    height: int,
) -> pool_math.Pool:
    """End ``intent`` at a proof with other terms as a cancel at ``height`` does (the LPs keep
    :func:`~.intents.cancel_charge`, the whole bond if it expired): a tiny proof with the
    hashlock must not make holding the pool free (review x6b). Its pool is ``pool`` if it is
    the same, else the other pool is written here and ``pool`` returned unchanged."""
    own = intent.asset == pool.params.asset
    other = _cancel(
        plan, pool if own else get_pool(view, intent.asset), owner20, hashlock, intent, height
    )
    if own:
        return other
    plan.put(records.POOLS, intent.asset.encode(), other)
    return pool


def _pinned_min_out(
    tx: Tx, p: payloads.SwapIn, recipient: bytes, intent: records.SwapIntent | None
) -> int:
    if intent is None:
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
    """Record the sender's terms for a coming swap in with ``p.hashlock``, reserve the hashlock
    for the sender (:mod:`.hashlocks`: ``hashlock_used`` if any HTLC ever used it,
    ``hashlock_reserved`` if another address reserved it), and reserve the quoted ETM output
    against a bond (:mod:`.intents`: ``slippage`` / ``insufficient_liquidity`` now, before the
    user locks anything). The sender's live intent for the hashlock in the same pool is
    replaced as if cancelled (the cancel charge applies)."""
    pool = get_pool(view, p.asset)
    pool_math.require_amount(p.amount_in, "amount_in")
    custody.check_inflow(view, p.asset, p.amount_in, ctx)
    plan = TxPlan()
    pool, swept = intents.sweep_expired(view, plan, pool, ctx.height)
    owner = encode_address(tx.sender)
    hashlocks.reserve(view, plan, p.hashlock, owner, ctx.height)
    old = _live_intent(view, swept, tx.sender, p.hashlock)
    if old is not None:
        if old.asset != p.asset:
            raise ExchangeError(
                Reason.INTENT_OTHER_ASSET,
                f"your intent for hashlock {p.hashlock.hex()} is for the {old.asset} pool: "
                "cancel it first (swap cancel)",
            )
        pool = _cancel(plan, pool, tx.sender, p.hashlock, old, ctx.height)
    new_pool, q = pool_math.reserve_swap(
        pool, pool_math.PoolDirection.ASSET_TO_ETM, p.amount_in, p.min_out
    )
    bond = intents.bond_for(q.amount_out)
    expiry = ctx.height + intents.lifetime_blocks(ctx.params.block_time_s)
    intent = records.SwapIntent(
        p.asset, p.amount_in, p.min_out, q.amount_out, q.fee, bond, ctx.height, expiry
    )
    plan.escrow_in.append((tx.sender, bond))
    plan.put(records.INTENTS, intents.key(tx.sender, p.hashlock), intent)
    plan.put_raw(
        records.INTENT_EXPIRY, intents.expiry_key(p.asset, expiry, tx.sender, p.hashlock), b"\x01"
    )
    plan.put(records.POOLS, p.asset.encode(), new_pool)
    return plan


def _cancel(
    plan: TxPlan,
    pool: pool_math.Pool,
    owner20: bytes,
    hashlock: bytes,
    intent: records.SwapIntent,
    height: int,
) -> pool_math.Pool:
    """Release a live intent: the LPs keep the cancel charge, the owner gets the rest back."""
    charge = intents.cancel_charge(intent, height)
    if intent.bond > charge:
        plan.escrow_out.append((owner20, intent.bond - charge))
    return intents.to_lps(intents.drop(plan, pool, owner20, hashlock, intent), charge)


def plan_swap_intent_cancel(
    view: StateView,
    tx: Tx,
    p: payloads.SwapIntentCancel,
    ctx: TxContext,
    custody: CustodyPort = LEGACY,
) -> TxPlan:
    """The sender cancels their intent for ``p.hashlock`` (issue 15): the reservation is
    released and the bond comes back less :func:`~.intents.cancel_charge`. An expired intent
    is forfeited instead (its whole bond to the LPs); none at all: ``no_swap_intent`` (also
    after its proof was accepted: the bond came back then, once)."""
    intent = intents.get(view, tx.sender, p.hashlock)
    if intent is None:
        raise SwapRuleError(
            Reason.NO_SWAP_INTENT,
            f"{encode_address(tx.sender)} has no swap intent for hashlock {p.hashlock.hex()} "
            "(never recorded, cancelled, or its proof was accepted already)",
        )
    plan = TxPlan()
    pool, swept = intents.sweep_expired(view, plan, get_pool(view, intent.asset), ctx.height)
    if intents.key(tx.sender, p.hashlock) not in swept:
        pool = _cancel(plan, pool, tx.sender, p.hashlock, intent, ctx.height)
    plan.put(records.POOLS, intent.asset.encode(), pool)
    return plan


def _open_swap(
    view: StateView,
    pool: pool_math.Pool,
    htlc: htlc_rules.Htlc,
    swap: records.PoolSwap,
    height: int,
    plan: TxPlan | None = None,
) -> TxPlan:
    """The writes of a new pool swap: pool, HTLC, swap record, the hashlock's one use, and the
    read indexes (the swap log in the order opened, the open set), into ``plan`` (a new one
    if None)."""
    plan = TxPlan() if plan is None else plan
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
        network_fee=custody.quote_fee(view, p.asset),
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
