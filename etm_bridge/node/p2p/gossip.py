"""Gossip: transactions, blocks and double-forging evidence in from peers and out to them.

What arrives is de-duplicated (bounded seen-sets of ids), validated by the chain, and relayed only
when it was new and valid, never back to a peer that already has it. Transactions travel in
batches (each peer's buffer is flushed every :data:`TX_FLUSH_S`). Blocks:

* a block on our tip is applied with the current time (``apply_block(block, now)``: the
  whitepaper's time checks, a late block is dropped without blame);
* any other block is history or a fork: it is applied with ``now=None`` through the chain's fork
  choice (most blocks; a fork below the finalized height is refused), after one check the chain
  skips for history: **no timestamp beyond our clock** (else a delegate could forge its own
  future slots in advance and outgrow the chain), and an unknown parent sends us to sync.

Double forging: the chain itself turns a second signed header of one generator for one slot
into evidence whenever a block reaches ``apply_block`` (gossip or sync). Evidence the chain
holds but has not slashed yet is gossiped as an ``evidence`` message with the status heartbeat;
received evidence goes to an :class:`EvidenceSink` (the chain's evidence API,
:class:`ChainEvidence`) and is relayed when new, so any forger can land the slashing
transaction. A peer that connects later (a restart, a healed partition, a new node) is sent the
pending evidence right after its handshake (:meth:`Gossip.send_pending_evidence`, at most
:data:`EVIDENCE_ON_CONNECT` pieces), and the heartbeat sends every peer what it lacks: before,
each piece went once to the peers connected at the time, so a forger that connected afterwards
never learnt it and the slash could never land. What a peer sent us or was sent is remembered
per peer (bounded), so nothing is sent twice or echoed back.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol

from ...chain.block import Block
from ...chain.codec import sha256
from ...chain.ledger import Chain
from ...chain.params import etm_time
from ...chain.tx import Tx
from ...errors import BlockRejectedError, PeerProtocolError, TxRejectedError, ValidationError
from .limits import SeenMap, SeenSet
from .messages import MAX_TXS_BYTES, MAX_TXS_PER_MESSAGE, BlockMsg, Evidence, Txs

if TYPE_CHECKING:
    from .network import P2PNetwork
    from .peer import Peer

log = logging.getLogger("etm_bridge.node.p2p")

TX_FLUSH_S = 0.05
#: Pieces of pending evidence sent to a peer right after its handshake, at most (one per
#: offender: more would take more delegates' double signatures than a network has).
EVIDENCE_ON_CONNECT = 64
#: Rejections an honest peer can cause (state or timing), so they cost the sender nothing.
#: ``spv_duplicate`` and ``outcome_replayed``: someone else's copy of the same work landed first
#: (two relayers feeding the same headers, two custody signers proving the same spend); the
#: relaying peer saw it valid, and blaming it banned honest nodes of a committee racing in turn.
HONEST_TX_REASONS = frozenset(
    {"duplicate", "wrong_nonce", "insufficient_balance", "mempool_full", "rejected_by_type",
     "spv_duplicate", "outcome_replayed"}
)  # fmt: skip
#: Honest rejections of a transaction that may be valid later (its predecessor has not reached
#: us yet, the mempool is full now): not remembered as seen, else a peer that relays a user's
#: nonce n+1 before nonce n reached us made every honest copy be dropped unread. Each copy is
#: refused before its signature is verified (``rules.precheck_tx``), so retrying is cheap.
RETRY_TX_REASONS = frozenset({"wrong_nonce", "mempool_full"})
HONEST_BLOCK_REASONS = frozenset({"late_block", "future_block", "unknown_parent", "stale_slot"})


class EvidenceSink(Protocol):
    """The consensus side's double-forging API, as the gossip layer needs it."""

    def report_double_forging(self, header_a: bytes, header_b: bytes) -> bool:
        """Record evidence; True if new. Raises ValidationError if it is not evidence."""
        ...

    def pending_evidence(self) -> list[tuple[bytes, bytes]]: ...


class ChainEvidence:
    """:class:`EvidenceSink` over the chain's evidence API (``Chain.note_evidence`` checks the
    pair: one generator, one slot, this network, both signatures; ``Chain.pending_evidence``
    gives what is not slashed yet)."""

    def __init__(self, chain: Chain):
        self.chain = chain

    def report_double_forging(self, header_a: bytes, header_b: bytes) -> bool:
        new = self.chain.note_evidence(header_a, header_b)
        if new:
            log.warning("double-forging evidence recorded (%s)", sha256(header_a).hex()[:16])
        return new

    def pending_evidence(self) -> list[tuple[bytes, bytes]]:
        return self.chain.pending_evidence()


class Gossip:
    def __init__(self, net: P2PNetwork, chain: Chain, evidence: EvidenceSink):
        self.net, self.chain, self.evidence = net, chain, evidence
        self.seen_txs = SeenSet(200_000)
        self.seen_blocks = SeenSet(20_000)
        self.seen_block_bytes: SeenMap[bytes, tuple[bytes, int]] = SeenMap(2_000)
        self.seen_evidence = SeenSet(1024)

    # --- transactions ---------------------------------------------------------------------

    def on_raw_txs(self, peer: Peer, raws: list[bytes]) -> None:
        """A ``txs`` message before decoding (``messages.txs_items``): a transaction whose id
        (the sha256 of its exact bytes, so no other transaction has it) we saw recently or hold
        in the mempool is dropped before it is decoded or verified; the rest go to
        :meth:`on_txs`. Every client sends its transaction to every node and every node relays
        it, so each node gets up to one copy per peer. A malformed transaction is the whole
        message's fault, as when the message was decoded at once."""
        if self.net.syncer.syncing:
            return  # as on_txs
        fresh: dict[bytes, Tx] = {}
        for raw in raws:
            tx_id = sha256(raw)
            peer.known_txs.add(tx_id)
            if tx_id in fresh or tx_id in self.seen_txs or tx_id in self.chain.mempool:
                self.seen_txs.add(tx_id)  # still current: keep it in the cache
                continue
            try:
                fresh[tx_id] = Tx.decode(raw)
            except ValidationError as exc:
                raise PeerProtocolError("malformed", f"txs: {exc}") from None
        if fresh:
            self.on_txs(peer, Txs(tuple(fresh.values())))

    def on_txs(self, peer: Peer, msg: Txs) -> None:
        if self.net.syncer.syncing:
            return  # our state is old: nonces would look wrong; the tx comes back later
        for tx in msg.txs:
            peer.known_txs.add(tx.id)
            if not self.seen_txs.add(tx.id):
                continue
            try:
                self.chain.submit_tx(tx)
            except TxRejectedError as exc:
                if exc.reason in RETRY_TX_REASONS:
                    self.seen_txs.discard(tx.id)  # valid later: honest copies must get in
                if exc.reason not in HONEST_TX_REASONS:
                    self.net.penalize(peer, "invalid_tx", f"{exc.reason}: {exc.detail}")
                    if peer.closed:
                        return
                continue
            self.relay_tx(tx, origin=peer)

    def relay_tx(self, tx: Tx, origin: Peer | None = None) -> None:
        self.seen_txs.add(tx.id)
        if tx.type_id in self.chain.unsafe_censored_types:
            return  # the test-only censoring node (node run --unsafe-censor) keeps it
        for peer in self.net.ready_peers():
            if peer is not origin and tx.id not in peer.known_txs:
                peer.known_txs.add(tx.id)
                peer.buffer_tx(tx)

    def flush_txs(self) -> None:
        for peer in self.net.ready_peers():
            pending, peer.tx_buffer = peer.tx_buffer, []
            while pending:
                count, size = 0, 0
                for tx in pending[:MAX_TXS_PER_MESSAGE]:
                    if count and size + tx.size + 4 > MAX_TXS_BYTES - 8:
                        break
                    count, size = count + 1, size + tx.size + 4
                batch, pending = pending[:count], pending[count:]
                if not peer.send(Txs(tuple(batch))):
                    self.net.drop(peer, 1008, "outbox full: reading too slowly")
                    break

    # --- blocks ---------------------------------------------------------------------------

    def on_block_bytes(self, peer: Peer, body: bytes) -> None:
        """A ``block`` message before decoding (``messages.block_body``): the exact bytes of a
        block seen recently are not decoded again. The key is the sha256 of the whole
        encoding, not the block id (the header's hash): a copy of a real header with other
        transactions has the real block's id and must not shadow the real block. Bytes are
        cached only once the block is ours (applied and relayed): a block we could not apply
        yet (sent before its parent, while we sync, early for our clock) must still be read
        from the honest peers that send it next, and an invalid one costs every copy."""
        key = sha256(body)
        header = self.seen_block_bytes.get(key)
        if header is not None:
            block_id, height = header
            self.seen_block_bytes.add(key, header)
            peer.known_blocks.add(block_id)
            if not self.net.syncer.claim_ok(height):  # as on_block: each sender pays
                self.net.penalize(peer, "bad_claim", f"block height {height} beyond the slot")
                return
            peer.height = max(peer.height, height)
            return
        try:
            block = Block.decode(body)
        except ValidationError as exc:
            raise PeerProtocolError("malformed", f"block: {exc}") from None
        self.on_block(peer, BlockMsg(block))
        if block.id in self.seen_blocks:
            self.seen_block_bytes.add(key, (block.id, block.height))

    def on_block(self, peer: Peer, msg: BlockMsg) -> None:
        block = msg.block
        peer.known_blocks.add(block.id)
        if not self.net.syncer.claim_ok(block.height):  # as hello/status claims (review a13d)
            self.net.penalize(peer, "bad_claim", f"block height {block.height} beyond the slot")
            return
        peer.height = max(peer.height, block.height)
        if block.id in self.seen_blocks:  # added once applied (relay_block), not before:
            return  # a copy of its header with other transactions must not shadow it
        if self.net.syncer.syncing and block.height > self.chain.tip.height + 1:
            self.net.syncer.wake()
            return
        if self.accept_block(block, peer, live=True):
            peer.proven = True  # a new valid block: its height claims count (sync.py)
            self.relay_block(block, origin=peer)

    def accept_block(self, block: Block, peer: Peer, live: bool) -> bool:
        """Apply a block from ``peer``: True if it was new and valid (see the module doc)."""
        now = etm_time(time.time())
        params = self.chain.params
        if block.header.timestamp > now + params.max_clock_drift_s:
            log.info("block %d from %s is from the future; dropped", block.height, peer.label())
            return False
        on_tip = block.header.previous_block == self.chain.tip.block_id
        try:
            return self.chain.apply_block(block, now if (live and on_tip) else None)
        except BlockRejectedError as exc:
            if exc.reason == "unknown_parent":
                self.net.syncer.fork_hint(peer)
            elif exc.reason == "below_finality":
                self.net.penalize(peer, "conflicting_final", exc.detail)
            elif exc.reason not in HONEST_BLOCK_REASONS:
                self.net.penalize(peer, "invalid_block", f"{exc.reason}: {exc.detail}")
            else:
                log.info("block %d from %s: %s", block.height, peer.label(), exc)
            return False

    def relay_block(self, block: Block, origin: Peer | None = None) -> None:
        self.seen_blocks.add(block.id)
        for peer in self.net.ready_peers():
            if peer is not origin and block.id not in peer.known_blocks:
                peer.known_blocks.add(block.id)
                if not peer.send(BlockMsg(block)):
                    self.net.drop(peer, 1008, "outbox full: reading too slowly")

    # --- double forging -------------------------------------------------------------------

    def on_evidence(self, peer: Peer, msg: Evidence) -> None:
        """Evidence from a peer: checked by the chain, relayed once when it is new to us."""
        peer.known_evidence.add(_evidence_key(msg))
        if not self.seen_evidence.add(_evidence_key(msg)):
            return
        try:
            new = self.evidence.report_double_forging(msg.header_a, msg.header_b)
        except (ValidationError, BlockRejectedError) as exc:
            self.net.penalize(peer, "invalid_evidence", str(exc))
            return
        if new:
            self._relay_evidence(msg, origin=peer)

    def gossip_pending_evidence(self) -> None:
        """With the status heartbeat: the evidence our chain holds against delegates not
        slashed yet, to every peer that does not have it (one connected since is caught up
        here too, had :meth:`send_pending_evidence` not reached it)."""
        pending = [Evidence(a, b) for a, b in self.evidence.pending_evidence()]
        for msg in pending:
            self.seen_evidence.add(_evidence_key(msg))
        for peer in self.net.ready_peers():
            self._send_evidence(peer, pending)

    def send_pending_evidence(self, peer: Peer) -> int:
        """Right after ``peer``'s handshake: the newest :data:`EVIDENCE_ON_CONNECT` pieces of
        pending evidence, unless it has them. Returns how many were queued."""
        pending = [Evidence(a, b) for a, b in self.evidence.pending_evidence()]
        return self._send_evidence(peer, pending[-EVIDENCE_ON_CONNECT:])

    def _send_evidence(self, peer: Peer, messages: list[Evidence]) -> int:
        sent = 0
        for msg in messages:
            if peer.known_evidence.add(_evidence_key(msg)):
                if not peer.send(msg):
                    break
                sent += 1
        return sent

    def _relay_evidence(self, msg: Evidence, origin: Peer | None) -> None:
        key = _evidence_key(msg)
        for other in self.net.ready_peers():
            if other is not origin and other.known_evidence.add(key):
                other.send(msg)


def _evidence_key(msg: Evidence) -> tuple[bytes, bytes]:
    return min(msg.header_a, msg.header_b), max(msg.header_a, msg.header_b)
