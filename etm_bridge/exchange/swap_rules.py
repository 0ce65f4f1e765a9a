"""Contract-side checks of swaps through a pool, in both directions (whitepaper 6.2).

**Swap in (BTC/ETH -> ETM).** The user locks the asset on its chain to the pool's claim key
with H(a) for the long leg (default :data:`LONG_LEG_S`, 12 h). Anyone submits the SPV proof;
the transaction-type layer verifies it and hands a :class:`VerifiedForeignLock` to
:func:`check_swap_in`, which checks, in this order: not replayed, asset, confirmations, amount,
hashlock, claim key (must be the pool's), refund key (must be the recipient's bound key), and
that the lock's *remaining* time leaves room for the ETM leg plus :data:`MARGIN_S`. The ETM leg
is :data:`SHORT_LEG_S` (6 h) capped by ``remaining - MARGIN_S``; if that is below
:data:`MIN_ETM_LEG_S` the proof is late and rejected (the user refunds on the asset's chain).
Then the pool's ETM output is reserved at the proof's price, bounded by the request's minimum.

**Swap out (ETM -> BTC/ETH).** The user locks ETM to the pool with H(a) until an ETM height
at least ``SHORT_LEG_S + MARGIN_S`` and at most :data:`MAX_LEG_S` away. :func:`check_swap_out`
checks the user is bound on the asset's chain (the operator pays to that key) and reserves the
asset output; the terms returned tell the operator what to lock (amount, H(a), the user's key,
and the latest its lock may expire: :data:`MARGIN_S` before the ETM lock).

``MARGIN_S`` is :data:`etm_bridge.hashlock.LEG_MARGIN_S`, the project's one cross-chain margin.
Remaining time on a foreign chain is ``(timelock - tip) * nominal block time``
(:func:`etm_bridge.hashlock.seconds_left`); the margin absorbs block-time variance.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import hashlock as hl
from ..errors import HashlockError, SwapRuleError
from .binding import Binding, chain_of_asset
from .pool import Direction, Pool, Quote, require_amount, reserve_swap
from .reasons import Reason

#: Default lifetime of the secret holder's lock (the long leg).
LONG_LEG_S = 12 * 3600
#: Default lifetime of the counterparty's lock (the short leg).
SHORT_LEG_S = 6 * 3600
#: Time the short leg must end before the long leg, so the counterparty can still claim.
MARGIN_S = hl.LEG_MARGIN_S
#: Shortest ETM leg worth giving a swap-in user; a later proof is rejected as late.
MIN_ETM_LEG_S = 3600
#: Longest lock a swap-out may hold pool liquidity reserved with.
MAX_LEG_S = 48 * 3600


@dataclass(frozen=True)
class VerifiedForeignLock:
    """A user's HTLC on the asset's chain, as SPV verification saw it.

    ``lock_id`` is unique per lock (txid + output index; contract swap id). Keys: 33-byte
    pubkeys on Bitcoin, 20-byte addresses on Ethereum. ``timelock_height`` is the height after
    which the user may refund; ``tip_height`` the asset chain's tip the proof was checked
    against; ``block_time_s`` its nominal block time.
    """

    asset: str
    lock_id: bytes
    amount: int
    hashlock: bytes
    claim_key: bytes
    refund_key: bytes
    timelock_height: int
    confirmations: int
    tip_height: int
    block_time_s: int


@dataclass(frozen=True)
class SwapInRequest:
    """What the submitter of a swap-in proof asks for: who gets ETM, at what minimum."""

    recipient: str
    amount_in: int
    hashlock: bytes
    min_out: int


@dataclass(frozen=True)
class SwapInTerms:
    """The accepted swap-in: its quote and the ETM leg (pool -> recipient) to lock."""

    quote: Quote
    etm_leg_s: int
    etm_expiry_height: int


@dataclass(frozen=True)
class SwapOutRequest:
    """A user's ETM lock to the pool asking for the external asset."""

    sender: str
    amount_in: int
    hashlock: bytes
    expiry_height: int
    min_out: int


@dataclass(frozen=True)
class SwapOutTerms:
    """What the operator must lock on the asset's chain for an accepted swap-out."""

    quote: Quote
    claim_key: bytes
    refund_key: bytes
    hashlock: bytes
    latest_foreign_expiry_s: int


def _fail(reason: Reason, detail: str) -> SwapRuleError:
    return SwapRuleError(reason, detail)


def _require_hashlock(value: bytes) -> bytes:
    try:
        return hl.require_hashlock(value)
    except HashlockError as exc:
        raise _fail(Reason.BAD_HASHLOCK, str(exc)) from None


def etm_leg_for(lock: VerifiedForeignLock) -> int:
    """Seconds the ETM leg of a swap-in may last, or raise ``LATE_PROOF``."""
    remaining_s = hl.seconds_left(lock.timelock_height, lock.tip_height, lock.block_time_s)
    leg_s = min(SHORT_LEG_S, remaining_s - MARGIN_S)
    if leg_s < MIN_ETM_LEG_S:
        raise _fail(
            Reason.LATE_PROOF,
            f"the lock leaves {remaining_s} s; the ETM leg needs {MIN_ETM_LEG_S} s plus a "
            f"{MARGIN_S} s margin. Refund the lock on its chain after height "
            f"{lock.timelock_height}",
        )
    return leg_s


def _check_lock_matches(
    lock: VerifiedForeignLock, req: SwapInRequest, pool: Pool, binding: Binding | None
) -> None:
    if lock.asset != pool.params.asset:
        raise _fail(Reason.WRONG_CHAIN, f"lock is {lock.asset}, pool is {pool.params.asset}")
    if lock.confirmations < pool.params.min_confirmations:
        raise _fail(
            Reason.NOT_ENOUGH_CONFIRMATIONS,
            f"lock has {lock.confirmations} confirmations, pool needs "
            f"{pool.params.min_confirmations}",
        )
    if lock.amount != req.amount_in:
        raise _fail(Reason.WRONG_AMOUNT, f"lock holds {lock.amount}, swap asks {req.amount_in}")
    if lock.hashlock != _require_hashlock(req.hashlock):
        raise _fail(Reason.WRONG_HASHLOCK, f"lock hashlock {lock.hashlock.hex()} != request's")
    if lock.claim_key != pool.params.claim_key:
        raise _fail(Reason.WRONG_CLAIM_KEY, f"lock pays {lock.claim_key.hex()}, not the pool")
    if binding is None:
        raise _fail(Reason.NOT_BOUND, f"{req.recipient} has no {chain_of_asset(lock.asset)} key")
    if lock.refund_key != binding.key:
        raise _fail(
            Reason.WRONG_REFUND_KEY,
            f"lock refunds to {lock.refund_key.hex()}, {req.recipient} is bound to "
            f"{binding.key.hex()}",
        )


def check_swap_in(
    lock: VerifiedForeignLock,
    req: SwapInRequest,
    pool: Pool,
    *,
    binding: Binding | None,
    used_lock_ids: set[bytes] | frozenset[bytes],
    etm_height: int,
    etm_block_s: int,
) -> tuple[Pool, SwapInTerms]:
    """Accept a proven foreign lock: the pool with the ETM output reserved, and the terms."""
    if lock.lock_id in used_lock_ids:
        raise _fail(Reason.REPLAYED_PROOF, f"lock {lock.lock_id.hex()} was already used")
    _check_lock_matches(lock, req, pool, binding)
    leg_s = etm_leg_for(lock)
    leg_blocks = leg_s // etm_block_s
    if leg_blocks < 1:
        raise _fail(Reason.LATE_PROOF, f"{leg_s} s is less than one ETM block")
    new_pool, q = reserve_swap(pool, Direction.ASSET_TO_ETM, lock.amount, req.min_out)
    return new_pool, SwapInTerms(q, leg_s, etm_height + leg_blocks)


def check_swap_out(
    req: SwapOutRequest,
    pool: Pool,
    *,
    binding: Binding | None,
    etm_height: int,
    etm_block_s: int,
) -> tuple[Pool, SwapOutTerms]:
    """Accept a user's ETM lock to the pool: the pool with the asset output reserved, terms."""
    require_amount(req.amount_in, "amount_in", error=SwapRuleError)
    hashlock = _require_hashlock(req.hashlock)
    if binding is None:
        raise _fail(
            Reason.NOT_BOUND,
            f"{req.sender} has no bound {chain_of_asset(pool.params.asset)} key to be paid to",
        )
    etm_leg_s = (req.expiry_height - etm_height) * etm_block_s
    if etm_leg_s < SHORT_LEG_S + MARGIN_S:
        raise _fail(
            Reason.LEG_TOO_SHORT,
            f"ETM lock lasts {etm_leg_s} s; it must outlast the {SHORT_LEG_S} s foreign leg "
            f"by {MARGIN_S} s",
        )
    if etm_leg_s > MAX_LEG_S:
        raise _fail(Reason.LEG_TOO_LONG, f"ETM lock lasts {etm_leg_s} s, at most {MAX_LEG_S} s")
    new_pool, q = reserve_swap(pool, Direction.ETM_TO_ASSET, req.amount_in, req.min_out)
    terms = SwapOutTerms(q, binding.key, pool.params.claim_key, hashlock, etm_leg_s - MARGIN_S)
    return new_pool, terms
