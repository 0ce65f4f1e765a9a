"""The peer network of one node: connections, handshake, dispatch, peer exchange, bans.

Transport: WebSockets on the node's own HTTP server (``/p2p``, served by uvicorn with the
``websockets`` package) for inbound peers and the ``websockets`` client for outbound ones; one
binary frame per message (:mod:`.messages`). Both sides send ``hello`` first; a peer on another
network, genesis or protocol version is closed with code 4001 and a reason naming both values
(the dialler logs it); a connection to ourselves (4002) or a second one to a connected node id
(4003) is closed too. A banned peer is closed with 4004 and its ban reason.

After the handshake every frame is rate limited (:class:`~.limits.TokenBucket`), decoded (size
cap per type, :func:`~.messages.decode_frame`) and dispatched; protocol violations, invalid
blocks/transactions/evidence add to the peer's ban score (:mod:`.limits`); at the threshold the
peer is closed and refused for ``ban_seconds``. Outbound: the configured peers are always
redialled (with backoff); addresses learnt by peer exchange (``get_peers``/``peers``, when
``peer_exchange`` is on) fill up to ``max_outbound``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from typing import Any

from starlette.websockets import WebSocket
from websockets.asyncio.client import connect

from ... import __version__
from ...chain.block import Block
from ...chain.ledger import Chain
from ...chain.tx import Tx
from ...errors import PeerProtocolError
from .custody_gossip import CustodyGossip, CustodyShareSink
from .custody_share import CustodyShare
from .gossip import TX_FLUSH_S, ChainEvidence, EvidenceSink, Gossip
from .limits import BanList
from .messages import (
    MAX_BLOCKS_BYTES,
    MAX_BLOCKS_PER_REPLY,
    MAX_FRAME_BYTES,
    MAX_PEERS_PER_MESSAGE,
    PROTOCOL_VERSION,
    BlockMsg,
    Blocks,
    Evidence,
    GetBlocks,
    GetPeers,
    Hello,
    Peers,
    Status,
    Txs,
    block_body,
    check_address,
    decode_frame,
    txs_count,
    txs_items,
)
from .peer import ClientLink, LinkClosed, Peer, ServerLink, is_loopback
from .settings import P2PSettings
from .sync import Syncer

log = logging.getLogger("etm_bridge.node.p2p")

HANDSHAKE_TIMEOUT_S = 5.0
STATUS_EVERY_S = 5.0
PEER_EXCHANGE_EVERY_S = 30.0
DIAL_EVERY_S = 1.0
MAX_BACKOFF_S = 8.0
MAX_KNOWN_ADDRESSES = 1000
#: Dials in a row a learnt (not configured) address may fail before it is forgotten.
MAX_LEARNT_FAILURES = 3


class P2PNetwork:
    def __init__(
        self,
        chain: Chain,
        settings: P2PSettings,
        evidence: EvidenceSink | None = None,
        shares: CustodyShareSink | None = None,
    ):
        self.chain, self.settings = chain, settings
        self.node_id = os.urandom(16)
        self.port = 0  # our listening port, set once bound
        self.peers: dict[bytes, Peer] = {}
        self._inbound: dict[str, int] = {}  # remote host -> open inbound connections
        self._configured = {check_address(a) for a in settings.peers}
        self.bans = BanList(settings.ban_threshold, settings.ban_seconds)
        self.gossip = Gossip(self, chain, evidence or ChainEvidence(chain))
        self.custody = CustodyGossip(self, shares)
        self.syncer = Syncer(self, chain, expect_peers=bool(settings.peers))
        self.known: dict[str, float] = {a: 0.0 for a in settings.peers}  # address -> next dial
        self._failures: dict[str, int] = {}
        self.last_errors: dict[str, str] = {}
        self._dialing: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_status: tuple[int, bytes, int] | None = None
        self.genesis_id = chain.store.block_id_at(0)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        for coro in (self.syncer.run(), self._dial_loop(), self._flush_loop(), self._status_loop()):
            self._tasks.append(asyncio.create_task(coro))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for peer in list(self.peers.values()):
            await self._close(peer, 1001, "node shutting down")

    # --- views ------------------------------------------------------------------------------

    def ready_peers(self) -> list[Peer]:
        return [p for p in self.peers.values() if not p.closed]

    def status(self) -> dict[str, Any]:
        return {**self.syncer.status(), "peers": len(self.peers), "nodeId": self.node_id.hex()}

    def peers_json(self) -> dict[str, Any]:
        now = time.time()
        return {
            "nodeId": self.node_id.hex(),
            "peers": [p.to_json() for p in self.peers.values()],
            "known": sorted(self.known),
            "lastErrors": dict(self.last_errors),
            "banned": self.bans.entries(now),
        }

    def _hello(self) -> Hello:
        tip = self.chain.tip
        return Hello(
            network=self.chain.params.network_id, genesis=self.genesis_id,
            protocol=PROTOCOL_VERSION, height=tip.height, tip=tip.block_id,
            finalized=self.chain.finalized_height(), port=self.port, node_id=self.node_id,
            agent=f"etm-bridge/{__version__}",
        )  # fmt: skip

    # --- connections ------------------------------------------------------------------------

    async def accept(self, websocket: WebSocket) -> None:
        """The ``/p2p`` WebSocket endpoint: an inbound peer.

        Inbound slots are counted per connection from its accept on (handshaking ones too) and
        per address: one non-loopback address holds at most ``max_inbound_per_ip`` (review
        a13d: before, only handshaken peers counted, never per address, so one machine with 32
        connections took every slot and no other node could connect)."""
        link = ServerLink(websocket)
        host = link.remote_host
        reason = self.bans.banned(host, time.time())
        inbound = sum(self._inbound.values())
        await websocket.accept()
        if reason is not None:
            await link.close(4004, f"banned: {reason}")
            return
        if inbound >= self.settings.max_inbound + len(self._configured):
            await link.close(1013, "too many inbound peers; try later")
            return
        if not is_loopback(host) and self._inbound.get(host, 0) >= self.settings.max_inbound_per_ip:
            await link.close(1013, "too many connections from your address; try later")
            return
        self._inbound[host] = self._inbound.get(host, 0) + 1
        try:
            await self._run_peer(Peer(link, outbound=False))
        finally:
            left = self._inbound.pop(host) - 1
            if left:
                self._inbound[host] = left

    async def dial(self, address: str) -> None:
        host, port = check_address(address)
        url = f"ws://{address}/p2p"
        self._dialing.add(address)
        try:
            async with connect(
                url, max_size=MAX_FRAME_BYTES, compression=None, open_timeout=5,
                ping_interval=20, ping_timeout=20, max_queue=64,
            ) as conn:  # fmt: skip
                await self._run_peer(Peer(ClientLink(conn, host), outbound=True,
                                          dialed=(host, port)))  # fmt: skip
        finally:
            self._dialing.discard(address)

    async def _run_peer(self, peer: Peer) -> None:
        writer: asyncio.Task[None] | None = None
        try:
            writer = asyncio.create_task(peer.write_loop())
            peer.send(self._hello())
            frame = await asyncio.wait_for(peer.link.recv(), HANDSHAKE_TIMEOUT_S)
            hello = decode_frame(frame)
            if not isinstance(hello, Hello):
                raise PeerProtocolError("unexpected", "the first message must be hello")
            peer.hello = hello
            refusal = self._refusal(peer, hello)
            if refusal is not None:
                code, reason = refusal
                await self._close(peer, code, reason)
                return
            self._register(peer, hello)
            await self._read_loop(peer)
        except LinkClosed as exc:
            if peer.dialed is not None and exc.code >= 4000:
                self._note_error(peer, f"refused us ({exc.code}): {exc.reason}")
            if exc.code == 1009:
                self.penalize(peer, "too_large", "frame above the size cap")
        except PeerProtocolError as exc:
            self.penalize(peer, exc.reason if exc.reason in ("malformed", "too_large",
                          "unknown_type") else "unexpected", exc.detail)  # fmt: skip
            if peer.close_with is None:  # a protocol error ends the connection either way
                peer.close_with = (4005, f"{exc.reason}: {exc.detail}")
        except TimeoutError:
            self._note_error(peer, "no hello within the handshake timeout")
        finally:
            await self._close(peer, 1000, "bye")
            if writer is not None:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError, LinkClosed, Exception):
                    await writer

    def _refusal(self, peer: Peer, hello: Hello) -> tuple[int, str] | None:
        ours = self._hello()
        if hello.network != ours.network:
            return 4001, f"wrong network: ours {ours.network:#x}, yours {hello.network:#x}"
        if hello.genesis != ours.genesis:
            theirs = hello.genesis.hex()[:16]
            return 4001, f"wrong genesis: ours {ours.genesis.hex()[:16]}, yours {theirs}"
        if hello.protocol != PROTOCOL_VERSION:
            return 4001, f"wrong protocol version: ours {PROTOCOL_VERSION}, yours {hello.protocol}"
        if hello.node_id == self.node_id:
            if peer.dialed is not None:
                self.known.pop(f"{peer.dialed[0]}:{peer.dialed[1]}", None)
            return 4002, "connected to self"
        banned = self.bans.banned(peer.ban_key or "", time.time())
        if banned is not None:
            return 4004, f"banned: {banned}"
        if hello.node_id in self.peers:
            return 4003, "duplicate connection to this node"
        if not self.syncer.claim_ok(hello.height):
            return 4001, f"height {hello.height} is beyond the current slot"
        if not peer.outbound and not self._is_configured(peer, hello):
            inbound = sum(1 for p in self.peers.values() if not p.outbound)
            if inbound >= self.settings.max_inbound:
                return 1013, "too many inbound peers; try later"
        return None

    def _is_configured(self, peer: Peer, hello: Hello) -> bool:
        """Whether an inbound peer listens where one of our configured peers is (its address
        and the port its hello names): configured peers always get a slot, so strangers
        filling ``max_inbound`` cannot keep the delegates apart (review a13d)."""
        return (peer.link.remote_host, hello.port) in self._configured

    def _register(self, peer: Peer, hello: Hello) -> None:
        peer.height, peer.tip, peer.finalized = hello.height, hello.tip, hello.finalized
        self.peers[hello.node_id] = peer
        self.syncer.handshaken_once = True
        if peer.dialed is not None:
            address = f"{peer.dialed[0]}:{peer.dialed[1]}"
            self._failures.pop(address, None)
            self.last_errors.pop(address, None)
        if self.settings.peer_exchange:
            peer.send(GetPeers())
        sent = self.gossip.send_pending_evidence(peer)  # it may have missed the gossip
        log.info("peer %s connected (height %d%s)", peer.label(), hello.height,
                 f", sent {sent} pieces of evidence" if sent else "")  # fmt: skip
        self.syncer.wake()

    async def _read_loop(self, peer: Peer) -> None:
        while not peer.closed:
            frame = await peer.link.recv()
            now = time.monotonic()
            if not peer.bucket.take(now):
                self.penalize(peer, "rate_limited", "more than the per-peer message rate")
                continue
            count = txs_count(frame)
            if count and not peer.tx_budget.take(now, count):
                self.penalize(peer, "rate_limited", "more than the per-peer transaction rate")
                continue
            raws = txs_items(frame)
            if raws is not None:  # seen transactions are dropped before decoding
                self.gossip.on_raw_txs(peer, raws)
                continue
            body = block_body(frame)
            if body is not None:  # as are the exact bytes of a block seen
                self.gossip.on_block_bytes(peer, body)
                continue
            self._dispatch(peer, decode_frame(frame))

    def _dispatch(self, peer: Peer, msg: Any) -> None:
        if isinstance(msg, BlockMsg):
            self.gossip.on_block(peer, msg)
        elif isinstance(msg, Txs):
            self.gossip.on_txs(peer, msg)
        elif isinstance(msg, Status):
            self._on_status(peer, msg)
        elif isinstance(msg, GetBlocks):
            if not peer.block_requests.take(time.monotonic()):
                self.penalize(peer, "rate_limited", "more than the get_blocks rate")
                return
            self._serve_blocks(peer, msg)
        elif isinstance(msg, Blocks):
            peer.resolve(msg)
        elif isinstance(msg, GetPeers):
            self._serve_peers(peer)
        elif isinstance(msg, Peers):
            if peer.asked_peers:  # only a reply to our get_peers, once (review a13d)
                peer.asked_peers = False
                self._learn(msg)
        elif isinstance(msg, Evidence):
            self.gossip.on_evidence(peer, msg)
        elif isinstance(msg, CustodyShare):
            self.custody.on_share(peer, msg)
        else:
            raise PeerProtocolError("unexpected", f"{type(msg).__name__} after the handshake")

    def _on_status(self, peer: Peer, msg: Status) -> None:
        if not self.syncer.claim_ok(msg.height):
            self.penalize(peer, "bad_claim", f"height {msg.height} is beyond the current slot")
            return
        peer.height, peer.tip, peer.finalized = msg.height, msg.tip, msg.finalized
        if msg.height > self.chain.tip.height:
            self.syncer.wake()

    def _serve_blocks(self, peer: Peer, msg: GetBlocks) -> None:
        top = self.chain.tip.height
        blocks: list[Block] = []
        size = 0
        last = min(top, msg.from_height + min(msg.count, MAX_BLOCKS_PER_REPLY) - 1)
        for height in range(msg.from_height, last + 1):
            block = self.chain.block_by_height(height)
            size += len(block.encoded) + 4
            if blocks and size > MAX_BLOCKS_BYTES - 64:
                break
            blocks.append(block)
        if not peer.send(Blocks(msg.request_id, tuple(blocks))):
            self.drop(peer, 1008, "outbox full: reading too slowly")

    def _serve_peers(self, peer: Peer) -> None:
        now = time.monotonic()
        if now - peer.last_get_peers < 10.0 or not self.settings.peer_exchange:
            return
        peer.last_get_peers = now
        addresses = [p.listen_address for p in self.peers.values() if p is not peer]
        listed = [a for a in addresses if a is not None][:MAX_PEERS_PER_MESSAGE]
        peer.send(Peers(tuple(listed)))

    def _learn(self, msg: Peers) -> None:
        """Learn addresses from a ``peers`` reply; when the table is full, a new address
        replaces a learnt one that failed its last dial (configured ones are never replaced)."""
        if not self.settings.peer_exchange:
            return
        for address in msg.addresses:
            if address in self.known:
                continue
            if len(self.known) >= MAX_KNOWN_ADDRESSES:
                failed = next((a for a in self.known if a not in self.settings.peers
                               and self._failures.get(a, 0) > 0), None)  # fmt: skip
                if failed is None:
                    break
                self._forget(failed)
            self.known[address] = 0.0

    def _forget(self, address: str) -> None:
        self.known.pop(address, None)
        self._failures.pop(address, None)
        self.last_errors.pop(address, None)

    # --- misbehaviour -----------------------------------------------------------------------

    def penalize(self, peer: Peer, what: str, detail: str) -> None:
        log.warning("peer %s: %s (%s)", peer.label(), what, detail[:200])
        key = peer.ban_key
        if key is None:
            self.drop(peer, 4005, f"{what}: {detail}")
        elif self.bans.penalize(key, what, time.time(), detail):
            log.warning("peer %s banned for %ds", peer.label(), int(self.bans.ban_s))
            self.drop(peer, 4004, f"banned: {what}: {detail}")

    def drop(self, peer: Peer, code: int, reason: str) -> None:
        """Close ``peer`` with ``code``/``reason`` (from any handler; the close runs as a task)."""
        if peer.close_with is None:
            peer.close_with = (code, reason)
            asyncio.get_running_loop().create_task(self._close(peer, code, reason))
        peer.shut()

    async def _close(self, peer: Peer, code: int, reason: str) -> None:
        """Close once, with the first code/reason decided for this peer."""
        peer.shut()
        code, reason = peer.close_with or (code, reason)
        peer.close_with = (code, reason)
        if peer.hello is not None and self.peers.get(peer.hello.node_id) is peer:
            del self.peers[peer.hello.node_id]
            log.info("peer %s disconnected: %s", peer.label(), reason)
        if not peer.link_closed:
            peer.link_closed = True
            with contextlib.suppress(Exception):
                await peer.link.close(code, reason)

    def _note_error(self, peer: Peer, error: str) -> None:
        if peer.dialed is not None:
            self.last_errors[f"{peer.dialed[0]}:{peer.dialed[1]}"] = error[:200]
            log.warning("peer %s:%d %s", peer.dialed[0], peer.dialed[1], error)

    # --- outbound and broadcast loops -------------------------------------------------------

    def _connected_addresses(self) -> set[str]:
        return {p.listen_address for p in self.peers.values() if p.listen_address}

    async def _dial_loop(self) -> None:
        while True:
            now = time.monotonic()
            connected = self._connected_addresses() | self._dialing
            outbound = sum(1 for p in self.peers.values() if p.outbound) + len(self._dialing)
            for address, due in list(self.known.items()):
                if address in connected or due > now:
                    continue
                configured = address in self.settings.peers
                failures = self._failures.get(address, 0)
                if not configured and failures >= MAX_LEARNT_FAILURES:
                    self._forget(address)  # a dead or made-up address (review a13d)
                    continue
                if not configured and outbound >= self.settings.max_outbound:
                    continue
                delay = min(MAX_BACKOFF_S, 0.5 * 2**failures) * random.uniform(0.8, 1.2)
                self.known[address] = now + delay
                self._failures[address] = failures + 1
                outbound += 1
                asyncio.get_running_loop().create_task(self._dial_logged(address))
            await asyncio.sleep(DIAL_EVERY_S)

    async def _dial_logged(self, address: str) -> None:
        try:
            await self.dial(address)
        except (OSError, TimeoutError, PeerProtocolError) as exc:
            self.last_errors[address] = f"cannot connect: {exc}"[:200]
        except Exception as exc:  # a websockets handshake failure (e.g. HTTP 403/404)
            self.last_errors[address] = f"cannot connect: {type(exc).__name__}: {exc}"[:200]

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(TX_FLUSH_S)
            self.gossip.flush_txs()

    async def _status_loop(self) -> None:
        last_sent, exchanged = 0.0, time.monotonic()
        while True:
            await asyncio.sleep(0.25)
            tip = self.chain.tip
            current = (tip.height, tip.block_id, self.chain.finalized_height())
            now = time.monotonic()
            if current != self._last_status or now - last_sent > STATUS_EVERY_S:
                self._last_status, last_sent = current, now
                for peer in self.ready_peers():
                    peer.send(Status(*current))
                self.gossip.gossip_pending_evidence()
                self.custody.retry_waiting()  # a new tip may hold their mandate
            if self.settings.peer_exchange and now - exchanged > PEER_EXCHANGE_EVERY_S:
                exchanged = now
                for peer in self.ready_peers():
                    peer.send(GetPeers())

    # --- hooks for the node -----------------------------------------------------------------

    def tx_admitted(self, tx: Tx) -> None:
        """A transaction the API admitted: gossip it."""
        self.gossip.relay_tx(tx)

    def block_forged(self, block: Block) -> None:
        """A block this node forged: gossip it."""
        self.gossip.relay_block(block)
