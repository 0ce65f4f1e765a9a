"""Gossip of ``custody_share`` (message 10): committee members' signatures over mandate
revisions, between nodes (design-14 section 10.6).

A share from a peer is charged to the peer's share budget (a rate limit: over it costs
``rate_limited``), deduplicated by the hash of its exact body (a seen-set of 65,536; the
encoding is canonical), and handed to a :class:`CustodyShareSink` (the node's
:class:`~etm_bridge.node.custody_pool.SharePool`): ``new`` is relayed once to every other peer
that does not have it, ``known`` and ``dropped`` (a mandate this node does not know yet: it may
be behind: it waits in the pool, bounded, and is judged again with each new tip) cost nothing
(a dropped share's hash leaves the seen-set: a later copy is judged again),
an invalid share (not a member's, not a valid signature over the
revision's digest, an input the revision does not have) adds ``invalid_share`` (20) to the
peer's ban score. Shares posted to the node's API are relayed the same way
(:meth:`CustodyGossip.share_admitted`).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol

from ...chain.codec import sha256
from ...errors import ValidationError
from .custody_share import CustodyShare, encode_share
from .limits import SeenSet

if TYPE_CHECKING:
    from .network import P2PNetwork
    from .peer import Peer

log = logging.getLogger("etm_bridge.node.p2p")
SEEN_SHARES = 65_536


class CustodyShareSink(Protocol):
    def add(self, share: CustodyShare) -> str:
        """``new`` / ``known`` / ``dropped``; ValidationError if the share is invalid."""
        ...

    def retry_waiting(self) -> list[CustodyShare]:
        """Shares that waited for their mandate and are now new (to relay)."""
        ...


class CustodyGossip:
    def __init__(self, net: P2PNetwork, sink: CustodyShareSink | None):
        self.net, self.sink = net, sink
        self.seen = SeenSet(SEEN_SHARES)

    def on_share(self, peer: Peer, share: CustodyShare) -> None:
        if not peer.share_budget.take(time.monotonic()):
            self.net.penalize(peer, "rate_limited", "more than the per-peer custody share rate")
            return
        key = sha256(encode_share(share))
        peer.known_shares.add(key)
        if self.sink is None or not self.seen.add(key):
            return
        try:
            result = self.sink.add(share)
        except ValidationError as exc:
            self.net.penalize(peer, "invalid_share", str(exc))
            return
        if result == "new":
            self._relay(share, key, origin=peer)
        elif result == "dropped":
            # not judged (unknown mandate, a fork's revision): a later copy must be judged
            # again, or a waiting share evicted by a flood is swallowed for good
            self.seen.discard(key)

    def retry_waiting(self) -> None:
        """With each new tip: shares that arrived before their mandate, judged again; the new
        ones relayed (a node that was behind still passes them on)."""
        if self.sink is None:
            return
        for share in self.sink.retry_waiting():
            self.share_admitted(share)

    def share_admitted(self, share: CustodyShare) -> None:
        """A new share from the node's API: relayed to every peer."""
        key = sha256(encode_share(share))
        self.seen.add(key)
        self._relay(share, key, origin=None)

    def _relay(self, share: CustodyShare, key: bytes, origin: Peer | None) -> None:
        for other in self.net.ready_peers():
            if other is not origin and other.known_shares.add(key):
                other.send(share)
