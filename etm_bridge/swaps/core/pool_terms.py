"""Swaps through an ETM pool: the terms of the user's side and the operator's records (pure).

A pool swap is a swap whose counterparty is the ETM exchange contract (whitepaper 6.2) instead
of a person who ran ``swap accept``:

- **foreign -> ETM** (``xchg_swap_in``): the user locks the foreign asset to the pool's claim
  key (the operator's key), refundable to the user's *bound* key, for the long leg; the
  exchange locks pool ETM to the user with the same hashlock once the SPV proof is accepted.
  The counter leg's refund key is the pool's leg key (:func:`pool_leg_key`) and its timelock is
  the contract's (0 here: only the reveal guard applies).
- **ETM -> foreign** (``xchg_swap_out``): the user locks ETM to the pool; the operator locks the
  asset to the user's bound key for the short leg; its refund key is the pool's claim key.

The counter leg's amount is the pinned quote's output (``min_out``): the exchange refuses the
swap if the pool moved past it. The operator learns of pool swaps from ETM state (the node's
swap log, polled from a cursor by :class:`~etm_bridge.swaps.runtime.operator.PoolFollower`),
never from the user.

The operator's records are keyed by the swap's ETM HTLC id (:func:`operator_swap_id`), never
by its hashlock: until issue 11 they were keyed by ``hashlock[:16]`` and a swap whose hashlock
the engine already knew was skipped, so a second swap in with a used hashlock (its preimage
public) was never claimed on the foreign chain: the user took the pool's ETM and refunded its
lock. The record of a swap in also pins the user lock ETM proved (``LegTerms.lock_id``), so a
decoy lock with the same hashlock and terms is never followed instead. A pool swap the engine
cannot follow is reported (:class:`Unfollowed`), never silently skipped.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ...chain.address import decode_address
from ...chain.params import ETM_EPOCH_UNIX
from ...exchange.htlc import Htlc
from ...exchange.pool import PoolDirection
from ...exchange.records import PoolSwap, pool_account
from ...exchange.swap_rules import LONG_LEG_S, MARGIN_S, MAX_LEG_S, SHORT_LEG_S
from ...hashlock import blocks_for_seconds, sha256
from . import pool_assets
from .fsm import Role, SwapDirection
from .ids import operator_swap_id
from .model import LegTerms, SwapRecord, SwapTerms
from .policy import ETM_REVEAL_MARGIN_S, REVEAL_MARGIN_S

#: A swap out locks ETM this long: the exchange's minimum plus slack for inclusion.
SWAP_OUT_LEG_S = SHORT_LEG_S + MARGIN_S + 1800
OPERATOR_DEADLINE_S = 10 * 365 * 86400  # the user's lock already exists: no lock deadline


def pool_leg_key(asset: str) -> bytes:
    """The 20-byte key standing for pool ``asset``'s pseudo-account (``pool:<asset>``) in swap
    terms: a hash no ed25519 key's address can be made to equal."""
    return sha256(b"etm-bridge pool account\x00" + pool_account(asset).encode())[:20]


def pool_asset_of(key: bytes, assets: Iterable[str] | None = None) -> str | None:
    """The pool asset among ``assets`` (default: every foreign chain's native asset) whose
    :func:`pool_leg_key` is ``key``, if any."""
    known = pool_assets.native_assets() if assets is None else assets
    return next((a for a in known if pool_leg_key(a) == key), None)


@dataclass(frozen=True)
class LegChain:
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
    foreign: LegChain,
    etm: LegChain,
    *,
    amount_in: int,
    min_out: int,
    user_foreign_key: bytes,
    user_etm_address20: bytes,
    now_s: int,
    lock_within_s: int = 3600,
) -> SwapTerms:
    """The user's terms of a foreign asset -> ETM swap through ``pool``."""
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
        swap_id, SwapDirection.FOREIGN_TO_ETM, hashlock, user, counter, now_s,
        now_s + lock_within_s, margin,
    )  # fmt: skip


def swap_out_terms(
    swap_id: str,
    hashlock: bytes,
    pool: PoolInfo,
    foreign: LegChain,
    etm: LegChain,
    *,
    amount_in: int,
    min_out: int,
    user_foreign_key: bytes,
    user_etm_address20: bytes,
    now_s: int,
    lock_within_s: int = 600,
    counter_confirmations: int = 1,
) -> SwapTerms:
    """The user's terms of an ETM -> foreign asset swap through ``pool``.
    ``counter_confirmations``: how deep the operator's lock must be before the user claims it
    (reveals the secret), the depth the ETM relay's policy asks for ``min_out`` (the node's
    quote, ``depth``): one confirmation let an operator with hash power undo its lock after the
    reveal and claim the user's ETM (review a11b)."""
    expiry = etm.tip_height + blocks_for_seconds(SWAP_OUT_LEG_S, etm.block_time_s)
    user = LegTerms(etm.name, amount_in, pool_leg_key(pool.asset), user_etm_address20, expiry, 1)
    confirmations = max(1, counter_confirmations)
    counter = LegTerms(foreign.name, min_out, user_foreign_key, pool.claim_key, 0, confirmations)
    margin = blocks_for_seconds(REVEAL_MARGIN_S, foreign.block_time_s)
    return SwapTerms(
        swap_id, SwapDirection.ETM_TO_FOREIGN, hashlock, user, counter, now_s,
        now_s + lock_within_s, margin,
    )  # fmt: skip


def operator_counter_timelock(
    etm_expiry: int, etm: LegChain, foreign: LegChain, deadline_s: int | None = None, now_s: int = 0
) -> int:
    """The operator's lock height for a swap out: the short leg, ending at least
    ``MARGIN_S`` before the user's ETM lock ends (by its height or, when given, its wall-clock
    ``deadline_s`` in unix seconds, whichever comes first); 0 if there is no room (the swap is
    left to expire)."""
    remaining_s = min(MAX_LEG_S, (etm_expiry - etm.tip_height) * etm.block_time_s)
    if deadline_s is not None:
        remaining_s = min(remaining_s, deadline_s - now_s)
    room = (remaining_s - MARGIN_S) // foreign.block_time_s - 1
    blocks = min(blocks_for_seconds(SHORT_LEG_S, foreign.block_time_s), room)
    return foreign.tip_height + blocks if blocks > 0 else 0


def adapter_lock_id(asset: str, lock_id: bytes, hashlock: bytes) -> str | None:
    """The foreign adapter's id of the lock the exchange proved (the pool swap's ``lock_id``
    bytes, in the chain's proof form), or None for an asset without a known form
    (:mod:`.pool_assets`)."""
    return pool_assets.adapter_lock_id(asset, lock_id, hashlock)


def operator_record(
    swap: PoolSwap, htlc: Htlc, pool: PoolInfo, foreign: LegChain, etm: LegChain, now_s: int
) -> SwapRecord | None:
    """The operator's record of one pool swap (None if nothing is left to do for it)."""
    swap_id = operator_swap_id(htlc)
    user20, pool20 = decode_address(swap.user), pool_leg_key(pool.asset)
    if swap.direction is PoolDirection.ASSET_TO_ETM:
        user = LegTerms(
            foreign.name, swap.amount_in, pool.claim_key, swap.user_key, 0,
            max(1, pool.min_confirmations),
            lock_id=adapter_lock_id(pool.asset, swap.lock_id, htlc.hashlock),
        )  # fmt: skip
        counter = LegTerms(etm.name, swap.amount_out, user20, pool20, 0, 1)
        margin = blocks_for_seconds(ETM_REVEAL_MARGIN_S, etm.block_time_s)
        terms = SwapTerms(swap_id, SwapDirection.FOREIGN_TO_ETM, htlc.hashlock, user, counter,
                          now_s, now_s + OPERATOR_DEADLINE_S, margin)  # fmt: skip
        return SwapRecord(terms, Role.OPERATOR, updated_at_s=now_s)
    etm_deadline = ETM_EPOCH_UNIX + htlc.deadline_s if htlc.deadline_s else None
    timelock = operator_counter_timelock(htlc.expiry_height, etm, foreign, etm_deadline, now_s)
    if timelock == 0:
        return None
    user = LegTerms(etm.name, swap.amount_in, pool20, user20, htlc.expiry_height, 1)
    counter = LegTerms(foreign.name, swap.amount_out, swap.user_key, pool.claim_key, timelock, 1)
    margin = blocks_for_seconds(REVEAL_MARGIN_S, foreign.block_time_s)
    terms = SwapTerms(swap_id, SwapDirection.ETM_TO_FOREIGN, htlc.hashlock, user, counter, now_s,
                      now_s + OPERATOR_DEADLINE_S, margin)  # fmt: skip
    return SwapRecord(terms, Role.OPERATOR, updated_at_s=now_s)


@dataclass(frozen=True)
class Unfollowed:
    """A pool swap of ours the operator's engine cannot follow, and why (said loudly)."""

    swap_id: str  # the ETM HTLC id
    asset: str
    reason: str


@dataclass(frozen=True)
class FollowReport:
    """What one look at the pools' swap logs did: records created, swaps not followed."""

    created: tuple[str, ...] = ()
    unfollowed: tuple[Unfollowed, ...] = ()


def why_not_followed(
    swap: PoolSwap, htlc: Htlc, pool: PoolInfo, others: list[SwapRecord]
) -> str | None:
    """Why the engine cannot follow this pool swap at all (None: it can). ``others`` are our
    records with the same hashlock: the engine reads the foreign leg by hashlock, so it could
    not tell two swaps sharing one apart (the exchange refuses a used hashlock since issue 11:
    this means a chain running older rules, or a bug)."""
    if others:
        ids = ", ".join(sorted(r.swap_id for r in others))
        return (
            f"its hashlock {htlc.hashlock.hex()} is also that of swap(s) {ids}: the engine "
            "cannot tell their locks apart; claim or lock this one by hand"
        )
    pinned = adapter_lock_id(pool.asset, swap.lock_id, htlc.hashlock)
    if swap.direction is PoolDirection.ASSET_TO_ETM and pinned is None:
        return f"no adapter lock id for {pool.asset} lock {swap.lock_id.hex()}"
    return None


COLLISION = (
    "another swap of ours has this pool swap's record id (its ETM HTLC id) with other terms "
    "(a direct swap accepted under that id?): claim or lock this one by hand"
)


def is_record_of(rec: SwapRecord, swap: PoolSwap, htlc: Htlc, pool: PoolInfo) -> bool:
    """Whether ``rec`` is the operator's record of this pool swap (same hashlock, direction,
    and for a swap in the same proven lock): an id is only a name, and a direct swap accepted
    under a pool swap's id must not pass for it."""
    t = rec.terms
    swap_in = swap.direction is PoolDirection.ASSET_TO_ETM
    direction = SwapDirection.FOREIGN_TO_ETM if swap_in else SwapDirection.ETM_TO_FOREIGN
    pinned = adapter_lock_id(pool.asset, swap.lock_id, htlc.hashlock) if swap_in else None
    return (
        rec.role is Role.OPERATOR
        and t.hashlock == htlc.hashlock
        and t.direction is direction
        and t.user_leg.lock_id == pinned
    )


NO_ROOM = (
    "its ETM lock expires too soon for a counter lock ending a margin before it: nothing is "
    "locked, the user refunds the ETM after expiry"
)
