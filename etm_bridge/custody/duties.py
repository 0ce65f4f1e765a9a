"""What a custody signer does about mandate spends its foreign node holds: design-14 section
5.2's duties "headers" and "prove", decided here over a :class:`SignerView`, executed by the
signer's loop (:mod:`etm_bridge.custody_signer.service`). Pure, chain-free.

For each **open** mandate revision whose txid the signer's own foreign node has mined
(:class:`SpendSighting`), with ``need`` = the relay policy's depth for the value the spend
moves (``RelayPolicy.required_depth(moved)``, what tx 302's check asks):

* fewer than ``need`` confirmations on the signer's node (or not mined, or a node behind the
  others): nothing yet; the proof would be refused ``insufficient-confirmations`` and cost a fee;
* deep enough, but ETM's relay does not hold that block in its best chain at ``height + need -
  1`` or above (headers ETM lacks, or a relay on another branch): :class:`RelayHeaders` first
  (the header feed finds the fork point and sends what is missing), then the proof;
* deep enough and relayed: :class:`ProveOutcome` (tx 302 with the SPV proof).

**Taking turns.** Every member sees the same spend deep at about the same time; if all of
them relayed and proved at once, every node would receive the losers' transactions by gossip
and refuse them (``spv_duplicate``, ``outcome_replayed``), and a refused gossiped transaction
costs the peer that relayed it ban score: honest racing signers would get their nodes to ban
each other. So the members take turns per spend: :func:`rank` orders the committee by
``sha256(txid || key)`` (a different first member for each spend, which nobody chooses), and the
member of rank ``r`` acts only once the spend has been deep on its own node for ``r *
grace_s`` seconds (``deep_since``, kept by the loop) and the mandate is still open. An offline
first member delays a proof by ``grace_s``, not more; a member that is not in the committee
goes last.

A mandate with a 302 of this signer still in flight (``pending``) gets nothing; a proof that
still meets another's (a late turn) is refused ``outcome_replayed``, which the loop counts as
done (the mandate is proven), not an error. Relay duties come first in the list, one per chain
(up to the highest height any proof needs), and only for spends whose turn has come.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..spv.relay_policy import RelayPolicy


@dataclass(frozen=True)
class SpendSighting:
    """An open mandate's revision txid, as the signer's foreign node sees it."""

    ticker: str
    mandate_id: bytes
    revision: int
    txid: bytes
    height: int | None  # the block holding it on the signer's node; None: mempool or unseen
    moved: int  # base units the spend moves (its outputs): the depth scales with it
    relayed: bool  # ETM's relay holds that very block in its best chain


@dataclass(frozen=True)
class ChainView:
    """One custody chain: the signer's node's tip, ETM's relay tip and its proof policy, and
    the current committee's keys on it with this signer's (turns)."""

    foreign_tip: int
    relay_tip: int | None  # None: no relay on ETM yet
    policy: RelayPolicy
    members: tuple[bytes, ...] = ()
    me: bytes = b""


@dataclass(frozen=True)
class SignerView:
    chains: Mapping[str, ChainView]
    sightings: tuple[SpendSighting, ...]
    pending: frozenset[bytes] = frozenset()  # mandates with this signer's 302 in flight
    now_s: float = 0.0
    deep_since: Mapping[bytes, float] = field(default_factory=dict)  # txid -> first seen deep
    grace_s: float = 0.0


@dataclass(frozen=True)
class RelayHeaders:
    """Feed ``ticker``'s relay on ETM what it lacks, up to at least ``up_to``."""

    ticker: str
    up_to: int


@dataclass(frozen=True)
class ProveOutcome:
    """Send tx 302 proving ``txid`` (mined at ``height``) as ``mandate_id``'s outcome."""

    ticker: str
    mandate_id: bytes
    revision: int
    txid: bytes
    height: int


Duty = RelayHeaders | ProveOutcome


def depth_needed(chain: ChainView, moved: int) -> int:
    return chain.policy.required_depth(moved)


def rank(members: Sequence[bytes], me: bytes, txid: bytes) -> int:
    """This member's turn for the spend ``txid``: its place among ``members`` ordered by
    ``sha256(txid || key)``; ``len(members)`` (last) for a key that is not a member."""
    if me not in members:
        return len(members)
    order = sorted(members, key=lambda k: hashlib.sha256(txid + k).digest())
    return order.index(me)


def _deep(view: SignerView, s: SpendSighting) -> int | None:
    """The top height the proof of ``s`` needs, if it is deep enough on our node; else None."""
    chain = view.chains.get(s.ticker)
    if chain is None or s.height is None:
        return None
    need = depth_needed(chain, s.moved)
    if chain.foreign_tip - s.height + 1 < need:
        return None  # not deep enough on our own node (yet)
    return s.height + need - 1


def deep_spends(view: SignerView) -> set[bytes]:
    """The txids deep enough to prove now (the loop notes when each first was: ``deep_since``)."""
    return {s.txid for s in view.sightings if _deep(view, s) is not None}


def decide(view: SignerView) -> list[Duty]:
    """The duties for ``view`` (see the module docstring): relays first, then proofs."""
    relays: dict[str, int] = {}
    proofs: list[ProveOutcome] = []
    for s in view.sightings:
        top = _deep(view, s)
        if top is None or s.height is None or s.mandate_id in view.pending:
            continue
        chain = view.chains[s.ticker]
        since = view.deep_since.get(s.txid, view.now_s)
        if view.now_s - since < rank(chain.members, chain.me, s.txid) * view.grace_s:
            continue  # not our turn yet
        if not s.relayed or chain.relay_tip is None or chain.relay_tip < top:
            relays[s.ticker] = max(relays.get(s.ticker, 0), top)
        proofs.append(ProveOutcome(s.ticker, s.mandate_id, s.revision, s.txid, s.height))
    done: set[bytes] = set()
    unique = []
    for p in proofs:  # one proof per mandate (a fee bump's revisions: only one can be mined)
        if p.mandate_id not in done:
            done.add(p.mandate_id)
            unique.append(p)
    duties: list[Duty] = [RelayHeaders(t, h) for t, h in sorted(relays.items())]
    return duties + list(unique)
