"""Every transaction of two real mainnet blocks (legacy; segwit, taproot era): strict parsing,
Core's txids, and Merkle proofs for every index, as branches and as ``gettxoutproof`` blobs.

The acceptance data is another set of blocks, so nothing here is tuned to these indices: every
position of every block is proven, and our ``CMerkleBlock`` builder must reproduce bitcoind's
own ``gettxoutproof`` bytes before its output is trusted for the positions bitcoind did not give.
"""

from __future__ import annotations

import time

import pytest
from spv_testkit import Vectors

from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof
from etm_bridge.chains.bitcoin.spv.merkle import (
    branch_from_merkle_block,
    build_merkle_block,
    merkle_levels,
    parse_merkle_block,
    verify_tx_in_header,
)
from etm_bridge.chains.bitcoin.spv.tx import parse_tx, split_block
from etm_bridge.errors import InclusionProofError

BLOCKS = {  # file -> (block hash, tx count, segwit tx count)
    "mainnet_block_170.hex": (
        "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee",
        2,
        0,
    ),
    "mainnet_block_831332.bin": (
        "00000000000000000000a4c01889bd8c5aeb480a3ab3a2174efa8ba2520a7657",
        2355,
        2262,
    ),
}


def _raw_block(vectors: Vectors, name: str) -> bytes:
    path = f"bitcoin/blocks/{name}"
    return bytes.fromhex(vectors.text(path)) if name.endswith(".hex") else vectors.binary(path)


@pytest.fixture(scope="module", params=sorted(BLOCKS))
def block(request, vectors):
    header, txs = split_block(_raw_block(vectors, request.param))
    parsed = [parse_tx(raw) for raw in txs]
    return request.param, header, txs, parsed, merkle_levels([t.txid_le for t in parsed])


def _branch(levels: list[list[bytes]], index: int) -> list[bytes]:
    return [level[min(index >> h ^ 1, len(level) - 1)] for h, level in enumerate(levels[:-1])]


def test_every_transaction_parses_and_the_txids_make_the_header_root(block, vectors) -> None:
    name, header, txs, parsed, levels = block
    block_hash, count, segwit = BLOCKS[name]
    assert header.hash_hex == block_hash and len(txs) == count
    assert levels[-1] == [header.merkle_root_le]
    assert parsed[0].is_coinbase and not any(t.is_coinbase for t in parsed[1:])
    assert sum(t.has_witness for t in parsed) == segwit
    published = {
        p["index"]: p
        for b in vectors.json("bitcoin/merkle_proofs.json")["blocks"]
        if b["block_hash"] == block_hash
        for p in b["proofs"]
    }
    assert published
    for index, proof in published.items():
        assert parsed[index].txid_hex == proof["txid"]
        assert parsed[index].has_witness == proof["segwit"]
        assert len(txs[index]) == proof["tx_size"]
        assert [h[::-1].hex() for h in _branch(levels, index)] == proof["branch"]


def test_a_branch_for_every_index_verifies_and_is_fast(block) -> None:
    _, header, txs, _, levels = block
    started = time.perf_counter()
    for index, raw in enumerate(txs):
        tx = verify_tx_in_header(raw, _branch(levels, index), index, len(txs), header)
        assert tx.txid_le == levels[0][index]
    assert time.perf_counter() - started < 10  # ~2,400 proofs incl. parsing, both blocks


def test_a_branch_at_any_other_index_is_rejected(block) -> None:
    _, header, txs, _, levels = block
    n = len(txs)
    for index in sorted({0, 1, n // 2, n - 2, n - 1} & set(range(n))):
        wrong = (index + 1) % n
        if wrong != index:
            with pytest.raises(InclusionProofError):
                verify_tx_in_header(txs[index], _branch(levels, index), wrong, n, header)
        with pytest.raises(InclusionProofError, match="index-out-of-range"):
            verify_tx_in_header(txs[index], _branch(levels, index), index + n, n, header)


def test_the_merkle_block_builder_reproduces_bitcoinds_gettxoutproof(vectors) -> None:
    header, txs = split_block(_raw_block(vectors, "mainnet_block_831332.bin"))
    txids = [parse_tx(raw).txid_le for raw in txs]
    for stem, matched in (
        ("0", {0}),
        ("1", {1}),
        ("15", {15}),
        ("20", {20}),
        ("0_1_15_20_115_2019_2024", {0, 1, 15, 20, 115, 2019, 2024}),
    ):
        blob = vectors.binary(f"bitcoin/txoutproof/0831332-{stem}.bin")
        assert build_merkle_block(header.to_bytes(), txids, matched) == blob


def test_gettxoutproof_blobs_for_edge_and_sampled_indices_verify(block) -> None:
    _, header, txs, parsed, levels = block
    n = len(txs)
    edges = {0, 1, n // 2, n - 2, n - 1} & set(range(n))
    sample = edges | set(range(0, n, 97))
    for index in sample:  # one blob per index, as `gettxoutproof [txid]` returns
        blob = build_merkle_block(header.to_bytes(), levels[0], {index})
        proof = BitcoinTxProof.from_txoutproof(txs[index], blob)
        assert (proof.index, proof.tx_count) == (index, n)
        assert list(proof.branch_le) == _branch(levels, index)
    blob = build_merkle_block(header.to_bytes(), levels[0], sample)  # one blob, many txids
    matches = parse_merkle_block(blob).matches
    assert matches == tuple((i, levels[0][i]) for i in sorted(sample))
    for index in edges:
        _, _, txid, branch = branch_from_merkle_block(blob, index)
        assert txid == parsed[index].txid_le and branch == _branch(levels, index)
    everything = build_merkle_block(header.to_bytes(), levels[0], set(range(n)))
    assert len(parse_merkle_block(everything).matches) == n


def test_split_block_names_a_truncated_or_padded_block(vectors) -> None:
    raw = _raw_block(vectors, "mainnet_block_170.hex")
    with pytest.raises(InclusionProofError, match="transaction 1 of the block"):
        split_block(raw[:-1])
    with pytest.raises(InclusionProofError, match="bad-block"):
        split_block(raw + b"\0")
    with pytest.raises(InclusionProofError, match="bad-block"):
        split_block(raw[:80])
