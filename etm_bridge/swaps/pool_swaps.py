"""Swaps through an ETM pool: the terms of the user's side and the operator's records.

A pool swap is a swap whose counterparty is the ETM exchange contract (whitepaper 6.2) instead
of a person who ran ``swap accept``:

- **foreign -> ETM** (``xchg_swap_in``): the user locks BTC/ETH to the pool's claim key (the
  operator's key), refundable to the user's *bound* key, for the long leg; the exchange locks
  pool ETM to the user with the same hashlock once the SPV proof is accepted. The counter leg's
  refund key is the pool's leg key (:func:`~etm_bridge.swaps.etm_leg.pool_leg_key`) and its
  timelock is the contract's (0 here: only the reveal guard applies).
- **ETM -> foreign** (``xchg_swap_out``): the user locks ETM to the pool; the operator locks the
  asset to the user's bound key for the short leg; its refund key is the pool's claim key.

The counter leg's amount is the pinned quote's output (``min_out``): the exchange refuses the
swap if the pool moved past it. The operator learns of pool swaps from ETM state
(:func:`operator_records`), never from the user. Pure except :func:`sync_operator`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..chain.address import decode_address
from ..exchange.htlc import Htlc
from ..exchange.pool import Direction as PoolDirection
from ..exchange.records import SwapRecord as PoolSwap
from ..exchange.swap_rules import LONG_LEG_S, MARGIN_S, MAX_LEG_S, SHORT_LEG_S
from ..hashlock import blocks_for_seconds
from .etm_leg import EtmAdapter, pool_leg_key
from .fsm import Direction, Role
from .model import LegTerms, SwapRecord, SwapTerms
from .store import SwapStore

#: A swap out locks ETM this long: the exchange's minimum plus slack for inclusion.
SWAP_OUT_LEG_S = SHORT_LEG_S + MARGIN_S + 1800
ETM_REVEAL_MARGIN_S = 600  # the user claims pool ETM only with this much time left
FOREIGN_REVEAL_MARGIN_BLOCKS = 2
OPERATOR_DEADLINE_S = 10 * 365 * 86400  # the user's lock already exists: no lock deadline


@dataclass(frozen=True)
class Chain:
    """One leg's chain as the engine names it, with its tip and nominal block time."""

    name: str
    tip_height: int
    block_time_s: int


@dataclass(frozen=True)
class PoolInfo:
    """What the terms need of a pool (from ``GET /api/exchange/pools/{asset}``)."""

    asset: str
    claim_key: bytes  # the operator's key on the asset's chain
    min_confirmations: int

    @classmethod
    def from_api(cls, data: Mapping[str, object]) -> PoolInfo:
        return cls(
            str(data["asset"]),
            bytes.fromhex(str(data["claim_key"])),
            int(str(data["min_confirmations"])),
        )


def swap_in_terms(
    swap_id: str,
    hashlock: bytes,
    pool: PoolInfo,
    foreign: Chain,
    etm: Chain,
    *,
    amount_in: int,
    min_out: int,
    user_foreign_key: bytes,
    user_etm_address20: bytes,
    now_s: int,
    lock_within_s: int = 3600,
) -> SwapTerms:
    """The user's terms of a BTC/ETH -> ETM swap through ``pool``."""
    user = LegTerms(
        foreign.name,
        amount_in,
        pool.claim_key,
        user_foreign_key,
        foreign.tip_height + blocks_for_seconds(LONG_LEG_S, foreign.block_time_s),
        max(1, pool.min_confirmations),
    )
    counter = LegTerms(etm.name, min_out, user_etm_address20, pool_leg_key(pool.asset), 0, 1)
    margin = blocks_for_seconds(ETM_REVEAL_MARGIN_S, etm.block_time_s)
    return SwapTerms(
        swap_id, Direction.FOREIGN_TO_ETM, hashlock, user, counter, now_s,
        now_s + lock_within_s, margin,
    )  # fmt: skip


def swap_out_terms(
    swap_id: str,
    hashlock: bytes,
    pool: PoolInfo,
    foreign: Chain,
    etm: Chain,
    *,
    amount_in: int,
    min_out: int,
    user_foreign_key: bytes,
    user_etm_address20: bytes,
    now_s: int,
    lock_within_s: int = 600,
) -> SwapTerms:
    """The user's terms of an ETM -> BTC/ETH swap through ``pool``."""
    expiry = etm.tip_height + blocks_for_seconds(SWAP_OUT_LEG_S, etm.block_time_s)
    user = LegTerms(etm.name, amount_in, pool_leg_key(pool.asset), user_etm_address20, expiry, 1)
    counter = LegTerms(foreign.name, min_out, user_foreign_key, pool.claim_key, 0, 1)
    return SwapTerms(
        swap_id, Direction.ETM_TO_FOREIGN, hashlock, user, counter, now_s,
        now_s + lock_within_s, FOREIGN_REVEAL_MARGIN_BLOCKS,
    )  # fmt: skip


def operator_counter_timelock(etm_expiry: int, etm: Chain, foreign: Chain) -> int:
    """The operator's lock height for a swap out: the short leg, ending at least
    ``MARGIN_S`` before the user's ETM lock (0 if there is no room: the swap is left to expire)."""
    remaining_s = min(MAX_LEG_S, (etm_expiry - etm.tip_height) * etm.block_time_s)
    room = (remaining_s - MARGIN_S) // foreign.block_time_s - 1
    blocks = min(blocks_for_seconds(SHORT_LEG_S, foreign.block_time_s), room)
    return foreign.tip_height + blocks if blocks > 0 else 0


def operator_record(
    swap: PoolSwap, htlc: Htlc, pool: PoolInfo, foreign: Chain, etm: Chain, now_s: int
) -> SwapRecord | None:
    """The operator's record of one pool swap (None if nothing is left to do for it)."""
    swap_id = htlc.hashlock.hex()[:16]
    user20, pool20 = decode_address(swap.user), pool_leg_key(pool.asset)
    deadline = now_s + OPERATOR_DEADLINE_S
    if swap.direction is PoolDirection.ASSET_TO_ETM:
        user = LegTerms(
            foreign.name, swap.amount_in, pool.claim_key, swap.user_key, 0,
            max(1, pool.min_confirmations),
        )  # fmt: skip
        counter = LegTerms(etm.name, swap.amount_out, user20, pool20, 0, 1)
        margin = blocks_for_seconds(ETM_REVEAL_MARGIN_S, etm.block_time_s)
        terms = SwapTerms(swap_id, Direction.FOREIGN_TO_ETM, htlc.hashlock, user, counter,
                          now_s, deadline, margin)  # fmt: skip
        return SwapRecord(terms, Role.OPERATOR, updated_at_s=now_s)
    timelock = operator_counter_timelock(htlc.expiry_height, etm, foreign)
    if timelock == 0:
        return None
    user = LegTerms(etm.name, swap.amount_in, pool20, user20, htlc.expiry_height, 1)
    counter = LegTerms(foreign.name, swap.amount_out, swap.user_key, pool.claim_key, timelock, 1)
    terms = SwapTerms(swap_id, Direction.ETM_TO_FOREIGN, htlc.hashlock, user, counter, now_s,
                      deadline, FOREIGN_REVEAL_MARGIN_BLOCKS)  # fmt: skip
    return SwapRecord(terms, Role.OPERATOR, updated_at_s=now_s)


def sync_operator(
    store: SwapStore,
    etm_adapter: EtmAdapter,
    pools: Mapping[str, tuple[PoolInfo, Chain]],
    etm: Chain,
    now_s: int,
) -> list[str]:
    """Create the operator's record of every pool swap of ``pools`` (asset -> (pool, its
    foreign chain)) that the store does not know yet; returns the new swap ids.

    Reads every swap the exchange opened, so a swap the user settled before we looked is still
    followed (the operator must claim the user's lock with the revealed secret)."""
    known = {rec.terms.hashlock for rec in store.list_swaps()}
    created = []
    for swap, htlc in etm_adapter.exchange_swaps():
        if swap.asset not in pools or htlc.hashlock in known:
            continue
        pool, foreign = pools[swap.asset]
        rec = operator_record(swap, htlc, pool, foreign, etm, now_s)
        if rec is not None:
            store.create(rec)
            known.add(htlc.hashlock)
            created.append(rec.swap_id)
    return created
