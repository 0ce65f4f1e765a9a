"""Peer messages: every type round-trips; any byte string decodes or raises PeerProtocolError
(fuzzed with hypothesis, time-boxed); size caps hold before any decoding."""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etm_bridge.chain.address import address_hash
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.errors import PeerProtocolError, ValidationError
from etm_bridge.node.p2p.custody_share import CustodyShare
from etm_bridge.node.p2p.messages import (
    MAX_FRAME_BYTES,
    REGISTRY,
    BlockMsg,
    Blocks,
    Evidence,
    GetBlocks,
    GetPeers,
    Hello,
    MessageType,
    Peers,
    Status,
    Txs,
    check_address,
    decode_frame,
    encode_frame,
    register,
)
from etm_bridge.store import ChainStore

PARAMS = replace(ChainParams(), genesis_time=1_000, block_time_s=1, delegates_per_round=3)


def _samples() -> list[object]:
    genesis, keys = dev_genesis(PARAMS, 3, funded=2)
    chain = Chain(ChainStore.memory(), genesis)
    alice = dev_key("user-0")
    payload = TransferPayload(address_hash(dev_key("user-1").public_key), 5).encode()
    tx = Tx.create(alice, network=PARAMS.network_id, type_id=TRANSFER, nonce=0, fee=100_000,
                   payload=payload)  # fmt: skip
    chain.submit_tx(tx)
    block = None
    now = PARAMS.genesis_time + 1
    while block is None:
        block = chain.forge_next(now, keys)
        now += 1
    return [
        Hello(1, bytes(32), 1, 5, os.urandom(32), 3, 26657, os.urandom(16), "etm-bridge/0.1"),
        Status(7, os.urandom(32), 4),
        Txs((tx, tx)),
        BlockMsg(block),
        GetBlocks(9, 1, 250),
        Blocks(9, (block, chain.block_by_height(0))),
        GetPeers(),
        Peers(("127.0.0.1:26657", "node.example:1", "[::1]:80")),
        Evidence(block.header.encoded, chain.block_by_height(0).header.encoded),
        CustodyShare("btc", os.urandom(32), 2, b"\x02" * 33, ((0, b"\x30" * 71), (3, b"\x01"))),
    ]


SAMPLES = _samples()
FRAMES = [encode_frame(m) for m in SAMPLES]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_every_type_round_trips(message: object) -> None:
    decoded = decode_frame(encode_frame(message))
    assert type(decoded) is type(message)
    assert encode_frame(decoded) == encode_frame(message)


def test_size_caps_are_checked_before_decoding() -> None:
    with pytest.raises(PeerProtocolError) as info:
        decode_frame(bytes([2]) + b" " * 5000)  # status is capped at 1 KiB
    assert info.value.reason == "too_large"
    assert max(kind.max_bytes for kind in REGISTRY.values()) < MAX_FRAME_BYTES


def test_unknown_type_empty_and_text_frames() -> None:
    for frame, reason in ((b"\xff", "unknown_type"), (b"", "malformed"), ("hi", "malformed")):
        with pytest.raises(PeerProtocolError) as info:
            decode_frame(frame)  # type: ignore[arg-type]
        assert info.value.reason == reason


def test_registry_refuses_a_second_type_with_the_same_code() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(MessageType(1, "again", bytes, 1, bytes, bytes))


@pytest.mark.parametrize(
    "address", ["host", "host:0", "host:70000", "ho st:1", ":80", "[zz]:1", "a:1x"]
)
def test_bad_peer_addresses(address: str) -> None:
    with pytest.raises(ValidationError):
        check_address(address)


def _decodes_or_refuses(frame: bytes) -> None:
    with contextlib.suppress(PeerProtocolError):
        decode_frame(frame)


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(st.binary(max_size=2048))
def test_fuzz_random_frames(frame: bytes) -> None:
    _decodes_or_refuses(frame)


@FUZZ
@given(st.integers(1, 10), st.binary(max_size=600))
def test_fuzz_random_bodies_of_every_type(code: int, body: bytes) -> None:
    _decodes_or_refuses(bytes([code]) + body)


@FUZZ
@given(st.sampled_from(FRAMES), st.data())
def test_fuzz_mutated_valid_frames(frame: bytes, data: st.DataObject) -> None:
    mutated = bytearray(frame)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(mutated) - 1))
        mutated[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(mutated)))
    _decodes_or_refuses(bytes(mutated[:cut]))
    _decodes_or_refuses(bytes(mutated))


@FUZZ
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda kids: (
            st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
        ),
    )
)
def test_fuzz_json_bodies(value: object) -> None:
    import json

    body = json.dumps(value).encode()
    for code in (1, 2, 8):
        _decodes_or_refuses(bytes([code]) + body)
