"""Rebuilding a *direct* swap (a person as the counterparty, no pool) from the seed and the
chains (``swap recover``, :mod:`etm_bridge.app.recover` finds the evidence).

Pure: locks and keys in, a decision out. A direct swap's terms are agreed off chain, so the
chains hold only part of them: our lock (the user leg: refunded to our key on its chain) states
its own terms exactly, but nothing on any chain states what the counterparty promised to lock
for us. A lock with our hashlock claimed by our key is no proof of the deal: once our lock is
on chain its hashlock is public and anyone, the counterparty first, can lock dust to our key
with it; if recover took that lock for the counter leg, the watcher would claim it (revealing
the secret) and the counterparty would claim our whole lock for nothing. So:

- **the secret is already out** (a counter lock claimed by our key: our claim revealed it; or
  our lock claimed): the record is rebuilt with that lock as the counter leg, and the best
  counter lock to us still open on **each** chain gets a record claiming it (nothing says which
  chain is the counterparty's: following the first chain's let a dust lock stand in for the
  real one, review x6a); the watcher has nothing left to reveal and waits for our lock to be
  claimed, or refunds it at its timelock;
- **otherwise** the record is rebuilt **refund-only**: its counter leg asks for
  :data:`UNPAYABLE` (more than any chain can lock, so no lock ever matches it: the watcher never
  claims, never reveals) and our lock is refunded at its timelock. The counter locks seen are
  reported; their owner refunds them at theirs;
- our lock already claimed or refunded, with no open counter lock to claim: nothing to do.

Among our locks on one chain the largest in the chain's own coin is ours (a decoy someone
else refunds to us is a smaller gift or a bigger one; a token lock, whose amount says nothing of
its worth, comes after every native one, else a worthless token locked in a huge amount hid our
real lock from the watcher). Locks of ours on several chains (someone refunds a decoy to our
key on another chain) are not guessed between: each gets its own record (the first chain's
named by the hashlock, the others ``<id>-<chain>``), so the watcher refunds all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..observations import HtlcLock, LockState
from ..swaps.core.model import LegTerms

#: A counter leg amount no lock can pay: above 2**256 - 1, the largest any chain can hold (a
#: power of ten, so it displays exactly: ``swap list`` and ``watch`` show it).
UNPAYABLE = 10**78
#: The reveal margin of a rebuilt direct swap (``swap start``'s default ``--reveal-margin-blocks``).
REVEAL_MARGIN_BLOCKS = 6


@dataclass(frozen=True)
class DirectPlan:
    """What to do about our lock on ``chain`` with one hashlock: ``legs`` (user, counter) to
    rebuild, or ``None`` with ``outcome`` (``ended`` / ``not_rebuilt``) and why."""

    chain: str
    outcome: str  # "rebuilt", "ended" or "not_rebuilt"
    detail: str
    legs: tuple[LegTerms, LegTerms] | None = None
    tag: str = ""  # what tells this plan's record id apart (unique among the plans)


def _leg(chain: str, lock: HtlcLock, confirmations: int = 1) -> LegTerms:
    t = lock.terms
    return LegTerms(chain, t.amount, t.claim_key, t.refund_key, t.timelock_height,
                    confirmations, t.asset_id)  # fmt: skip


def plan_direct(locks: Mapping[str, Sequence[HtlcLock]], our_keys: Mapping[str, bytes]
                ) -> list[DirectPlan]:  # fmt: skip
    """The direct swap of one hashlock from every chain's ``locks`` with it and our key on each
    chain (module docstring): one plan per chain holding a lock of ours (refunded to our key),
    none when no chain does. Locks of ours on several chains (a decoy someone refunds to us on
    another chain: nothing says which is the swap's) make one record each, so the watcher
    refunds every one; none of them claims before the secret is out."""
    ours = {c: [lk for lk in lks if lk.terms.refund_key == our_keys.get(c)]
            for c, lks in locks.items()}  # fmt: skip
    return [plan for chain, mine in sorted(ours.items()) if mine
            for plan in _plan(chain, max(mine, key=lock_rank), locks, our_keys, len(ours) > 1)
            ]  # fmt: skip


def _plan(chain: str, lock: HtlcLock, locks: Mapping[str, Sequence[HtlcLock]],
          our_keys: Mapping[str, bytes], several: bool) -> list[DirectPlan]:  # fmt: skip
    to_us = sorted(
        ((c, lk) for c, lks in locks.items() if c != chain for lk in lks
         if lk.terms.claim_key == our_keys.get(c) and lk.terms.refund_key != our_keys.get(c)),
        key=lambda found: (found[0], -found[1].terms.amount),
    )  # fmt: skip
    claimed = [(c, lk) for c, lk in to_us if lk.state is LockState.CLAIMED]
    still_open = [(c, lk) for c, lk in to_us if lk.state is LockState.OPEN]
    mine_text = f"our {chain} lock {lock.lock_id} ({lock.state.value})"
    if several:
        mine_text += " (locks of ours with this hashlock on several chains: one record each)"
    secret_out = bool(claimed) or lock.state is LockState.CLAIMED
    if lock.state is not LockState.OPEN and not (secret_out and still_open):
        return [DirectPlan(chain, "ended", f"{mine_text}, no counter lock left to claim", None,
                           chain)]  # fmt: skip
    if secret_out:  # our claim, or theirs of our lock, made it public: claiming costs nothing
        # The best open lock to us on *each* chain is claimed (one record each): nothing says
        # which chain is the counterparty's, and following the first chain's let a dust lock
        # on a chain whose name sorts first stand in for the real counter lock, never claimed.
        # Per chain the best (``lock_rank``) only: a dust flood must not cost a claim each.
        best: dict[str, HtlcLock] = {}
        for leg, counter in still_open:
            if leg not in best or lock_rank(counter) > lock_rank(best[leg]):
                best[leg] = counter
        counters = sorted(best.items()) or claimed[:1]
        return [DirectPlan(chain, "rebuilt", f"{mine_text}; counter lock {leg} "
                           f"{counter.lock_id} ({counter.state.value}): the secret is out",
                           (_leg(chain, lock), _leg(leg, counter)),
                           chain if k == 0 else f"{chain}-{leg}")
                for k, (leg, counter) in enumerate(counters)]  # fmt: skip
    others = sorted(c for c in our_keys if c != chain)
    if not others:
        return [DirectPlan(chain, "not_rebuilt", f"{mine_text}: no other chain is configured",
                           None, chain)]  # fmt: skip
    counter_chain = to_us[0][0] if to_us else others[0]
    key = our_keys[counter_chain]
    unpayable = LegTerms(counter_chain, UNPAYABLE, key, bytes(len(key)), 1, 1)
    seen = ", ".join(f"{c} lock {lk.lock_id}" for c, lk in to_us) or "none"
    return [DirectPlan(chain, "rebuilt", f"{mine_text}; refund only: the chains do not say "
                       f"what the counterparty promised, so no counter lock is claimed (counter "
                       f"locks to us: {seen})", (_leg(chain, lock), unpayable), chain)]  # fmt: skip


def lock_rank(lock: HtlcLock) -> tuple[bool, int]:
    """Which of several locks of ours with one hashlock is ours: the chain's own coin before any
    token (a token's amount says nothing of its worth), then the largest."""
    return lock.terms.asset_id is None, lock.terms.amount
