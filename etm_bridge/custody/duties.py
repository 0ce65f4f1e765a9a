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

A mandate with a 302 of this signer still in flight (``pending``) gets nothing: the four
signers race to prove, and a second proof of the same mandate is refused
``outcome_replayed``, which the loop counts as done (the mandate is proven), not an error.
Relay duties come first in the list, one per chain (up to the highest height any proof needs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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
    """One custody chain: the signer's node's tip, ETM's relay tip and its proof policy."""

    foreign_tip: int
    relay_tip: int | None  # None: no relay on ETM yet
    policy: RelayPolicy


@dataclass(frozen=True)
class SignerView:
    chains: Mapping[str, ChainView]
    sightings: tuple[SpendSighting, ...]
    pending: frozenset[bytes] = frozenset()  # mandates with this signer's 302 in flight


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


def decide(view: SignerView) -> list[Duty]:
    """The duties for ``view`` (see the module docstring): relays first, then proofs."""
    relays: dict[str, int] = {}
    proofs: list[ProveOutcome] = []
    for s in view.sightings:
        chain = view.chains.get(s.ticker)
        if chain is None or s.height is None or s.mandate_id in view.pending:
            continue
        need = depth_needed(chain, s.moved)
        if chain.foreign_tip - s.height + 1 < need:
            continue  # not deep enough on our own node (yet)
        top = s.height + need - 1
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
