"""Read-only views of the exchange for the node API and the CLI: JSON-able dicts from state.

Pure functions of a :class:`~etm_bridge.chain.state.StateView` (the node passes its chain
state; the CLI a ``State`` over the local store). Amounts are integers in base units; the
caller formats them (``etm_bridge.units``). A position's value is what withdrawing every share
would pay now (rounded down, as :func:`~.pool.remove_liquidity` would).

Lists come in pages (``*_page``: at most ``limit`` <= :data:`MAX_PAGE` rows after the cursor
``after``, read through the state's ``scan_page`` and the exchange's index tables), so the work
of one read never grows with the number of HTLCs, swaps, pools or obligations on the chain
(issue 11, item 8: a full scan per GET let 20,000 cheap HTLCs block the node for seconds). A
:class:`Page`'s ``next`` is the cursor of its last row: pass it as ``after`` to continue; fewer
rows than ``limit`` means the end (for now: a swap log grows, so an operator polls it from its
last cursor). The unpaged helpers (:func:`list_pools`, :func:`open_swaps`, ...) walk every
page: for in-process callers and tests, never for a request handler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from ..chain.address import encode_address
from ..chain.state import StateView
from . import hashlocks, intents, records
from .htlc import Htlc, HtlcStatus
from .obligations import Obligation, min_withdrawal
from .plans import get_htlc, get_pool
from .pool import Pool, PoolDirection, pro_rata_shares, quote, require_amount, share_value_ppm

#: Most rows of one page (and the default page size).
MAX_PAGE = 100


class CustodyBlock(Protocol):
    """What the pool views ask the chain's custody port: the ``custody`` block of a pool's JSON
    (:meth:`~.custody_port.CustodyPort.pool_view`; None: an operator pool, no block)."""

    def pool_view(self, view: StateView, asset: str) -> dict[str, Any] | None: ...


class _NoCustody:
    def pool_view(self, view: StateView, asset: str) -> dict[str, Any] | None:
        return None


#: Operator custody: no ``custody`` block (the pool JSON of every chain without custody).
NO_CUSTODY: CustodyBlock = _NoCustody()


@dataclass(frozen=True)
class Page:
    """Some rows of a list and the cursor after them (None when the page is empty)."""

    rows: list[dict[str, Any]]
    next: str | None


def _keys(
    view: StateView, table: str, prefix: bytes, after: bytes | None, limit: int
) -> tuple[list[tuple[bytes, bytes]], str | None]:
    rows = view.scan_page(table, prefix, after, max(1, min(limit, MAX_PAGE)))
    return rows, (rows[-1][0].hex() if rows else None)


def walk(pager: Callable[[bytes | None], Page]) -> Iterator[dict[str, Any]]:
    """Every row of a paged view, page after page (in-process use only)."""
    after: bytes | None = None
    while True:
        page = pager(after)
        yield from page.rows
        if page.next is None:
            return
        after = bytes.fromhex(page.next)


def pool_view(pool: Pool, custody: dict[str, Any] | None = None) -> dict[str, Any]:
    """One pool as JSON: parameters, reserves, reservations, price, shares, fees, status; a
    committee pool also its ``custody`` block (the committee, the vault deposits pay, the
    breaker, whether inflows are open: docs/custody.md 2.6, 2.10). An operator pool has no
    ``custody`` key at all (its JSON is unchanged)."""
    x, y = pool.effective_reserves()
    p = pool.params
    out = {
        "asset": p.asset,
        "operator": p.operator,
        "claim_key": p.claim_key.hex(),
        "fee_ppm": p.fee_ppm,
        "obligation_blocks": p.obligation_blocks,
        "min_confirmations": p.min_confirmations,
        "min_withdrawal": min_withdrawal(p.asset, p.min_withdrawal),
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
        "intent_bond_floor": intents.BOND_FLOOR,
        "intent_bond_ppm": intents.BOND_PPM,
        "intent_lifetime_s": intents.INTENT_LIFETIME_S,
    }
    if custody is not None:
        out["custody"] = custody
    return out


def pools_page(
    view: StateView,
    after: bytes | None = None,
    limit: int = MAX_PAGE,
    custody: CustodyBlock = NO_CUSTODY,
) -> Page:
    rows, cursor = _keys(view, records.POOLS, b"", after, limit)
    return Page([show_pool(view, key.decode(), custody) for key, _ in rows], cursor)


def list_pools(view: StateView, custody: CustodyBlock = NO_CUSTODY) -> list[dict[str, Any]]:
    return list(walk(lambda after: pools_page(view, after, custody=custody)))


def show_pool(view: StateView, asset: str, custody: CustodyBlock = NO_CUSTODY) -> dict[str, Any]:
    pool = get_pool(view, asset)
    return pool_view(pool, custody.pool_view(view, pool.params.asset))


def _position(view: StateView, asset: str, address20: bytes) -> dict[str, Any] | None:
    shares = view.get_u64(records.SHARES, records.share_key(asset, address20))
    if not shares:
        return None
    pool = get_pool(view, asset)
    x, y, s = pool.asset_reserve, pool.etm_reserve, pool.total_shares
    now = share_value_ppm(pool)
    entry = view.get_u64(records.ENTRY, records.share_key(asset, address20))
    gain = max(0, now - entry)
    return {
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


def positions_page(
    view: StateView, address20: bytes, after: bytes | None = None, limit: int = MAX_PAGE
) -> Page:
    """Pool positions of ``address20`` (index ``xchg_positions``): shares, share of the pool,
    value now, fees earned.

    Fees earned: the part of the position's value due to the growth of ``sqrt(x * y) / S``
    since the investor's (share-weighted) deposits, i.e. fees, not price moves; an estimate
    rounded down, and 0 if documented losses ate the growth.
    """
    rows, cursor = _keys(view, records.POSITIONS, address20, after, limit)
    found = (_position(view, key[len(address20) :].decode(), address20) for key, _ in rows)
    return Page([row for row in found if row is not None], cursor)


def positions(view: StateView, address20: bytes) -> list[dict[str, Any]]:
    return list(walk(lambda after: positions_page(view, address20, after)))


def swap_quote(
    view: StateView, asset: str, direction: PoolDirection, amount_in: int
) -> dict[str, Any]:
    """A swap's quote now; a swap in's also names the bond its intent moves into the escrow
    (``intent_bond``, ETM base units) and how long the intent holds the quote (issue 15). The
    pool's reservations include intents expired but not yet swept, so a quote is never above
    what an intent would get."""
    q = quote(get_pool(view, asset), direction, amount_in)
    out: dict[str, Any] = {
        "asset": asset,
        "direction": q.direction.value,
        "amount_in": q.amount_in,
        "fee": q.fee,
        "amount_out": q.amount_out,
    }
    if direction is PoolDirection.ASSET_TO_ETM:
        out["intent_bond"] = intents.bond_for(q.amount_out)
        out["intent_lifetime_s"] = intents.INTENT_LIFETIME_S
    return out


def intent_view(owner20: bytes, hashlock: bytes, rec: records.SwapIntent) -> dict[str, Any]:
    """One bonded intent as JSON: its terms, the quote it reserves, its bond and heights."""
    return {"owner": encode_address(owner20), "hashlock": hashlock.hex(), **records.encode(rec)}


def intents_page(
    view: StateView, owner20: bytes, after: bytes | None = None, limit: int = MAX_PAGE
) -> Page:
    """The swap intents recorded by ``owner20`` (live, or expired and not yet swept: compare
    ``expiry_height`` with the chain's height), in hashlock order."""
    rows, cursor = _keys(view, records.INTENTS, owner20, after, limit)
    out = [
        intent_view(
            owner20,
            key[20:],
            records.decode(records.SwapIntent, view.get_json(records.INTENTS, key)),
        )
        for key, _ in rows
    ]
    return Page(out, cursor)


def intent_of(view: StateView, owner20: bytes, hashlock: bytes) -> dict[str, Any] | None:
    rec = intents.get(view, owner20, hashlock)
    return None if rec is None else intent_view(owner20, hashlock, rec)


def lp_deposit_quote(view: StateView, asset: str, asset_amount: int) -> dict[str, Any]:
    """The shares an ``asset_amount`` deposit mints now and the ETM it takes: the least
    ``etm_max`` accepted (less is ``deposit_etm_short``). Check it before paying the asset."""
    require_amount(asset_amount, "asset_amount")
    shares, etm_in = pro_rata_shares(get_pool(view, asset), asset_amount)
    return {"asset": asset, "asset_amount": asset_amount, "etm_needed": etm_in, "shares": shares}


def obligations_page(
    view: StateView,
    investor: bytes | None = None,
    after: bytes | None = None,
    limit: int = MAX_PAGE,
) -> Page:
    """Withdrawal obligations (all, or one investor's through ``xchg_investor_obligations``),
    oldest first."""
    if investor is None:
        rows, cursor = _keys(view, records.OBLIGATIONS, b"", after, limit)
        keys = [key for key, _ in rows if len(key) == 8]  # b"next" is the id counter
    else:
        rows, cursor = _keys(view, records.INVESTOR_OBLIGATIONS, investor, after, limit)
        keys = [key[len(investor) :] for key, _ in rows]
    found = [records.decode(Obligation, view.get_json(records.OBLIGATIONS, key)) for key in keys]
    return Page([records.encode(ob) for ob in found], cursor)


def obligations(view: StateView, investor: bytes | None = None) -> list[dict[str, Any]]:
    return list(walk(lambda after: obligations_page(view, investor, after)))


def _open_swap_row(view: StateView, htlc_id: bytes) -> dict[str, Any] | None:
    raw = view.get_json(records.SWAPS, htlc_id)
    if raw is None:
        return None
    swap, htlc = records.decode(records.PoolSwap, raw), get_htlc(view, htlc_id)
    if htlc.status is not HtlcStatus.LOCKED:
        return None
    return {
        **records.encode(swap),
        "htlc_id": htlc_id.hex(),
        "hashlock": htlc.hashlock.hex(),
        "expiry_height": htlc.expiry_height,
    }


def open_swaps_page(
    view: StateView, asset: str | None = None, after: bytes | None = None, limit: int = MAX_PAGE
) -> Page:
    """Swaps whose HTLC is still locked (index ``xchg_open_swaps``): what the operator must
    act on.

    Swap out: lock ``amount_out`` of the asset to ``user_key`` with ``hashlock``, expiring at
    least the margin before the ETM lock's ``expiry_height``. Swap in: watch for the preimage
    (the claim records it) to claim the user's foreign lock ``lock_id``.
    """
    prefix = b"" if asset is None else records.asset_key(asset, b"")
    rows, cursor = _keys(view, records.OPEN_SWAPS, prefix, after, limit)
    ids = [key[key.index(b"\x00") + 1 :] for key, _ in rows]
    _prefetch_swaps(view, ids)
    found = (_open_swap_row(view, htlc_id) for htlc_id in ids)
    return Page([row for row in found if row is not None], cursor)


def _prefetch_swaps(view: StateView, htlc_ids: list[bytes]) -> None:
    """One bulk read of a page's swap and HTLC records instead of two point reads per row."""
    view.prefetch(records.SWAPS, htlc_ids)
    view.prefetch(records.HTLCS, htlc_ids)


def open_swaps(view: StateView, asset: str | None = None) -> list[dict[str, Any]]:
    return list(walk(lambda after: open_swaps_page(view, asset, after)))


def open_swap_by_hashlock(
    view: StateView, hashlock: bytes, asset: str | None = None
) -> list[dict[str, Any]]:
    """The open pool swap locked with ``hashlock`` (a list of at most one: a hashlock serves
    one HTLC ever)."""
    htlc_id = hashlocks.htlc_of(view, hashlock)
    row = None if htlc_id is None else _open_swap_row(view, htlc_id)
    return [] if row is None or (asset is not None and row["asset"] != asset) else [row]


def htlcs_by_hashlock(view: StateView, hashlock: bytes) -> list[dict[str, Any]]:
    """The native HTLC (open or ended) locked with ``hashlock``, as :func:`~.records.encode`
    gives it (``status``, ``preimage`` once claimed): a list of at most one, read through the
    hashlock registry (``xchg_hashlocks``), never a scan."""
    htlc_id = hashlocks.htlc_of(view, hashlock)
    return [] if htlc_id is None else [records.encode(get_htlc(view, htlc_id))]


def hashlock_reserved_by(view: StateView, hashlock: bytes) -> str | None:
    """The address a swap intent reserved ``hashlock`` for while no HTLC has used it yet
    (``xchg_hashlocks``), else None."""
    use = hashlocks.get_use(view, hashlock)
    return use.owner if use is not None and not use.htlc_id else None


def htlc_record(view: StateView, htlc_id: bytes) -> dict[str, Any] | None:
    """One native HTLC by id (None if there is none)."""
    raw = view.get_json(records.HTLCS, htlc_id)
    return None if raw is None else records.encode(records.decode(Htlc, raw))


def swap_history_page(
    view: StateView, asset: str | None = None, after: bytes | None = None, limit: int = MAX_PAGE
) -> Page:
    """Pool swaps the exchange opened (open or ended), in the order opened per asset (index
    ``xchg_swap_log``), with their HTLC: ``{"htlc_id", "swap": PoolSwap, "htlc": Htlc}``."""
    prefix = b"" if asset is None else records.asset_key(asset, b"")
    rows, cursor = _keys(view, records.SWAP_LOG, prefix, after, limit)
    _prefetch_swaps(view, [htlc_id for _, htlc_id in rows])
    out = []
    for _, htlc_id in rows:
        swap = records.decode(records.PoolSwap, view.get_json(records.SWAPS, htlc_id))
        htlc = get_htlc(view, htlc_id)
        out.append(
            {"htlc_id": htlc_id.hex(), "swap": records.encode(swap), "htlc": records.encode(htlc)}
        )
    return Page(out, cursor)


def swap_history(view: StateView, asset: str | None = None) -> list[dict[str, Any]]:
    return list(walk(lambda after: swap_history_page(view, asset, after)))
