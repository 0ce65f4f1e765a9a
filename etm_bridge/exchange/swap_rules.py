"""Contract-side checks of swaps through a pool, in both directions (whitepaper 6.2).

**Swap in (foreign asset -> ETM).** The user locks the asset on its chain to the pool's claim key
with H(a) for the long leg (default :data:`LONG_LEG_S`, 12 h). Anyone submits the SPV proof;
the transaction-type layer verifies it and hands a :class:`VerifiedForeignLock` to
:func:`check_swap_in`, which checks, in this order: not replayed, asset, confirmations (the
depth the verifier required: ``max(relay policy, pool, value-scaled depth)``), amount,
hashlock, claim key (must be the pool's), refund key (must be the recipient's bound key), and
that the lock's *remaining* time leaves room for the ETM leg plus :data:`MARGIN_S`. The ETM leg
is :data:`SHORT_LEG_S` (6 h) capped by ``remaining - MARGIN_S``; if that is below
:data:`MIN_ETM_LEG_S` the proof is late and rejected (the user refunds on the asset's chain).
Then the pool's ETM output is reserved at the proof's price, bounded by the request's minimum.
The ETM leg is bounded twice: by ETM height and by a wall-clock deadline
(:mod:`.htlc`), so a halted ETM cannot stretch it.

**Remaining time is bounded independently of the prover** (:func:`foreign_seconds_left`).
The relay's tip is whatever someone last relayed, and relaying is permissionless and on demand:
a prover can leave the relay at the lock's depth long after the lock became refundable. So:

- the proof is refused (``stale_relay``) while the relay tip's header timestamp lags the ETM
  block time by more than the relay's ``max_lag_s`` (header timestamps are fixed by proof of
  work, not by the prover);
- the foreign height is estimated from the ETM time elapsed since the tip:
  ``(timelock - tip) * block time - (now - tip time)``;
- and capped by the lock's age: ``(timelock - lock height) * block time - (now - lock block
  time)``, which no choice of relay tip can raise.

The smaller estimate counts. Block-time variance (blocks faster than nominal) is what
:data:`MARGIN_S` absorbs.

**Swap out (ETM -> foreign asset).** The user locks ETM to the pool with H(a) until an ETM height
at least ``SHORT_LEG_S + MARGIN_S`` and at most :data:`MAX_LEG_S` away. :func:`check_swap_out`
checks the user is bound on the asset's chain (the operator pays to that key) and reserves the
asset output; the terms returned tell the operator what to lock (amount, H(a), the user's key,
and the latest its lock may expire: :data:`MARGIN_S` before the ETM lock).

``MARGIN_S`` is :data:`etm_bridge.hashlock.LEG_MARGIN_S`, the project's one cross-chain margin.
Times: foreign header timestamps are unix seconds; ``etm_unix_s`` is the ETM block's timestamp in
unix seconds (``ctx.timestamp + ETM_EPOCH_UNIX``).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from .. import hashlock as hashlock_rules
from ..errors import HashlockError, SwapRuleError
from .binding import Binding, chain_of_asset
from .pool import Pool, PoolDirection, Quote, require_amount, reserve_swap
from .reasons import Reason

#: Default lifetime of the secret holder's lock (the long leg).
LONG_LEG_S = 12 * 3600
#: Default lifetime of the counterparty's lock (the short leg).
SHORT_LEG_S = 6 * 3600
#: Time the short leg must end before the long leg, so the counterparty can still claim.
MARGIN_S = hashlock_rules.LEG_MARGIN_S
#: Shortest ETM leg worth giving a swap-in user; a later proof is rejected as late.
MIN_ETM_LEG_S = 3600
#: Longest lock a swap-out may hold pool liquidity reserved with.
MAX_LEG_S = 48 * 3600


@dataclass(frozen=True)
class VerifiedForeignLock:
    """A user's HTLC on the asset's chain, as SPV verification saw it.

    ``lock_id`` is unique per lock (txid + output index; contract swap id). Keys are in
    the chain's key form (its profile's ``binding.key_len``: compressed pubkeys, addresses).
    ``timelock_height`` is the height after which the user may refund. ``confirmations`` the
    lock block's depth on the relay's best chain, ``required_confirmations`` the depth the
    verifier requires for this amount.
    ``block_hash``, ``lock_height`` and ``lock_time_s`` name the block holding the lock (its
    header timestamp, unix s); ``tip_height`` / ``tip_time_s`` the relay tip the proof was
    checked against; ``block_time_s`` the chain's nominal block time and ``max_relay_lag_s``
    the relay's freshness bound (:mod:`etm_bridge.spv.relay_policy`). ``custody_ref``: the lock
    in the chain's own outpoint form (UTXO chains; what a committee's claim spends), else empty.
    """

    asset: str
    lock_id: bytes
    amount: int
    hashlock: bytes
    claim_key: bytes
    refund_key: bytes
    timelock_height: int
    confirmations: int
    required_confirmations: int
    block_hash: bytes
    lock_height: int
    lock_time_s: int
    tip_height: int
    tip_time_s: int
    block_time_s: int
    max_relay_lag_s: int
    custody_ref: bytes = b""


@dataclass(frozen=True)
class SwapInRequest:
    """What the submitter of a swap-in proof asks for: who gets ETM, at what minimum."""

    recipient: str
    amount_in: int
    hashlock: bytes
    min_out: int


@dataclass(frozen=True)
class SwapInTerms:
    """The accepted swap-in: its quote and the ETM leg (pool -> recipient) to lock: it ends at
    ``etm_expiry_height`` or ``etm_leg_s`` after the ETM block's time, whichever comes first."""

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
        return hashlock_rules.require_hashlock(value)
    except HashlockError as exc:
        raise _fail(Reason.BAD_HASHLOCK, str(exc)) from None


def foreign_seconds_left(lock: VerifiedForeignLock, etm_unix_s: int) -> int:
    """Seconds until ``lock`` becomes refundable on its chain, bounded independently of how far
    the prover relayed (see the module docstring); raises ``STALE_RELAY``."""
    lag_s = etm_unix_s - lock.tip_time_s
    if lag_s > lock.max_relay_lag_s:
        raise _fail(
            Reason.STALE_RELAY,
            f"the {lock.asset} relay tip (height {lock.tip_height}) is {lag_s} s older than the "
            f"ETM block time, more than {lock.max_relay_lag_s} s: relay the chain's latest "
            "headers, then prove again",
        )
    bt = lock.block_time_s
    by_tip = hashlock_rules.seconds_left(lock.timelock_height, lock.tip_height, bt) - max(0, lag_s)
    age_s = max(0, etm_unix_s - lock.lock_time_s)
    by_age = hashlock_rules.seconds_left(lock.timelock_height, lock.lock_height, bt) - age_s
    return max(0, min(by_tip, by_age))


def etm_leg_for(lock: VerifiedForeignLock, etm_unix_s: int) -> int:
    """Seconds the ETM leg of a swap-in may last, or raise ``LATE_PROOF`` / ``STALE_RELAY``."""
    remaining_s = foreign_seconds_left(lock, etm_unix_s)
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
    lock: VerifiedForeignLock,
    req: SwapInRequest,
    pool: Pool,
    binding: Binding | None,
    claim_keys: AbstractSet[bytes],
) -> None:
    if lock.asset != pool.params.asset:
        raise _fail(Reason.WRONG_CHAIN, f"lock is {lock.asset}, pool is {pool.params.asset}")
    need = max(lock.required_confirmations, pool.params.min_confirmations)
    if lock.confirmations < need:
        raise _fail(
            Reason.NOT_ENOUGH_CONFIRMATIONS,
            f"lock has {lock.confirmations} confirmations, {need} are required (relay policy, "
            f"pool value {pool.params.min_confirmations}, value-scaled depth)",
        )
    if lock.amount != req.amount_in:
        raise _fail(Reason.WRONG_AMOUNT, f"lock holds {lock.amount}, swap asks {req.amount_in}")
    if lock.hashlock != _require_hashlock(req.hashlock):
        raise _fail(Reason.WRONG_HASHLOCK, f"lock hashlock {lock.hashlock.hex()} != request's")
    if lock.claim_key not in claim_keys:
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
    etm_unix_s: int,
    claim_keys: AbstractSet[bytes] | None = None,
    reserved: Quote | None = None,
) -> tuple[Pool, SwapInTerms]:
    """Accept a proven foreign lock: the pool with the ETM output reserved, and the terms.
    ``etm_unix_s``: the ETM block's timestamp in unix seconds. ``claim_keys``: the keys a lock
    may pay to be the pool's (the custody port's answer; default: the pool's claim key).
    ``reserved``: the quote a live bonded intent reserved already (issue 15): the pool is kept
    as it is and that quote is the swap's (``min_out`` still bounds it)."""
    if lock.lock_id in used_lock_ids:
        raise _fail(Reason.REPLAYED_PROOF, f"lock {lock.lock_id.hex()} was already used")
    accepted = frozenset({pool.params.claim_key}) if claim_keys is None else claim_keys
    _check_lock_matches(lock, req, pool, binding, accepted)
    leg_s = etm_leg_for(lock, etm_unix_s)
    leg_blocks = leg_s // etm_block_s
    if leg_blocks < 1:
        raise _fail(Reason.LATE_PROOF, f"{leg_s} s is less than one ETM block")
    if reserved is not None:
        if reserved.amount_out < req.min_out:
            raise _fail(
                Reason.SLIPPAGE,
                f"the intent reserved {reserved.amount_out} ETM, the proof asks at least "
                f"{req.min_out}",
            )
        return pool, SwapInTerms(reserved, leg_s, etm_height + leg_blocks)
    new_pool, q = reserve_swap(pool, PoolDirection.ASSET_TO_ETM, lock.amount, req.min_out)
    return new_pool, SwapInTerms(q, leg_s, etm_height + leg_blocks)


def check_swap_out(
    req: SwapOutRequest,
    pool: Pool,
    *,
    binding: Binding | None,
    etm_height: int,
    etm_block_s: int,
    network_fee: int = 0,
) -> tuple[Pool, SwapOutTerms]:
    """Accept a user's ETM lock to the pool: the pool with the asset output reserved, terms.
    ``network_fee``: the custody port's outbound fee estimate the quote is net of."""
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
    new_pool, q = reserve_swap(
        pool, PoolDirection.ETM_TO_ASSET, req.amount_in, req.min_out, network_fee
    )
    terms = SwapOutTerms(q, binding.key, pool.params.claim_key, hashlock, etm_leg_s - MARGIN_S)
    return new_pool, terms
