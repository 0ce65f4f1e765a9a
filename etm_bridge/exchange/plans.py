"""Planners of the exchange transaction types: state reads + pure rules -> a :class:`TxPlan`.

A planner reads exchange records from a :class:`~etm_bridge.chain.state.StateView`, runs the
rules of :mod:`.pool`, :mod:`.htlc`, :mod:`.binding`, :mod:`.swap_rules` and
:mod:`.obligations`, and returns the writes and ETM escrow moves; it never writes. Pure.
ETM addresses in records are ``etm1...`` strings; table keys use the 20-byte hash.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..chain.address import decode_address, encode_address
from ..chain.codec import U64
from ..chain.registry import TxContext
from ..chain.state import StateView
from ..chain.tx import Tx
from ..errors import AddressError, ExchangeError, HtlcError
from . import binding as address_binding
from . import htlc, intents, payloads, proof_budget, records
from . import obligations as obligation_rules
from . import pool as pool_math
from .custody_port import LEGACY, CustodyPort
from .escrow_plan import EscrowPlan
from .reasons import Reason


@dataclass
class TxPlan(EscrowPlan):
    """Writes (``None`` deletes) and ETM moves into / out of the exchange escrow."""

    ESCROW = records.ESCROW

    def put(self, table: str, key: bytes, record: Any) -> None:
        self.writes[(table, key)] = None if record is None else records.encode(record)

    def put_raw(self, table: str, key: bytes, value: bytes | None) -> None:
        self.writes[(table, key)] = value


# --- reads --------------------------------------------------------------------------------------


def get_pool(view: StateView, asset: str) -> pool_math.Pool:
    raw = view.get_json(records.POOLS, asset.encode())
    if raw is None:
        raise ExchangeError(Reason.UNKNOWN_POOL, f"no pool for asset {asset!r}")
    return records.decode(pool_math.Pool, raw)


def get_htlc(view: StateView, htlc_id: bytes) -> htlc.Htlc:
    raw = view.get_json(records.HTLCS, htlc_id)
    if raw is None:
        raise HtlcError(Reason.UNKNOWN_HTLC, f"no HTLC {htlc_id.hex()}")
    return records.decode(htlc.Htlc, raw)


def get_swap(view: StateView, htlc_id: bytes) -> records.PoolSwap | None:
    raw = view.get_json(records.SWAPS, htlc_id)
    return None if raw is None else records.decode(records.PoolSwap, raw)


def get_binding(view: StateView, address20: bytes, chain: str) -> address_binding.Binding | None:
    raw = view.get_json(records.BINDINGS, address20 + chain.encode())
    return None if raw is None else records.decode(address_binding.Binding, raw)


def get_obligation(view: StateView, obligation_id: int) -> obligation_rules.Obligation:
    raw = view.get_json(records.OBLIGATIONS, U64.pack(obligation_id))
    if raw is None:
        raise ExchangeError(Reason.UNKNOWN_OBLIGATION, f"no obligation {obligation_id}")
    return records.decode(obligation_rules.Obligation, raw)


def get_shares(view: StateView, asset: str, address20: bytes) -> int:
    return view.get_u64(records.SHARES, records.share_key(asset, address20))


def is_used(view: StateView, kind: str, ident: bytes) -> bool:
    return view.get(records.USED, records.used_key(kind, ident)) is not None


def address20(text: str) -> bytes:
    try:
        return decode_address(text)
    except AddressError as exc:
        raise ExchangeError(Reason.BAD_PARAMETER, str(exc)) from None


def network_name(ctx: TxContext) -> str:
    """The ETM network as binding messages name it, e.g. ``0x45544d01``."""
    return f"{ctx.params.network_id:#010x}"


# --- pools and binding --------------------------------------------------------------------------


def plan_pool_create(
    view: StateView, tx: Tx, p: payloads.PoolCreate, ctx: TxContext, custody: CustodyPort = LEGACY
) -> TxPlan:
    custody.check_pool_create(view, tx, p.asset)
    if view.get(records.POOLS, p.asset.encode()) is not None:
        raise ExchangeError(Reason.POOL_EXISTS, f"a pool for {p.asset} exists already")
    key_len = address_binding.key_length(address_binding.chain_of_asset(p.asset))
    if len(p.claim_key) != key_len:
        raise ExchangeError(
            Reason.BAD_PARAMETER,
            f"a {p.asset} pool's claim key is {key_len} bytes, got {len(p.claim_key)}",
        )
    params = pool_math.PoolParams(
        p.asset,
        encode_address(tx.sender),
        p.claim_key,
        p.fee_ppm,
        p.obligation_blocks,
        p.min_confirmations,
        p.min_withdrawal,
    )
    plan = TxPlan()
    plan.put(records.POOLS, p.asset.encode(), pool_math.Pool(params))
    return plan


def plan_bind(view: StateView, tx: Tx, p: payloads.Bind, ctx: TxContext) -> TxPlan:
    proof = address_binding.BindingProof(
        encode_address(tx.sender), p.chain, p.key, p.nonce, p.expiry_height, p.signature
    )
    nonce_key = tx.sender + p.chain.encode()
    owner_raw = view.get(records.KEY_OWNERS, p.chain.encode() + b"\x00" + p.key)
    current = get_binding(view, tx.sender, p.chain)
    new = address_binding.check_binding(
        proof,
        sender=encode_address(tx.sender),
        network=network_name(ctx),
        height=ctx.height,
        last_nonce=view.get_u64(records.NONCES, nonce_key)
        if view.get(records.NONCES, nonce_key)
        else None,
        current=current,
        key_owner=None if owner_raw is None else encode_address(owner_raw),
        rebind=p.rebind,
    )
    plan = TxPlan()
    if current is not None:
        plan.put_raw(records.KEY_OWNERS, current.chain.encode() + b"\x00" + current.key, None)
    plan.put(records.BINDINGS, nonce_key, new)
    plan.put_raw(records.KEY_OWNERS, p.chain.encode() + b"\x00" + p.key, tx.sender)
    plan.put_raw(records.NONCES, nonce_key, U64.pack(p.nonce))
    return plan


def plan_unbind(view: StateView, tx: Tx, p: payloads.Unbind, ctx: TxContext) -> TxPlan:
    current = get_binding(view, tx.sender, p.chain)
    if current is None:
        raise ExchangeError(Reason.NOT_BOUND, f"{encode_address(tx.sender)} has no {p.chain} key")
    plan = TxPlan()
    plan.put_raw(records.BINDINGS, tx.sender + p.chain.encode(), None)
    plan.put_raw(records.KEY_OWNERS, current.chain.encode() + b"\x00" + current.key, None)
    return plan


# --- liquidity ----------------------------------------------------------------------------------


def _pack_u64(value: int, what: str) -> bytes:
    """``value`` as the chain's u64, or a clean rejection (a ``struct.error`` is no reason)."""
    if not 0 <= value < 2**64:
        raise ExchangeError(
            Reason.BAD_AMOUNT, f"{what} would be {value}, beyond the u64 the chain stores"
        )
    return U64.pack(value)


def plan_lp_deposit(
    view: StateView,
    tx: Tx,
    p: payloads.LpDeposit,
    ctx: TxContext,
    deposit: obligation_rules.VerifiedDeposit,
    custody: CustodyPort = LEGACY,
) -> TxPlan:
    """``deposit`` is the payment to the pool as SPV verified it from ``p.proof``. Expired
    swap intents are swept first (review x6b): a deposit made after an intent expired must not
    buy a share of its forfeited bond, which is the LPs' who were in while it held the pool."""
    pool = get_pool(view, p.asset)
    if pool.params.operator == pool_math.COMMITTEE_OPERATOR and not custody.enabled(view):
        raise ExchangeError(  # fail closed: nothing here checks what a committee deposit pays
            Reason.CUSTODY_INACTIVE, f"the {p.asset} pool is the committee's: no custody here"
        )
    custody.check_inflow(view, p.asset, deposit.amount, ctx)
    deposit_id = deposit.deposit_id
    used = {deposit_id} if is_used(view, "deposit", deposit_id) else set()
    obligation_rules.check_deposit(deposit, p.asset, encode_address(tx.sender), used)
    plan = TxPlan()
    pool, _ = intents.sweep_expired(view, plan, pool, ctx.height)
    new_pool, mint = pool_math.add_liquidity(pool, deposit.amount, p.etm_max, p.min_shares)
    plan.escrow_in.append((tx.sender, mint.etm_in))
    plan.put(records.POOLS, p.asset.encode(), new_pool)
    owned = get_shares(view, p.asset, tx.sender)
    key = records.share_key(p.asset, tx.sender)
    plan.put_raw(records.SHARES, key, _pack_u64(owned + mint.shares, "the investor's shares"))
    plan.put_raw(records.POSITIONS, tx.sender + p.asset.encode(), b"\x01")
    # share-weighted entry value, rounded up so "fees earned" is never overstated
    entry = (
        view.get_u64(records.ENTRY, key) * owned + pool_math.share_value_ppm(new_pool) * mint.shares
    )
    entry_ppm = -(-entry // (owned + mint.shares))
    plan.put_raw(records.ENTRY, key, _pack_u64(entry_ppm, "the share value at entry (ppm)"))
    plan.put_raw(records.USED, records.used_key("deposit", deposit_id), b"\x01")
    proof_budget.add_proven(plan, view, p.asset, deposit.block_hash, deposit.amount)
    custody.on_lp_deposit(view, plan, deposit, ctx)
    return plan


def _require_withdrawal_size(pool: pool_math.Pool, asset_out: int, whole: bool) -> None:
    """A withdrawal's asset part is 0 or at least the pool's minimum (no dust obligation). A
    withdrawal of the whole position needs only the chain's floor: the pool's own minimum
    (set by its operator, up to a u128) must not keep an investor in the pool for ever."""
    asset = pool.params.asset
    least = (
        obligation_rules.withdrawal_floor(asset)
        if whole
        else obligation_rules.min_withdrawal(asset, pool.params.min_withdrawal)
    )
    if 0 < asset_out < least:
        shares = -(-least * pool.total_shares // max(1, pool.asset_reserve))
        raise ExchangeError(
            Reason.WITHDRAWAL_TOO_SMALL,
            f"this withdrawal pays {asset_out} {pool.params.asset}, below the pool's minimum "
            f"withdrawal of {least} (dust plus the payment's fee): withdraw at least about "
            f"{shares} shares",
        )


def plan_lp_withdraw(
    view: StateView, tx: Tx, p: payloads.LpWithdraw, ctx: TxContext, custody: CustodyPort = LEGACY
) -> TxPlan:
    """Burn shares: the ETM part is paid at once, the asset part goes to ``custody``
    (legacy: an obligation of the operator to the investor's bound key). Expired swap intents
    are swept first (issue 15): their reservations do not hold the investor's funds."""
    plan = TxPlan()
    pool, _ = intents.sweep_expired(view, plan, get_pool(view, p.asset), ctx.height)
    owned = get_shares(view, p.asset, tx.sender)
    new_pool, burn = pool_math.remove_liquidity(pool, p.shares, owned, p.min_asset, p.min_etm)
    _require_withdrawal_size(pool, burn.asset_out, whole=p.shares == owned)
    if burn.etm_out:
        plan.escrow_out.append((tx.sender, burn.etm_out))
    if burn.asset_out:
        custody.check_outflow(view, p.asset, ctx)
        chain = address_binding.chain_of_asset(p.asset)
        binding = get_binding(view, tx.sender, chain)
        if binding is None:
            raise ExchangeError(
                Reason.NOT_BOUND, f"bind a {chain} key to receive {burn.asset_out} {p.asset}"
            )
        custody.on_lp_withdraw(view, plan, tx, pool, burn.asset_out, binding.key, ctx)
    plan.put(records.POOLS, p.asset.encode(), new_pool)
    plan.put_raw(records.SHARES, records.share_key(p.asset, tx.sender), U64.pack(owned - p.shares))
    if owned == p.shares:
        plan.put_raw(records.POSITIONS, tx.sender + p.asset.encode(), None)
    return plan


def plan_obligation_paid(
    view: StateView,
    tx: Tx,
    p: payloads.ObligationPaid,
    ctx: TxContext,
    payment: obligation_rules.VerifiedPayment,
    custody: CustodyPort = LEGACY,
) -> TxPlan:
    """Close every obligation the proven ``payment`` pays (one or several to its destination;
    ``p.obligation_id`` must be one of them), and resume a pool they had halted."""
    if p.obligation_id not in payment.obligation_ids:
        raise ExchangeError(
            Reason.PAYMENT_MISMATCH,
            f"the payment pays obligations {list(payment.obligation_ids)}, not {p.obligation_id}",
        )
    obligations = [get_obligation(view, oid) for oid in payment.obligation_ids]
    custody.check_obligation(view, payment.asset)
    if is_used(view, "payment", payment.payment_id):
        raise ExchangeError(
            Reason.PAYMENT_REPLAYED, f"payment {payment.payment_id.hex()} was already used"
        )
    closed = obligation_rules.settle(obligations, payment, ctx.height)
    plan = TxPlan()
    healed = sum(1 for o in obligations if o.status is obligation_rules.ObligationStatus.DEFAULTED)
    if healed:
        pool = get_pool(view, payment.asset)
        resumed = replace(pool, defaulted_obligations=pool.defaulted_obligations - healed)
        plan.put(records.POOLS, payment.asset.encode(), resumed)
    for done in closed:
        plan.put(records.OBLIGATIONS, U64.pack(done.obligation_id), done)
    plan.put_raw(records.USED, records.used_key("payment", payment.payment_id), b"\x01")
    proof_budget.add_proven(plan, view, payment.asset, payment.block_hash, payment.amount)
    return plan


def plan_obligation_default(
    view: StateView,
    tx: Tx,
    p: payloads.ObligationDefault,
    ctx: TxContext,
    custody: CustodyPort = LEGACY,
) -> TxPlan:
    obligation = get_obligation(view, p.obligation_id)
    custody.check_obligation(view, obligation.asset)
    defaulted = obligation_rules.mark_default(obligation, ctx.height)
    pool = get_pool(view, defaulted.asset)
    plan = TxPlan()
    halted = replace(pool, defaulted_obligations=pool.defaulted_obligations + 1)
    plan.put(records.POOLS, defaulted.asset.encode(), halted)
    plan.put(records.OBLIGATIONS, U64.pack(p.obligation_id), defaulted)
    return plan
