"""Transactions: the documented byte encoding (vectors), round trips and malformed input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.chain.codec import sha256
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.tx import MAX_PAYLOAD_BYTES, Tx
from etm_bridge.errors import ValidationError

VECTORS = Path(__file__).parent / "vectors" / "tx_vectors.json"
CASES = [  # (seed text, network, type, nonce, fee, payload hex)
    ("vector-0", 0x45544D01, 1, 0, 10_000, "11" * 20 + "0000000005f5e100"),
    ("vector-1", 0x45544D01, 2, 7, 2_000_000, "07" + b"alice_1".hex()),
    ("vector-2", 1, 3, 2**64 - 1, 2**64 - 1, "ab" * 32),
    ("vector-3", 0xFFFFFFFF, 65535, 1, 0, ""),
]


def make_vectors() -> list[dict[str, Any]]:
    out = []
    for seed, network, type_id, nonce, fee, payload in CASES:
        key = dev_key(seed)
        tx = Tx.create(key, network=network, type_id=type_id, nonce=nonce, fee=fee,
                       payload=bytes.fromhex(payload))  # fmt: skip
        out.append({
            "seed": seed, "network": network, "type": type_id, "nonce": nonce, "fee": fee,
            "payload": payload, "publicKey": key.public_key.hex(),
            "unsigned": tx.unsigned_bytes.hex(), "signingHash": sha256(tx.unsigned_bytes).hex(),
            "signed": tx.encoded.hex(), "id": tx.id.hex(),
        })  # fmt: skip
    return out


def test_encoding_matches_committed_vectors_byte_for_byte() -> None:
    assert make_vectors() == json.loads(VECTORS.read_text())


def test_vector_layout_is_the_documented_one() -> None:
    v = json.loads(VECTORS.read_text())[0]
    raw = bytes.fromhex(v["signed"])
    assert raw[0] == 1  # version
    assert raw[1:5] == (0x45544D01).to_bytes(4, "big")
    assert raw[5:7] == (1).to_bytes(2, "big")
    assert raw[7:39].hex() == v["publicKey"]
    assert raw[39:47] == bytes(8) and raw[47:55] == (10_000).to_bytes(8, "big")
    assert raw[55:59] == (28).to_bytes(4, "big") and raw[59:87].hex() == v["payload"]
    assert len(raw) == 87 + 64
    assert sha256(raw).hex() == v["id"]


def test_vectors_decode_and_verify() -> None:
    for v in json.loads(VECTORS.read_text()):
        tx = Tx.decode(bytes.fromhex(v["signed"]))
        assert tx.signature_ok() and tx.id.hex() == v["id"]


KEY = SigningKey(bytes(range(32)))


@given(
    st.integers(0, 2**32 - 1), st.integers(0, 2**16 - 1), st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1), st.binary(max_size=300),
)  # fmt: skip
def test_round_trip(network: int, type_id: int, nonce: int, fee: int, payload: bytes) -> None:
    tx = Tx.create(KEY, network=network, type_id=type_id, nonce=nonce, fee=fee, payload=payload)
    again = Tx.decode(tx.encoded)
    assert again == tx and again.id == tx.id and again.signature_ok()
    # the fast decoding path caches exactly what the fields encode to, as bytes
    from_view, prefixed = Tx.decode(memoryview(tx.encoded)), Tx.decode_prefix(b"?" + tx.encoded, 1)
    for decoded in (again, from_view, prefixed[0]):
        assert decoded == tx and decoded.__dict__["encoded"] == tx.encoded
        assert decoded.__dict__["unsigned_bytes"] == Tx(**_fields(tx)).unsigned_bytes
        assert all(type(decoded.__dict__[f]) is bytes
                   for f in ("payload", "signature", "sender_public_key", "encoded"))  # fmt: skip


def _fields(tx: Tx) -> dict[str, Any]:
    names = ("network", "type_id", "sender_public_key", "nonce", "fee", "payload", "signature")
    return {name: getattr(tx, name) for name in names}


def test_any_flipped_bit_breaks_the_signature() -> None:
    tx = Tx.create(KEY, network=1, type_id=1, nonce=0, fee=1, payload=b"x" * 28)
    raw = bytearray(tx.encoded)
    for i in (0 + 5, 40, 50, 60, len(raw) - 1):
        raw2 = bytearray(raw)
        raw2[i] ^= 1
        assert not Tx.decode(bytes(raw2)).signature_ok()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b[:-1], "signature needs 64 bytes"),
        (lambda b: b + b"\x00", "1 unexpected trailing bytes"),
        (lambda b: b"\x02" + b[1:], "version must be 1"),
        (lambda b: b[:3], "network needs 4 bytes"),
        (lambda b: b[:55] + (MAX_PAYLOAD_BYTES + 1).to_bytes(4, "big") + b[59:], "limit"),
    ],
)
def test_malformed_encodings_name_the_field(mutate: Any, message: str) -> None:
    tx = Tx.create(KEY, network=1, type_id=1, nonce=0, fee=1, payload=b"x" * 28)
    with pytest.raises(ValidationError, match=message):
        Tx.decode(mutate(tx.encoded))


def test_constructor_validates_lengths_and_ranges() -> None:
    with pytest.raises(ValidationError, match="sender public key must be 32 bytes"):
        Tx(1, 1, b"\x00" * 31, 0, 0, b"", bytes(64))
    with pytest.raises(ValidationError, match="nonce must be in"):
        Tx(1, 1, bytes(32), 2**64, 0, b"", bytes(64))
    with pytest.raises(ValidationError, match="signature must be 64 bytes"):
        Tx(1, 1, bytes(32), 0, 0, b"", bytes(63))
