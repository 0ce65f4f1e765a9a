"""The node's pool of custody shares: committee members' signatures over mandate revisions,
collected from the local signer (``POST /api/custody/shares``) and from peers (message 10
``custody_share``), served to anyone who assembles (``GET /api/custody/shares?mandate=``).

A share is **valid** iff its mandate and revision are in this node's state, its ticker is the
mandate's, its key is a member of the revision's epoch's committee on that chain, it signs
only inputs of the revision, and the chain's ``CustodySpec.verify_share`` accepts every
signature over the revision's digest for that input. :meth:`SharePool.add` answers:

* ``new``: kept (and the caller relays it once);
* ``known``: every signature was already held (nothing to relay);
* ``dropped``: not judgeable here without blame (unknown mandate or revision: this node may be
  behind, so the share waits, at most :data:`MAX_WAITING` of them, and
  :meth:`SharePool.retry_waiting` judges them again with each new tip; a share with a fraud
  context: not handled by this version);
* :class:`~etm_bridge.errors.ValidationError`: invalid (a peer that sent it is penalized),
  judged only against a revision created at or below this node's finalized height (a final
  revision is the same on every honest node); a share that does not fit a revision this
  node has not finalized (its tip may be on a fork where the same mandate id has other
  inputs) is ``dropped`` at no cost, not kept.

A signature byte-identical to one already held for that (revision, key, input) is not
checked again: it was checked when kept, and every subset of a gossiped share is a distinct
valid body the seen-set cannot dedupe (free replays must not cost an ECDSA check each).

Bounded: at most one entry per (mandate, revision, member key) (so at most n per revision),
and at most :data:`MAX_REVISIONS` revisions (the oldest forgotten first). State is read at
the node's tip: a share over a non-final revision is kept like any other (whether to *sign*
is the signer's decision; whether to *assemble* is the assembler's).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..chain.codec import sha256
from ..chain.state import StateView
from ..chains.registry import chain_registry
from ..custody import records
from ..custody.mandate_store import get_mandate
from ..errors import ValidationError
from .p2p.custody_share import CustodyShare, encode_share

MAX_REVISIONS = 4096
#: Shares kept while their mandate or revision is unknown here (the oldest dropped first).
MAX_WAITING = 1024
NEW, KNOWN, DROPPED = "new", "known", "dropped"


def _spec(ticker: str) -> Any:
    for profile in chain_registry():
        if profile.ticker == ticker and profile.custody is not None:
            return profile.custody
    return None


class SharePool:
    """Valid shares per (mandate, revision), in memory (see the module docstring)."""

    def __init__(
        self,
        view_of: Callable[[], StateView],
        enabled: bool = True,
        finalized_of: Callable[[], int] | None = None,
    ):
        self.view_of = view_of
        #: this node's finalized height (None: every revision counts as final)
        self.finalized_of = finalized_of
        self.enabled = enabled  # the chain loads the custody plug-in (else every share drops)
        #: (mandate id, revision) -> member key -> {input: signature}
        self._by_revision: OrderedDict[tuple[bytes, int], dict[bytes, dict[int, bytes]]] = (
            OrderedDict()
        )
        self._waiting: OrderedDict[bytes, CustodyShare] = OrderedDict()

    def add(self, share: CustodyShare) -> str:
        if share.context or not self.enabled:
            return DROPPED
        view = self.view_of()
        mandate = get_mandate(view, share.mandate_id)
        rev = (
            None
            if mandate is None
            else next((r for r in mandate.revisions if r.rev == share.revision), None)
        )
        if mandate is None or rev is None:
            self._wait(share)
            return DROPPED
        if share.ticker != mandate.ticker:
            raise ValidationError(
                f"share names chain {share.ticker!r}, mandate {mandate.id.hex()} is on"
                f" {mandate.ticker!r}"
            )
        key = (share.mandate_id, share.revision)
        try:
            self._check(view, share, mandate.ticker, rev, self._held(key, share.key))
        except ValidationError:
            if self.finalized_of is not None and rev.height > self.finalized_of():
                return DROPPED  # this node's revision may be a fork's: nobody to blame
            raise
        held = self._by_revision.setdefault(key, {}).setdefault(share.key, {})
        self._by_revision.move_to_end(key)
        while len(self._by_revision) > MAX_REVISIONS:
            self._by_revision.popitem(last=False)
        fresh = {i: s for i, s in share.signatures if i not in held}
        held.update(fresh)
        return NEW if fresh else KNOWN

    def _held(self, key: tuple[bytes, int], member: bytes) -> dict[int, bytes]:
        return self._by_revision.get(key, {}).get(member, {})

    def _wait(self, share: CustodyShare) -> None:
        key = sha256(encode_share(share))
        self._waiting[key] = share
        self._waiting.move_to_end(key)
        while len(self._waiting) > MAX_WAITING:
            self._waiting.popitem(last=False)

    def retry_waiting(self) -> list[CustodyShare]:
        """Judge the waiting shares again: the ones now new (to relay); still unknown ones
        wait on, invalid and known ones are forgotten."""
        waiting, self._waiting = list(self._waiting.values()), OrderedDict()
        fresh = []
        for share in waiting:
            try:
                if self.add(share) == NEW:
                    fresh.append(share)
            except ValidationError:
                continue
        return fresh

    def _check(
        self, view: StateView, share: CustodyShare, ticker: str, rev: Any, held: dict[int, bytes]
    ) -> None:
        raw = view.get_json(records.EPOCHS, records.epoch_key(rev.epoch))
        if raw is None:
            raise ValidationError(f"revision {share.revision} names unknown epoch {rev.epoch}")
        committee = records.decode(records.Committee, raw)
        if share.key not in committee.keys.get(ticker, ()):
            raise ValidationError(
                f"key {share.key.hex()[:16]}… is no {ticker} member of epoch {rev.epoch}"
            )
        spec = _spec(ticker)
        if spec is None:
            raise ValidationError(f"chain {ticker!r} has no custody on this node")
        for index, sig in share.signatures:
            if index >= len(rev.digests):
                raise ValidationError(
                    f"input {index}: revision {share.revision} has {len(rev.digests)} inputs"
                )
            if held.get(index) == sig:
                continue  # checked when kept: a replay (any subset of a held share) is free
            if not spec.verify_share(rev.digests[index], share.key, sig):
                raise ValidationError(
                    f"input {index}: not the key's valid share over the revision's digest"
                )

    def shares(self, mandate_id: bytes) -> list[dict[str, Any]]:
        """``[{revision, key, signatures: {input: hex}}]`` held for one mandate."""
        out = []
        for (mid, rev), by_key in self._by_revision.items():
            if mid != mandate_id:
                continue
            for key, sigs in sorted(by_key.items()):
                hexed = {str(i): s.hex() for i, s in sorted(sigs.items())}
                out.append({"revision": rev, "key": key.hex(), "signatures": hexed})
        return sorted(out, key=lambda row: (row["revision"], row["key"]))
