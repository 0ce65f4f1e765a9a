"""Read-only views of the exchange for the node API and the CLI: JSON-able dicts from state.

Pure functions of a :class:`~etm_bridge.chain.state.StateView` (the node passes its chain
state; the CLI a ``State`` over the local store). Amounts are integers in base units; the
caller formats them (``etm_bridge.units``). A position's value is what withdrawing every share
would pay now (rounded down, as :func:`~.pool.remove_liquidity` would).
"""

from __future__ import annotations

import json
from typing import Any

from ..chain.address import encode_address
from ..chain.state import StateView
from . import records as rc
from .htlc import Htlc, HtlcStatus
from .obligations import Obligation
from .plans import get_htlc, get_pool
from .pool import Direction, Pool, pro_rata_shares, quote, require_amount, share_value_ppm


def pool_view(pool: Pool) -> dict[str, Any]:
    """One pool as JSON: parameters, reserves, reservations, price, shares, fees, status."""
    x, y = pool.effective_reserves()
    p = pool.params
    return {
        "asset": p.asset,
        "operator": p.operator,
        "claim_key": p.claim_key.hex(),
        "fee_ppm": p.fee_ppm,
        "obligation_blocks": p.obligation_blocks,
        "min_confirmations": p.min_confirmations,
        "asset_reserve": pool.asset_reserve,
        "etm_reserve": pool.etm_reserve,
        "asset_reserved": pool.asset_reserved,
        "etm_reserved": pool.etm_reserved,
        "asset_pending_in": pool.asset_pending_in,
        "etm_pending_in": pool.etm_pending_in,
        "effective_asset": x,
        "effective_etm": y,
        "etm_per_asset_unit": f"{y}/{x}" if x else None,
        "total_shares": pool.total_shares,
        "fees_asset": pool.fees_asset,
        "fees_etm": pool.fees_etm,
        "halted": pool.halted,
    }


def list_pools(view: StateView) -> list[dict[str, Any]]:
    return [pool_view(get_pool(view, key.decode())) for key, _ in view.scan(rc.POOLS)]


def show_pool(view: StateView, asset: str) -> dict[str, Any]:
    return pool_view(get_pool(view, asset))


def positions(view: StateView, address20: bytes) -> list[dict[str, Any]]:
    """Every pool position of ``address20``: shares, share of the pool, value now, fees earned.

    Fees earned: the part of the position's value due to the growth of ``sqrt(x * y) / S``
    since the investor's (share-weighted) deposits, i.e. fees, not price moves; an estimate
    rounded down, and 0 if documented losses ate the growth.
    """
    out = []
    for key, _ in view.scan(rc.POOLS):
        asset = key.decode()
        shares = view.get_u64(rc.SHARES, rc.share_key(asset, address20))
        if not shares:
            continue
        pool = get_pool(view, asset)
        x, y, s = pool.asset_reserve, pool.etm_reserve, pool.total_shares
        now = share_value_ppm(pool)
        entry = view.get_u64(rc.ENTRY, rc.share_key(asset, address20))
        gain = max(0, now - entry)
        out.append(
            {
                "asset": asset,
                "shares": shares,
                "share_ppm": shares * 1_000_000 // s,
                "value_asset": shares * x // s,
                "value_etm": shares * y // s,
                "fees_earned_asset": shares * x // s * gain // now,
                "fees_earned_etm": shares * y // s * gain // now,
                "pool_fees_asset": pool.fees_asset,
                "pool_fees_etm": pool.fees_etm,
            }
        )
    return out


def swap_quote(view: StateView, asset: str, direction: Direction, amount_in: int) -> dict[str, Any]:
    q = quote(get_pool(view, asset), direction, amount_in)
    return {
        "asset": asset,
        "direction": q.direction.value,
        "amount_in": q.amount_in,
        "fee": q.fee,
        "amount_out": q.amount_out,
    }


def lp_deposit_quote(view: StateView, asset: str, asset_amount: int) -> dict[str, Any]:
    """The shares an ``asset_amount`` deposit mints now and the ETM it takes: the least
    ``etm_max`` accepted (less is ``deposit_etm_short``). Check it before paying the asset."""
    require_amount(asset_amount, "asset_amount")
    shares, etm_in = pro_rata_shares(get_pool(view, asset), asset_amount)
    return {"asset": asset, "asset_amount": asset_amount, "etm_needed": etm_in, "shares": shares}


def obligations(view: StateView, investor: bytes | None = None) -> list[dict[str, Any]]:
    """Withdrawal obligations (all, or one investor's), oldest first."""
    out = []
    for key, _ in view.scan(rc.OBLIGATIONS):
        if key == b"next":
            continue
        ob = rc.decode(Obligation, view.get_json(rc.OBLIGATIONS, key))
        if investor is None or ob.investor == encode_address(investor):
            out.append(rc.encode(ob))
    out.sort(key=lambda o: int(o["obligation_id"]))
    return out


def open_swaps(view: StateView, asset: str | None = None) -> list[dict[str, Any]]:
    """Swaps whose HTLC is still locked: what the operator must act on.

    Swap out: lock ``amount_out`` of the asset to ``user_key`` with ``hashlock``, expiring at
    least the margin before the ETM lock's ``expiry_height``. Swap in: watch for the preimage
    (the claim records it) to claim the user's foreign lock ``lock_id``.
    """
    out = []
    for key, _ in view.scan(rc.SWAPS):
        swap = rc.decode(rc.SwapRecord, view.get_json(rc.SWAPS, key))
        htlc = get_htlc(view, key)
        if htlc.status is not HtlcStatus.LOCKED or (asset is not None and swap.asset != asset):
            continue
        out.append(
            {
                **rc.encode(swap),
                "htlc_id": key.hex(),
                "hashlock": htlc.hashlock.hex(),
                "expiry_height": htlc.expiry_height,
            }
        )
    return out


def all_htlcs(view: StateView) -> dict[bytes, Htlc]:
    """Every native HTLC (open or ended) by id."""
    return {key: rc.decode(Htlc, json.loads(raw)) for key, raw in view.scan(rc.HTLCS)}


def htlcs_by_hashlock(view: StateView, hashlock: bytes) -> list[dict[str, Any]]:
    """Every native HTLC (open or ended) locked with ``hashlock``, as :func:`~.records.encode`
    gives it (``status``, ``preimage`` once claimed)."""
    return [rc.encode(h) for h in all_htlcs(view).values() if h.hashlock == hashlock]


def htlc_record(view: StateView, htlc_id: bytes) -> dict[str, Any] | None:
    """One native HTLC by id (None if there is none)."""
    raw = view.get_json(rc.HTLCS, htlc_id)
    return None if raw is None else rc.encode(rc.decode(Htlc, raw))


def swap_history(view: StateView, asset: str | None = None) -> list[dict[str, Any]]:
    """Every pool swap the exchange ever opened (open or ended), with its HTLC:
    ``{"htlc_id", "swap": SwapRecord, "htlc": Htlc}`` (records encoded)."""
    htlcs, out = all_htlcs(view), []
    for key, _ in view.scan(rc.SWAPS):
        raw = view.get_json(rc.SWAPS, key)
        if raw is None or key not in htlcs or (asset is not None and raw["asset"] != asset):
            continue
        swap = rc.decode(rc.SwapRecord, raw)
        out.append({"htlc_id": key.hex(), "swap": rc.encode(swap), "htlc": rc.encode(htlcs[key])})
    return out
