"""Bonded swap intents: an intent reserves its quoted pool output until an expiry height.

Issue 15, "quotes that hold" (consensus; docs/exchange.md, "Bonded intents"). Before, a swap in
was priced only when its foreign lock was proven: of two concurrent swaps the second met
``slippage`` *after* its lock was made and waited 12 h to refund. Now ``xchg_swap_intent``
prices the swap at once and reserves its ETM output (``reserve_swap``: exactly what a swap in
does to the pool), so a refused intent is refused before anything is locked, and the swap in
that proves the lock uses the reserved quote as it stands.

An intent moves a **bond** into the exchange escrow: :func:`bond_for` = :data:`BOND_FLOOR`
plus :data:`BOND_PPM` of the quoted output. What becomes of it:

* **proof accepted** (``xchg_swap_in`` with the intent's asset and amount, before expiry): the
  bond goes back to the recipient and the reservation becomes the swap's (a proof with other
  terms ends the intent as a cancel does: holding the pool and proving a dust lock is not free);
* **cancelled** by its owner (``xchg_swap_intent_cancel``) or replaced by a new intent of the
  same owner and hashlock: the reservation is released; the pool's LPs keep
  :func:`cancel_charge` (the bond's share of the lifetime held, at least one block's worth) and
  the rest goes back. So a cancel-and-re-intent loop pays for every block it holds the pool,
  as if it let the intent expire;
* **expired** (the ETM height passed ``expiry_height``): the reservation is released and the
  whole bond is added to the pool's ETM reserve (the LPs' share value rises). Expired intents
  are swept by :func:`sweep_expired` at the start of every intent, cancel, swap in, LP deposit
  and LP withdrawal of the pool, through the ``xchg_intent_expiry`` index (asset || 0x00 || expiry
  height u64 BE || owner20 || hashlock), oldest first and at most :data:`SWEEP_MAX` per
  transaction (a bigger pile is swept by the next ones; an expired intent met before its
  sweep is forfeited by whoever meets it, never honoured). Each intent is swept once and paid
  its sweep with its fee and bond.

Pure.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..chain.codec import U64
from ..chain.state import StateView
from . import pool as pool_math
from . import records
from .pool import Pool, PoolDirection, Quote

if TYPE_CHECKING:  # plans sweeps with this module: no import cycle at run time
    from .plans import TxPlan

#: Least bond of an intent, in ETM base units (0.001 ETM).
BOND_FLOOR = 100_000
#: Share of the quoted ETM output added to the bond, parts per million (0.2 %).
BOND_PPM = 2_000
#: How long an intent holds its quote: the user's lock must be proven within it.
INTENT_LIFETIME_S = 3 * 3600
#: Most expired intents one transaction sweeps (one page of the expiry index). Unbounded,
#: a pile of cheap expired intents made every pool transaction, even one refused after the
#: sweep (rolled back, fee-free, re-run by every node's mempool), do work in proportion to
#: the pile: a CPU denial of service of the nodes for the price of the pile (review x6b).
SWEEP_MAX = 256


def bond_for(amount_out: int) -> int:
    """The bond of an intent quoted ``amount_out`` ETM."""
    return BOND_FLOOR + amount_out * BOND_PPM // 1_000_000


def lifetime_blocks(block_time_s: int) -> int:
    """ETM blocks an intent lives (at least one)."""
    return max(1, INTENT_LIFETIME_S // block_time_s)


def cancel_charge(intent: records.SwapIntent, height: int) -> int:
    """What the LPs keep of a cancelled intent's bond: its share of the lifetime held, rounded
    up, at least one block's worth (a cancel in the intent's own block is not free)."""
    life = max(1, intent.expiry_height - intent.height)
    held = min(life, max(1, height - intent.height))
    return min(intent.bond, -(-intent.bond * held // life))


def quote_of(intent: records.SwapIntent) -> Quote:
    return Quote(PoolDirection.ASSET_TO_ETM, intent.amount_in, intent.fee, intent.amount_out)


def key(owner20: bytes, hashlock: bytes) -> bytes:
    return owner20 + hashlock


def expiry_key(asset: str, expiry_height: int, owner20: bytes, hashlock: bytes) -> bytes:
    return records.asset_key(asset, U64.pack(expiry_height) + owner20 + hashlock)


def get(view: StateView, owner20: bytes, hashlock: bytes) -> records.SwapIntent | None:
    raw = view.get_json(records.INTENTS, key(owner20, hashlock))
    return None if raw is None else records.decode(records.SwapIntent, raw)


def is_live(intent: records.SwapIntent, height: int) -> bool:
    """An intent holds its quote up to and including its expiry height."""
    return height <= intent.expiry_height


def drop(
    plan: TxPlan, pool: Pool, owner20: bytes, hashlock: bytes, intent: records.SwapIntent
) -> Pool:
    """Delete the intent and its index row and release its reservation (bond not moved)."""
    plan.put_raw(records.INTENTS, key(owner20, hashlock), None)
    row = expiry_key(intent.asset, intent.expiry_height, owner20, hashlock)
    plan.put_raw(records.INTENT_EXPIRY, row, None)
    return pool_math.release_swap(pool, quote_of(intent))


def to_lps(pool: Pool, amount: int) -> Pool:
    """Add ``amount`` ETM (already in the escrow) to the pool's reserve: the LPs' gain."""
    return replace(pool, etm_reserve=pool.etm_reserve + amount)


def sweep_expired(
    view: StateView, plan: TxPlan, pool: Pool, height: int
) -> tuple[Pool, set[bytes]]:
    """Forfeit the oldest intents of ``pool`` expired before ``height``, at most
    :data:`SWEEP_MAX` (the next pool transactions sweep the rest): release each reservation
    and add its bond to the reserve. Returns the pool and the swept intents' keys. An expired
    intent not swept yet is still recorded: its readers check :func:`is_live`."""
    prefix = records.asset_key(pool.params.asset, b"")
    swept: set[bytes] = set()
    for row_key, _ in view.scan_page(records.INTENT_EXPIRY, prefix, None, SWEEP_MAX):
        rest = row_key[len(prefix) :]
        if U64.unpack(rest[:8])[0] >= height:
            break
        owner20, hashlock = rest[8:28], rest[28:]
        intent = get(view, owner20, hashlock)
        if intent is None:  # defensive: index without record
            plan.put_raw(records.INTENT_EXPIRY, row_key, None)
            continue
        pool = to_lps(drop(plan, pool, owner20, hashlock, intent), intent.bond)
        swept.add(key(owner20, hashlock))
    return pool, swept
