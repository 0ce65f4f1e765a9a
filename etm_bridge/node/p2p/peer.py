"""One connected peer: its WebSocket link (either direction), outbox, rate limit and what it has.

A :class:`Link` is the transport seen by the peer logic: :class:`ServerLink` wraps an inbound
Starlette ``WebSocket`` (served by uvicorn with the ``websockets`` package), :class:`ClientLink`
an outbound ``websockets`` client connection. Both carry whole binary frames; the WebSocket
layer does the framing and refuses frames above ``MAX_FRAME_BYTES`` before buffering them.

:class:`Peer` sends through a bounded outbox drained by one writer task (a peer that does not
read fast enough is dropped when the outbox is full, never buffered without bound), pairs
``get_blocks`` requests with ``blocks`` replies by request id, and remembers (bounded) which
blocks and transactions the peer already has so gossip is never echoed back.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import time
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ...chain.block import Block
from ...chain.tx import Tx
from ...errors import PeerProtocolError
from .limits import SeenSet, TokenBucket
from .messages import Blocks, GetBlocks, GetPeers, Hello, encode_frame

#: Messages a peer may send per second (burst: twice that); transactions travel in batches.
MESSAGES_PER_S = 200.0
#: ``get_blocks`` requests a peer may make per second (burst: twice that): each can make us read
#: and send up to 8 MiB, so they have their own, lower limit.
BLOCK_REQUESTS_PER_S = 20.0
#: Transactions a peer may send per second (burst: four times that): a ``txs`` message holds
#: up to 1,000, so the message rate alone let one peer make us process 200,000 a second; a
#: 1-second chain includes at most 5,000 a block (review a13d).
TXS_PER_S = 5_000.0
#: ``custody_share`` messages a peer may send per second (burst: four times that): each costs
#: up to 256 signature checks; a committee of 15 makes a few shares per mandate.
SHARES_PER_S = 50.0
OUTBOX_FRAMES = 4096
#: Bytes queued for one peer at most; a peer that asks for more than it reads is dropped.
OUTBOX_BYTES = 64 << 20
#: Transactions waiting for the next batch to one peer at most (the oldest are dropped).
TX_BUFFER = 50_000
REQUEST_TIMEOUT_S = 20.0


class LinkClosed(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(f"connection closed ({code}) {reason}".strip())
        self.code, self.reason = code, reason


class Link(Protocol):
    remote_host: str

    async def send(self, data: bytes) -> None: ...
    async def recv(self) -> bytes: ...
    async def close(self, code: int, reason: str) -> None: ...


class ServerLink:
    """An accepted (inbound) connection: Starlette's WebSocket."""

    def __init__(self, websocket: WebSocket):
        self.ws = websocket
        self.remote_host = websocket.client.host if websocket.client else "?"

    async def send(self, data: bytes) -> None:
        try:
            await self.ws.send_bytes(data)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise LinkClosed(1006, str(exc)) from None

    async def recv(self) -> bytes:
        try:
            message = await self.ws.receive()
        except (RuntimeError, OSError) as exc:
            raise LinkClosed(1006, str(exc)) from None
        if message["type"] == "websocket.disconnect":
            raise LinkClosed(int(message.get("code") or 1005), str(message.get("reason") or ""))
        data = message.get("bytes")
        if data is None:
            raise PeerProtocolError("malformed", "text frame: peer messages are binary")
        return bytes(data)

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            await self.ws.close(code, reason[:120])


class ClientLink:
    """A dialled (outbound) connection: a ``websockets`` client."""

    def __init__(self, connection: ClientConnection, host: str):
        self.conn = connection
        self.remote_host = host

    async def send(self, data: bytes) -> None:
        try:
            await self.conn.send(data)
        except ConnectionClosed as exc:
            raise LinkClosed(exc.rcvd.code if exc.rcvd else 1006, _reason(exc)) from None

    async def recv(self) -> bytes:
        try:
            data = await self.conn.recv()
        except ConnectionClosed as exc:
            raise LinkClosed(exc.rcvd.code if exc.rcvd else 1006, _reason(exc)) from None
        if isinstance(data, str):
            raise PeerProtocolError("malformed", "text frame: peer messages are binary")
        return data

    async def close(self, code: int, reason: str) -> None:
        await self.conn.close(code, reason[:120])


def _reason(exc: ConnectionClosed) -> str:
    if exc.rcvd is not None:
        return exc.rcvd.reason
    return "no close frame"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class Peer:
    """A peer after (or during) the handshake."""

    _request_ids = itertools.count(1)

    def __init__(self, link: Link, outbound: bool, dialed: tuple[str, int] | None = None):
        self.link = link
        self.outbound = outbound
        self.dialed = dialed
        self.hello: Hello | None = None
        self.height = self.finalized = 0
        #: Delivered a new valid block since its last failed ``get_blocks``: only then does its
        #: height claim make us ``syncing`` (a claim alone is free to make; review a13d).
        self.proven = False
        self.tip = bytes(32)
        self.connected_at = time.time()
        self.known_blocks = SeenSet(4096)
        self.known_txs = SeenSet(65536)
        self.known_evidence = SeenSet(1024)
        self.known_shares = SeenSet(8192)
        self.share_budget = TokenBucket(SHARES_PER_S, 4 * SHARES_PER_S, time.monotonic())
        self.bucket = TokenBucket(MESSAGES_PER_S, 2 * MESSAGES_PER_S, time.monotonic())
        self.block_requests = TokenBucket(
            BLOCK_REQUESTS_PER_S, 2 * BLOCK_REQUESTS_PER_S, time.monotonic()
        )
        self.tx_budget = TokenBucket(TXS_PER_S, 4 * TXS_PER_S, time.monotonic())
        self.queued_bytes = 0
        self.tx_buffer: list[Tx] = []
        self.last_get_peers = 0.0
        #: We sent ``get_peers`` and its ``peers`` reply has not come: only a reply is learnt.
        self.asked_peers = False
        self._outbox: asyncio.Queue[bytes | None] = asyncio.Queue(OUTBOX_FRAMES)
        self._pending: dict[int, asyncio.Future[tuple[Block, ...]]] = {}
        self.closed = False
        self.link_closed = False
        self.close_with: tuple[int, str] | None = None

    @property
    def node_id(self) -> bytes:
        return self.hello.node_id if self.hello else b""

    @property
    def ban_key(self) -> str | None:
        """Bans are per IP; on loopback (every local node shares it) per IP and node id, and
        a loopback peer that never said hello is only dropped (None: nothing to ban)."""
        host = self.link.remote_host
        if not is_loopback(host):
            return host
        return f"{host}|{self.hello.node_id.hex()}" if self.hello is not None else None

    @property
    def listen_address(self) -> str | None:
        """Where this peer accepts connections (for peer exchange), if it said so."""
        if self.dialed is not None:
            return f"{_fmt_host(self.dialed[0])}:{self.dialed[1]}"
        if self.hello is not None and self.hello.port:
            return f"{_fmt_host(self.link.remote_host)}:{self.hello.port}"
        return None

    def label(self) -> str:
        where = self.listen_address or self.link.remote_host
        return f"{where} ({'out' if self.outbound else 'in'})"

    def send(self, message: Any) -> bool:
        """Queue a message; False if the outbox is full (the caller drops the peer)."""
        if self.closed:
            return False
        frame = encode_frame(message)
        if isinstance(message, GetPeers):
            self.asked_peers = True
        if self.queued_bytes + len(frame) > OUTBOX_BYTES:
            return False
        try:
            self._outbox.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        self.queued_bytes += len(frame)
        return True

    def buffer_tx(self, tx: Tx) -> None:
        self.tx_buffer.append(tx)
        if len(self.tx_buffer) > TX_BUFFER:
            del self.tx_buffer[: len(self.tx_buffer) - TX_BUFFER]

    async def write_loop(self) -> None:
        while True:
            frame = await self._outbox.get()
            if frame is None:
                return
            await self.link.send(frame)
            self.queued_bytes -= len(frame)

    async def request_blocks(self, from_height: int, count: int) -> tuple[Block, ...]:
        request_id = next(self._request_ids) & 0xFFFFFFFF
        future: asyncio.Future[tuple[Block, ...]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            if not self.send(GetBlocks(request_id, from_height, count)):
                raise PeerProtocolError("unexpected", "outbox full")
            return await asyncio.wait_for(future, REQUEST_TIMEOUT_S)
        finally:
            self._pending.pop(request_id, None)

    def resolve(self, reply: Blocks) -> None:
        future = self._pending.get(reply.request_id)
        if future is None or future.done():
            detail = f"blocks reply to unknown request {reply.request_id}"
            raise PeerProtocolError("unexpected", detail)
        future.set_result(reply.blocks)

    def shut(self) -> None:
        """Stop the writer and fail pending requests (the link is closed by the owner)."""
        self.closed = True
        for future in self._pending.values():
            if not future.done():
                future.set_exception(PeerProtocolError("unexpected", "peer disconnected"))
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(None)

    def to_json(self) -> dict[str, Any]:
        return {
            "nodeId": self.node_id.hex(),
            "address": self.listen_address,
            "remoteHost": self.link.remote_host,
            "direction": "outbound" if self.outbound else "inbound",
            "height": self.height,
            "finalizedHeight": self.finalized,
            "agent": self.hello.agent if self.hello else None,
            "connectedAt": int(self.connected_at),
        }


def _fmt_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
