"""Block header encoding: committed vectors, round trips, ids and the hashing test.

The first vector's header is signed in the signing domain of the second vector's genesis
(``signingRoot`` = sha256("ETM-block-signature" || genesis id || unsigned header)).

Regenerate the vectors after a deliberate encoding change (and bump ``BLOCK_VERSION``, unless the
version was never released)::

    python -c "import sys; sys.path.insert(0, 'tests/unit/chain'); \
        import test_chain_block_encoding as t; t.write_vectors()"
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.chain import vrf
from etm_bridge.chain.block import (
    BLOCK_VERSION,
    HEADER_BYTES,
    SIGNING_DOMAIN_TAG,
    Block,
    BlockHeader,
    merkle_root,
)
from etm_bridge.chain.codec import U32, sha256, sha256d
from etm_bridge.chain.genesis import dev_genesis, genesis_block
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.rounds import reveal_alpha
from etm_bridge.chain.tx import Tx
from etm_bridge.errors import ValidationError

VECTORS = Path(__file__).parent / "vectors" / "block_vectors.json"
VECTOR_PARAMS = ChainParams(network_id=1, delegates_per_round=101, tx_plugins=())


def make_vectors() -> list[dict[str, Any]]:
    key = dev_key("block-vector")
    txs = tuple(
        Tx.create(
            dev_key(f"tx-{i}"),
            network=1,
            type_id=1,
            nonce=i,
            fee=10_000 + i,
            payload=bytes([i]) * 28,
        )
        for i in range(3)
    )
    alpha = reveal_alpha(1, VECTOR_PARAMS.round_of(1_574_052))
    genesis = genesis_block(dev_genesis(ChainParams(tx_plugins=()), 3)[0])
    header = BlockHeader(
        version=2, network=1, timestamp=23_039_010, height=1_574_052,
        previous_block=sha256(b"prev"), number_of_transactions=3, total_amount=0,
        total_fee=30_003, reward=500_000_000, payload_length=sum(t.size for t in txs),
        payload_hash=merkle_root([t.id for t in txs]), generator_public_key=key.public_key,
        reveal=vrf.prove(key.seed, alpha),
    ).solve_and_sign(key, 2**252, genesis.id)  # fmt: skip
    block = Block(header, txs)
    return [
        {"name": "three transfers", "unsigned": header.unsigned_bytes.hex(),
         "genesisId": genesis.id.hex(), "signingRoot": header.signing_root(genesis.id).hex(),
         "signed": header.encoded.hex(), "id": header.id.hex(), "shortId": header.short_id,
         "nonce": header.nonce, "revealAlpha": alpha.hex(),
         "revealOutput": vrf.proof_to_hash(header.reveal).hex(), "block": block.encoded.hex()},
        {"name": "dev genesis (3 delegates)", "signed": genesis.header.encoded.hex(),
         "id": genesis.id.hex(), "shortId": genesis.header.short_id,
         "block": genesis.encoded.hex()},
    ]  # fmt: skip


def write_vectors() -> None:
    VECTORS.write_text(json.dumps(make_vectors(), indent=2) + "\n")


def test_encoding_matches_committed_vectors_byte_for_byte() -> None:
    assert make_vectors() == json.loads(VECTORS.read_text())


def test_vector_passes_hashing_test_signature_and_reveal() -> None:
    v = json.loads(VECTORS.read_text())[0]
    raw = bytes.fromhex(v["signed"])
    header = BlockHeader.decode(raw)
    assert len(raw) == HEADER_BYTES == 296
    assert raw[:8] == U32.pack(BLOCK_VERSION) + U32.pack(1)  # version, then the network id
    assert int.from_bytes(sha256d(bytes.fromhex(v["unsigned"])), "big") < 2**252
    genesis_id = bytes.fromhex(v["genesisId"])
    root = sha256(b"ETM-block-signature" + genesis_id + bytes.fromhex(v["unsigned"]))
    assert SIGNING_DOMAIN_TAG == b"ETM-block-signature" and root.hex() == v["signingRoot"]
    assert header.signing_root(genesis_id) == root
    assert header.signature_ok(genesis_id) and header.id.hex() == v["id"]
    assert genesis_id.hex() == json.loads(VECTORS.read_text())[1]["id"]
    assert v["shortId"] == str(int.from_bytes(bytes.fromhex(v["id"])[:8], "big"))
    assert Block.decode(bytes.fromhex(v["block"])).header == header
    beta = vrf.verify(header.generator_public_key, bytes.fromhex(v["revealAlpha"]), header.reveal)
    assert beta is not None and beta.hex() == v["revealOutput"]


def _vector_header() -> tuple[BlockHeader, bytes]:
    v = json.loads(VECTORS.read_text())[0]
    return BlockHeader.decode(bytes.fromhex(v["signed"])), bytes.fromhex(v["genesisId"])


def test_the_signature_covers_the_network_id() -> None:
    """A header signed for network 1 does not verify once relabelled for network 2."""
    header, genesis_id = _vector_header()
    assert header.signature_ok(genesis_id)
    assert not replace(header, network=2).signature_ok(genesis_id)


def test_the_signature_covers_the_genesis_id() -> None:
    """The same header, the same network: signed for one genesis, it verifies for no other."""
    header, genesis_id = _vector_header()
    other = genesis_block(dev_genesis(ChainParams(tx_plugins=()), 4)[0]).id
    assert other != genesis_id and not header.signature_ok(other)
    assert not header.signature_ok(bytes(32))


def test_an_older_header_version_is_refused_by_name() -> None:
    raw = bytes.fromhex(json.loads(VECTORS.read_text())[0]["signed"])
    with pytest.raises(ValidationError, match="version 1: this node reads version 2 only"):
        BlockHeader.decode(U32.pack(1) + raw[4:])


u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
b32 = st.binary(min_size=32, max_size=32)


HEADERS = st.builds(
    BlockHeader, st.just(BLOCK_VERSION), u32, u32, u32, b32, u32, u64, u64, u64, u32, b32, b32,
    st.binary(min_size=80, max_size=80), u64, st.binary(min_size=64, max_size=64),
)  # fmt: skip


@given(HEADERS)
def test_header_round_trip(header: BlockHeader) -> None:
    decoded = BlockHeader.decode(header.encoded)
    assert decoded == header and decoded.id == header.id == sha256(header.encoded)
    # the one-struct decoding path: the same fields, of the same types, and its cached bytes
    assert decoded.__dict__["unsigned_bytes"] == replace(header).unsigned_bytes
    assert [type(getattr(decoded, f)) for f in decoded.__dataclass_fields__] == [
        type(getattr(header, f)) for f in header.__dataclass_fields__
    ]
    block = Block.decode(memoryview(Block(header).encoded))  # type: ignore[arg-type]
    assert block.header == header and type(block.encoded) is bytes


@pytest.mark.parametrize(
    ("data", "message"),
    [(U32.pack(2) + b"\x00" * (HEADER_BYTES - 5), "block_signature needs 64 bytes"),
     (U32.pack(2) + b"\x00" * (HEADER_BYTES - 3), "1 unexpected trailing bytes")],
)  # fmt: skip
def test_malformed_headers_name_the_field(data: bytes, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BlockHeader.decode(data)


def test_block_with_absurd_tx_count_is_refused_before_parsing() -> None:
    header = BlockHeader.decode(U32.pack(BLOCK_VERSION) + bytes(HEADER_BYTES - 4))
    with pytest.raises(ValidationError, match="cannot fit"):
        Block.decode(header.encoded + (10**6).to_bytes(4, "big"))
