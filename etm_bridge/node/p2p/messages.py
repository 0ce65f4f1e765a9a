"""Peer messages: one binary WebSocket frame each, ``type u8 || body``; a registry of types.

Every type is registered once in :data:`REGISTRY` with its code, a size cap for its body and a
decoder, so a new type (say the consensus side's ``evidence``) is one entry. :func:`decode_frame`
checks the cap *before* decoding and turns every decoding failure into one
:class:`~etm_bridge.errors.PeerProtocolError` (``unknown_type``, ``too_large``, ``malformed``);
nothing else escapes it (fuzzed in ``tests/unit/node/test_p2p_messages.py``). Pure: no I/O.

Bodies (integers big-endian, ``var`` = u32 length || bytes):

=========  ====  ==========================================================================
hello         1  JSON {network, genesis, protocol, height, tip, finalized, port, nodeId, agent}
status        2  JSON {height, tip, finalized}
txs           3  u32 count (<= 1000) || var tx ...            (wire encoding of ``Tx``)
block         4  the block's wire encoding (``Block``)
get_blocks    5  u32 request id || u32 from height || u32 count (<= MAX_BLOCKS_PER_REPLY)
blocks        6  u32 request id || u32 count || var block ...
get_peers     7  empty
peers         8  JSON ["host:port", ...] (<= 100)
evidence      9  var header || var header: two signed headers of one delegate for one slot
custody_share 10  a committee member's signatures over a mandate revision (``custody_share``)
=========  ====  ==========================================================================
"""

from __future__ import annotations

import ipaddress
import json
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...chain.block import HEADER_BYTES, Block
from ...chain.codec import U32, Reader
from ...chain.tx import MAX_PAYLOAD_BYTES, Tx
from ...errors import PeerProtocolError, ValidationError
from ...jsonsafe import loads_bounded
from .custody_share import MAX_BYTES as MAX_SHARE_BYTES
from .custody_share import CustodyShare, decode_share, encode_share

#: 2: ``custody_share`` (10) added (a new type changes what peers may send).
PROTOCOL_VERSION = 2
MAX_TXS_PER_MESSAGE = 1000
MAX_BLOCKS_PER_REPLY = 500
MAX_PEERS_PER_MESSAGE = 100
#: A block is at most its header, a count and ``max_block_payload_bytes`` (4 MiB) of txs.
MAX_BLOCK_BYTES = (4 << 20) + 4096
MAX_TXS_BYTES = 4 << 20
MAX_BLOCKS_BYTES = 8 << 20
#: The largest frame of any type (the WebSocket layer refuses bigger frames before buffering).
MAX_FRAME_BYTES = MAX_BLOCKS_BYTES + 16
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$")


@dataclass(frozen=True)
class Hello:
    network: int
    genesis: bytes
    protocol: int
    height: int
    tip: bytes
    finalized: int
    port: int  # the sender's listening port (0: not reachable)
    node_id: bytes
    agent: str = ""


@dataclass(frozen=True)
class Status:
    height: int
    tip: bytes
    finalized: int


@dataclass(frozen=True)
class Txs:
    txs: tuple[Tx, ...]


@dataclass(frozen=True)
class BlockMsg:
    block: Block


@dataclass(frozen=True)
class GetBlocks:
    request_id: int
    from_height: int
    count: int


@dataclass(frozen=True)
class Blocks:
    request_id: int
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class GetPeers:
    pass


@dataclass(frozen=True)
class Peers:
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Evidence:
    """Two signed block headers (wire encodings) claimed to be one delegate's for one slot."""

    header_a: bytes
    header_b: bytes


Message = (
    Hello
    | Status
    | Txs
    | BlockMsg
    | GetBlocks
    | Blocks
    | GetPeers
    | Peers
    | Evidence
    | CustodyShare
)


@dataclass(frozen=True)
class MessageType:
    code: int
    name: str
    cls: type
    max_bytes: int
    decode: Callable[[bytes], Any]
    encode: Callable[[Any], bytes]


# --- field helpers ----------------------------------------------------------------------------


def _json(body: bytes) -> Any:
    return loads_bounded(body, max_depth=4)


def _int(obj: dict[str, Any], name: str, bits: int = 32) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**bits:
        raise ValidationError(f"{name} must be an integer in [0, 2**{bits})")
    return value


def _hex(obj: dict[str, Any], name: str, length: int) -> bytes:
    value = obj.get(name)
    if not isinstance(value, str) or len(value) != 2 * length:
        raise ValidationError(f"{name} must be {2 * length} hex digits")
    return bytes.fromhex(value)


def _object(body: bytes) -> dict[str, Any]:
    data = _json(body)
    if not isinstance(data, dict):
        raise ValidationError("body must be a JSON object")
    return data


def _var_items(r: Reader, count: int, what: str, limit: int) -> list[bytes]:
    return [r.var_bytes(what, limit) for _ in range(count)]


def _var(data: bytes) -> bytes:
    return U32.pack(len(data)) + data


def check_address(text: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) -> (host, port); ValidationError otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValidationError(f"peer address {text[:80]!r} is not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValidationError(f"peer address {text[:80]!r} has an invalid IPv6 host") from None
        return host[1:-1], int(port)
    if not _HOST.match(host):
        raise ValidationError(f"peer address {text[:80]!r} has an invalid host")
    return host, int(port)


# --- per-type codecs --------------------------------------------------------------------------


def _decode_hello(body: bytes) -> Hello:
    o = _object(body)
    agent = o.get("agent", "")
    if not isinstance(agent, str) or len(agent) > 64:
        raise ValidationError("agent must be a string of at most 64 characters")
    return Hello(
        network=_int(o, "network"), genesis=_hex(o, "genesis", 32), protocol=_int(o, "protocol"),
        height=_int(o, "height"), tip=_hex(o, "tip", 32), finalized=_int(o, "finalized"),
        port=_int(o, "port", 16), node_id=_hex(o, "nodeId", 16), agent=agent,
    )  # fmt: skip


def _encode_hello(m: Hello) -> bytes:
    return json.dumps({
        "network": m.network, "genesis": m.genesis.hex(), "protocol": m.protocol,
        "height": m.height, "tip": m.tip.hex(), "finalized": m.finalized, "port": m.port,
        "nodeId": m.node_id.hex(), "agent": m.agent,
    }).encode()  # fmt: skip


def _decode_status(body: bytes) -> Status:
    o = _object(body)
    return Status(_int(o, "height"), _hex(o, "tip", 32), _int(o, "finalized"))


def _encode_status(m: Status) -> bytes:
    return json.dumps({"height": m.height, "tip": m.tip.hex(), "finalized": m.finalized}).encode()


def _split_txs(body: bytes) -> list[bytes]:
    r = Reader(body, "txs")
    count = r.u32("count")
    if not 1 <= count <= MAX_TXS_PER_MESSAGE:
        raise ValidationError(f"txs: count {count} is not in 1..{MAX_TXS_PER_MESSAGE}")
    raws = _var_items(r, count, "tx", MAX_PAYLOAD_BYTES + 1024)
    r.done()
    return raws


def _decode_txs(body: bytes) -> Txs:
    return Txs(tuple(Tx.decode(raw) for raw in _split_txs(body)))


def _encode_txs(m: Txs) -> bytes:
    return U32.pack(len(m.txs)) + b"".join(_var(tx.encoded) for tx in m.txs)


def _decode_get_blocks(body: bytes) -> GetBlocks:
    r = Reader(body, "get_blocks")
    msg = GetBlocks(r.u32("request id"), r.u32("from height"), r.u32("count"))
    r.done()
    if not 1 <= msg.count <= MAX_BLOCKS_PER_REPLY:
        raise ValidationError(f"get_blocks: count {msg.count} not in 1..{MAX_BLOCKS_PER_REPLY}")
    return msg


def _encode_get_blocks(m: GetBlocks) -> bytes:
    return U32.pack(m.request_id) + U32.pack(m.from_height) + U32.pack(m.count)


def _decode_blocks(body: bytes) -> Blocks:
    r = Reader(body, "blocks")
    request_id, count = r.u32("request id"), r.u32("count")
    if count > MAX_BLOCKS_PER_REPLY:
        raise ValidationError(f"blocks: {count} blocks, at most {MAX_BLOCKS_PER_REPLY}")
    raws = _var_items(r, count, "block", MAX_BLOCK_BYTES)
    r.done()
    return Blocks(request_id, tuple(Block.decode(raw) for raw in raws))


def _encode_blocks(m: Blocks) -> bytes:
    head = U32.pack(m.request_id) + U32.pack(len(m.blocks))
    return head + b"".join(_var(b.encoded) for b in m.blocks)


def _decode_empty(body: bytes) -> GetPeers:
    if body:
        raise ValidationError("get_peers has no body")
    return GetPeers()


def _decode_peers(body: bytes) -> Peers:
    data = _json(body)
    if not isinstance(data, list) or len(data) > MAX_PEERS_PER_MESSAGE:
        raise ValidationError(f"peers must be a list of at most {MAX_PEERS_PER_MESSAGE}")
    if not all(isinstance(a, str) for a in data):
        raise ValidationError("peers must be HOST:PORT strings")
    for address in data:
        check_address(address)
    return Peers(tuple(data))


def _decode_evidence(body: bytes) -> Evidence:
    r = Reader(body, "evidence")
    a, b = r.var_bytes("header a", 2 * HEADER_BYTES), r.var_bytes("header b", 2 * HEADER_BYTES)
    r.done()
    return Evidence(a, b)


REGISTRY: dict[int, MessageType] = {}
_BY_CLASS: dict[type, MessageType] = {}


def register(kind: MessageType) -> None:
    """Add a message type (codes and classes are unique)."""
    if kind.code in REGISTRY or kind.cls in _BY_CLASS or not 0 < kind.code < 256:
        raise ValueError(f"message type {kind.name} ({kind.code}) is already registered")
    REGISTRY[kind.code] = kind
    _BY_CLASS[kind.cls] = kind


for _kind in (
    MessageType(1, "hello", Hello, 4096, _decode_hello, _encode_hello),
    MessageType(2, "status", Status, 1024, _decode_status, _encode_status),
    MessageType(3, "txs", Txs, MAX_TXS_BYTES, _decode_txs, _encode_txs),
    MessageType(4, "block", BlockMsg, MAX_BLOCK_BYTES, lambda b: BlockMsg(Block.decode(b)),
                lambda m: m.block.encoded),
    MessageType(5, "get_blocks", GetBlocks, 12, _decode_get_blocks, _encode_get_blocks),
    MessageType(6, "blocks", Blocks, MAX_BLOCKS_BYTES, _decode_blocks, _encode_blocks),
    MessageType(7, "get_peers", GetPeers, 0, _decode_empty, lambda m: b""),
    MessageType(8, "peers", Peers, 16384, _decode_peers,
                lambda m: json.dumps(list(m.addresses)).encode()),
    MessageType(9, "evidence", Evidence, 4 * HEADER_BYTES + 8, _decode_evidence,
                lambda m: _var(m.header_a) + _var(m.header_b)),
    MessageType(10, "custody_share", CustodyShare, MAX_SHARE_BYTES, decode_share, encode_share),
):  # fmt: skip
    register(_kind)


def type_name(message: Any) -> str:
    return _BY_CLASS[type(message)].name


def encode_frame(message: Any) -> bytes:
    kind = _BY_CLASS[type(message)]
    body = kind.encode(message)
    if len(body) > kind.max_bytes:
        raise ValidationError(f"{kind.name} body of {len(body)} bytes exceeds {kind.max_bytes}")
    return bytes([kind.code]) + body


def txs_count(frame: bytes) -> int:
    """How many transactions a ``txs`` frame says it holds (0 for any other frame), read
    before decoding it: the per-peer transaction budget is charged first."""
    if len(frame) < 5 or frame[0] != _BY_CLASS[Txs].code:
        return 0
    return min(int.from_bytes(frame[1:5], "big"), MAX_TXS_PER_MESSAGE)


def txs_items(frame: bytes) -> list[bytes] | None:
    """The transactions of a ``txs`` frame as the exact bytes sent, not decoded (None for any
    other frame): the receiver drops those it has seen by id (a tx id is the sha256 of exactly
    these bytes, ``Tx.id``) before decoding the rest. The framing (count, lengths, size cap) is
    checked as by :func:`decode_frame`, any failure a :class:`PeerProtocolError`."""
    if len(frame) < 1 or frame[0] != _BY_CLASS[Txs].code:
        return None
    return _checked(frame, _split_txs)


def block_body(frame: bytes) -> bytes | None:
    """The body of a ``block`` frame (the block's exact encoding), size-capped and not decoded
    (None for any other frame)."""
    if len(frame) < 1 or frame[0] != _BY_CLASS[BlockMsg].code:
        return None
    return _checked(frame, bytes)


def _checked(frame: bytes, parse: Callable[[bytes], Any]) -> Any:
    kind = REGISTRY[frame[0]]
    body = bytes(frame[1:])
    if len(body) > kind.max_bytes:
        raise PeerProtocolError(
            "too_large", f"{kind.name} body of {len(body)} bytes exceeds {kind.max_bytes}"
        )
    try:
        return parse(body)
    except (ValidationError, ValueError, struct.error, OverflowError) as exc:
        raise PeerProtocolError("malformed", f"{kind.name}: {exc}") from None


def decode_frame(frame: bytes) -> Message:
    """One frame -> a message; any failure is a :class:`PeerProtocolError`."""
    if not isinstance(frame, bytes | bytearray) or not frame:
        raise PeerProtocolError("malformed", "empty or non-binary frame")
    kind = REGISTRY.get(frame[0])
    if kind is None:
        raise PeerProtocolError("unknown_type", f"unknown message type {frame[0]}")
    body = bytes(frame[1:])
    if len(body) > kind.max_bytes:
        raise PeerProtocolError(
            "too_large", f"{kind.name} body of {len(body)} bytes exceeds {kind.max_bytes}"
        )
    try:
        return kind.decode(body)
    except (ValidationError, ValueError, UnicodeDecodeError, struct.error, OverflowError) as exc:
        raise PeerProtocolError("malformed", f"{kind.name}: {exc}") from None
