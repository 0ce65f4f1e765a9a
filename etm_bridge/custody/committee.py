"""The vault committee: selection, threshold, epochs, vault statuses (design-14 sections 1.2-1.6).

* **Selection** (:func:`select`): the top ``elected_n`` delegates by vote weight (the forging
  election's ranking, ties by key; the slot-miss ineligibility of the forging election is *not*
  applied, so a missed slot never churns custody), restricted to registered members with a key
  for every chain under custody, not slashed, bond >= ``min_bond``; the first
  ``max_committee`` of them, ascending by key. None if fewer than ``min_committee``.
* **Threshold**: ``m = floor(2n/3) + 1`` (:func:`threshold`): more than two thirds sign.
* **Epochs** (:func:`next_epoch`): at a round close where ``round % epoch_rounds == 0``, or
  at any round close after a member of the newest committee was slashed, a new committee is
  written if the selection differs from the newest one, is not None, and no rotation is in
  progress (then it waits for the next round close).
* **Vaults** (:data:`VAULT_TRANSITIONS`): ``pending -> active -> retiring -> retired``. On a
  UTXO chain the new vault is active at once and the old one retiring; on an account chain the
  new epoch is pending (the old one stays active) until the contract's rotation is proven.
* **Coalition bond** (:func:`coalition_bond`): the sum of the ``m`` smallest custody bonds of
  the committee's unslashed members: what the cheapest set able to sign a theft has at stake.

Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..chain.consensus import ranking
from ..errors import CustodyError
from .params import CustodyParams
from .records import Committee, Member, Reason, VaultStatus
from .spec import CustodyModel

#: ticker -> the chain's key sort rule (``CustodySpec.sort_keys``)
KeySorters = Mapping[str, Callable[[Sequence[bytes]], tuple[bytes, ...]]]


def threshold(n: int) -> int:
    """Signatures needed out of ``n``: more than two thirds."""
    if n < 1:
        raise ValueError(f"a committee has at least one member, got {n}")
    return 2 * n // 3 + 1


def select(
    voters: Mapping[bytes, int],
    elected_n: int,
    members: Mapping[bytes, Member],
    p: CustodyParams,
) -> tuple[bytes, ...] | None:
    """The next committee's delegates, ascending (see the module docstring)."""
    return select_ranked(ranking(voters), elected_n, members, p)


def select_ranked(
    ranked: Sequence[bytes],
    elected_n: int,
    members: Mapping[bytes, Member],
    p: CustodyParams,
) -> tuple[bytes, ...] | None:
    """:func:`select` from an existing vote ranking (``RoundClose.ranked``)."""
    top = ranked[:elected_n]
    ok = [d for d in top if d in members and members[d].eligible(p.chains, p.min_bond)]
    chosen = ok[: p.max_committee]
    return tuple(sorted(chosen)) if len(chosen) >= p.min_committee else None


def make_committee(
    epoch: int,
    delegates: Sequence[bytes],
    members: Mapping[bytes, Member],
    sorters: KeySorters,
    p: CustodyParams,
    start_height: int,
    reason: str,
) -> Committee:
    """The committee record of ``delegates`` (each a registered member with every key)."""
    ordered = tuple(sorted(delegates))
    keys = {t: sorters[t]([members[d].keys[t] for d in ordered]) for t in p.chains}
    for ticker, ks in keys.items():
        if len(set(ks)) != len(ks):  # registration forbids it; a second guard for the scripts
            raise CustodyError(Reason.KEY_REGISTERED, f"two members share a {ticker} key")
    n = len(ordered)
    return Committee(epoch, ordered, threshold(n), n, keys, start_height, reason)


@dataclass(frozen=True)
class EpochDecision:
    """What a round close does to the committee: ``committee`` is the new one, or None."""

    committee: Committee | None
    why: str  # "not_due" | "rotation_in_progress" | "too_few" | "unchanged" | reason


def next_epoch(
    current: Committee,
    round_no: int,
    pending_rotation: str | None,
    rotation_in_progress: bool,
    selected: tuple[bytes, ...] | None,
    make: Callable[[tuple[bytes, ...], str], Committee],
    p: CustodyParams,
) -> EpochDecision:
    """Decide the epoch change at a round close (module docstring); ``make(delegates,
    reason)`` builds the committee record (``make_committee`` with the epoch and height)."""
    boundary = round_no % p.epoch_rounds == 0
    if not boundary and pending_rotation is None:
        return EpochDecision(None, "not_due")
    if rotation_in_progress:
        return EpochDecision(None, "rotation_in_progress")
    if selected is None:
        return EpochDecision(None, "too_few")
    if selected == current.members:
        return EpochDecision(None, "unchanged")
    reason = pending_rotation if pending_rotation is not None else "epoch"
    return EpochDecision(make(selected, reason), reason)


def coalition_bond(committee: Committee, members: Mapping[bytes, Member]) -> int:
    """The sum of the ``m`` smallest custody bonds among the committee's unslashed members (a
    slashed member's bond is gone: it counts 0, so it can only lower the sum)."""
    bonds = sorted(
        0 if members[d].slashed else members[d].bond for d in committee.members if d in members
    )
    return sum(bonds[: committee.m])


# --- vault statuses -----------------------------------------------------------------------------

VAULT_TRANSITIONS: Mapping[VaultStatus, frozenset[VaultStatus]] = {
    VaultStatus.PENDING: frozenset({VaultStatus.ACTIVE}),
    VaultStatus.ACTIVE: frozenset({VaultStatus.RETIRING, VaultStatus.RETIRED}),
    VaultStatus.RETIRING: frozenset({VaultStatus.RETIRED}),
    VaultStatus.RETIRED: frozenset(),
}


def vault_step(old: VaultStatus, new: VaultStatus) -> VaultStatus:
    """``new`` if a vault may go from ``old`` to it; raises bad_transition (no skipping back)."""
    if new not in VAULT_TRANSITIONS[old]:
        raise CustodyError(Reason.BAD_TRANSITION, f"a vault cannot go from {old} to {new}")
    return new


def rotation_statuses(model: CustodyModel) -> tuple[VaultStatus, VaultStatus]:
    """(status of the new epoch's vault, of the old one) when a rotation starts."""
    if model is CustodyModel.UTXO:
        return VaultStatus.ACTIVE, VaultStatus.RETIRING
    return VaultStatus.PENDING, VaultStatus.ACTIVE


def genesis_committee(
    members: Mapping[bytes, Member],
    voters: Mapping[bytes, int],
    elected_n: int,
    sorters: KeySorters,
    p: CustodyParams,
) -> Committee:
    """Epoch 0 from the genesis members, ranked by the genesis weights (all 0: by key). A
    custody genesis that cannot form a committee is refused (ConfigError at genesis)."""
    from ..errors import ConfigError

    chosen = select(voters, elected_n, members, p)
    if chosen is None:
        raise ConfigError(
            f"plugins.custody.members forms no committee: fewer than min_committee "
            f"({p.min_committee}) elected delegates registered every chain's key with a bond "
            f">= min_bond ({p.min_bond})"
        )
    return make_committee(0, chosen, members, sorters, p, 0, "genesis")
