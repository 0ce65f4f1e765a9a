"""The hashlock registry: one HTLC per hashlock, ever; a reserved hashlock is its owner's alone.

State table ``xchg_hashlocks`` (consensus state, never deleted): hashlock ->
:class:`~.records.HashlockUse` ``(owner, htlc_id, height)``. Issue 11, items 1 and 7.

* **Used** (``htlc_id`` set): the first HTLC created with the hashlock (``xchg_htlc_lock``,
  ``xchg_swap_out``: the sender; ``xchg_swap_in``: the pool, for its recipient) records it. No
  other HTLC, swap or intent may ever use it again: ``hashlock_used``. When a swap ends its
  preimage is public; a pool that accepted a new swap under that hashlock would lock its ETM to
  someone who can claim it at once (the pool drain of issue 11), so "ended" must not mean "free".
* **Reserved** (``htlc_id`` empty): a swap intent (``xchg_swap_intent``) reserves the hashlock
  for its sender, the coming swap in's recipient. From then on only that owner may use it: as
  the sender of an HTLC lock or swap out, or as the recipient of a swap in (which anyone may
  submit with the owner's intent). A stranger's lock, swap out, swap in or intent with it is
  ``hashlock_reserved``: nobody but the swap's own party can block it.

Why the victim is safe: ``swap start`` records the intent and waits for its block *before* the
user locks anything on the foreign chain. If someone used or reserved the hashlock first, the
intent is refused while nothing is locked yet, and the user starts again with a new secret;
once the intent is in a block, no stranger can use the hashlock, so the user's proof cannot be
blocked (the squatting of issue 11, item 7). Pure.
"""

from __future__ import annotations

from ..chain.state import StateView
from ..errors import ExchangeError, HashlockError
from ..hashlock import require_hashlock
from . import records
from .plans import TxPlan
from .reasons import Reason


def get_use(view: StateView, hashlock: bytes) -> records.HashlockUse | None:
    raw = view.get_json(records.HASHLOCKS, hashlock)
    return None if raw is None else records.decode(records.HashlockUse, raw)


def require_usable(view: StateView, hashlock: bytes, party: str) -> records.HashlockUse | None:
    """Raise unless ``party`` (an ``etm1...`` address) may create an HTLC with ``hashlock``:
    never used, and not reserved by anyone else. Returns the reservation, if any."""
    try:
        require_hashlock(hashlock)
    except HashlockError as exc:
        raise ExchangeError(Reason.BAD_HASHLOCK, str(exc)) from None
    use = get_use(view, hashlock)
    if use is None:
        return None
    if use.htlc_id:
        raise ExchangeError(
            Reason.HASHLOCK_USED,
            f"hashlock {hashlock.hex()} was used by HTLC {use.htlc_id.hex()} at height "
            f"{use.height}; a hashlock serves one HTLC ever: make a new secret",
        )
    if use.owner != party:
        raise ExchangeError(
            Reason.HASHLOCK_RESERVED,
            f"hashlock {hashlock.hex()} is reserved for {use.owner} by their swap intent; "
            "only they may use it: make a new secret",
        )
    return use


def mark_used(plan: TxPlan, hashlock: bytes, owner: str, htlc_id: bytes, height: int) -> None:
    """Record the first (and only) HTLC of ``hashlock``."""
    plan.put(records.HASHLOCKS, hashlock, records.HashlockUse(owner, htlc_id, height))


def reserve(
    view: StateView, plan: TxPlan, hashlock: bytes, owner: str, height: int
) -> records.HashlockUse:
    """Reserve ``hashlock`` for ``owner`` (kept as it is if ``owner`` reserved it already)."""
    use = require_usable(view, hashlock, owner)
    if use is None:
        use = records.HashlockUse(owner, b"", height)
        plan.put(records.HASHLOCKS, hashlock, use)
    return use


def htlc_of(view: StateView, hashlock: bytes) -> bytes | None:
    """The id of the one HTLC ever locked with ``hashlock`` (None if none was)."""
    use = get_use(view, hashlock)
    return use.htlc_id if use is not None and use.htlc_id else None
