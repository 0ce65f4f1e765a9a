"""Header RLP, receipt encoding and receipts-trie proofs against real mainnet block 21925176."""

from __future__ import annotations

import pytest
import vector_files
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.chains.ethereum.spv import rlp as eth_rlp
from etm_bridge.errors import ProofError, ValidationError


def _load(name: str):
    return vector_files.read_json(f"ethereum/{name}")


@pytest.fixture(scope="module")
def block() -> dict:
    return _load("helios_rpc_block_21925176.json")


@pytest.fixture(scope="module")
def rpc_receipts() -> list:
    return _load("helios_rpc_receipts_21925176.json")


@pytest.fixture(scope="module")
def derived() -> dict:
    return _load("mainnet_block_21925176_receipts.json")


def test_header_rlp_of_real_cancun_block_hashes_to_block_hash(block, derived):
    header_rlp = eth_rlp.encode_checked_header(block)
    assert header_rlp.hex() == derived["header_rlp"][2:]
    assert eth_rlp.header_hash(header_rlp) == bytes.fromhex(block["hash"][2:])
    assert eth_rlp.header_number(header_rlp) == 21925176
    assert eth_rlp.header_receipts_root(header_rlp).hex() == block["receiptsRoot"][2:]


def test_header_with_a_changed_field_fails_the_hash_check(block):
    tampered = dict(block, gasUsed=hex(int(block["gasUsed"], 16) + 1))
    with pytest.raises(ProofError, match="hashes to"):
        eth_rlp.encode_checked_header(tampered)


def test_unknown_later_fork_field_changes_the_hash(block):
    prague_like = dict(block, requestsHash="0x" + "11" * 32)
    assert len(eth_rlp.header_fields(prague_like)) == 21
    with pytest.raises(ProofError):
        eth_rlp.encode_checked_header(prague_like)


def test_fork_field_without_the_earlier_ones_is_rejected(block):
    gap = {k: v for k, v in block.items() if k != "withdrawalsRoot"}
    with pytest.raises(ValidationError, match="withdrawalsRoot"):
        eth_rlp.header_fields(gap)


def test_pre_london_header_has_fifteen_fields(block):
    fork_names = {name for name, _kind in eth_rlp.FORK_HEADER_FIELDS}
    frontier = {k: v for k, v in block.items() if k not in fork_names}
    assert len(eth_rlp.header_fields(frontier)) == 15


def test_header_field_with_wrong_length_is_named(block):
    with pytest.raises(ValidationError, match="receiptsRoot must be 32 bytes"):
        eth_rlp.header_fields(dict(block, receiptsRoot="0x1234"))


def test_missing_header_field_is_named(block):
    with pytest.raises(ValidationError, match="stateRoot"):
        eth_rlp.header_fields({k: v for k, v in block.items() if k != "stateRoot"})


def test_receipt_encoding_matches_consensus_bytes_for_every_receipt(rpc_receipts, derived):
    encoded = [eth_rlp.encode_receipt(r) for r in rpc_receipts]
    assert [e.hex() for e in encoded] == [r[2:] for r in derived["receipts"]]
    assert {e[0] for e in encoded} >= {0x02}  # typed receipts carry their type byte
    assert any(e[0] >= 0xC0 for e in encoded)  # and legacy ones are a plain RLP list


def test_receipts_root_of_all_real_receipts_equals_header(rpc_receipts, block):
    encoded = [eth_rlp.encode_receipt(r) for r in rpc_receipts]
    assert eth_rlp.receipts_root(encoded).hex() == block["receiptsRoot"][2:]


def test_built_proofs_equal_the_published_proof_nodes(derived):
    receipts = [bytes.fromhex(r[2:]) for r in derived["receipts"]]
    for case in derived["proofs"]:
        root, nodes = eth_rlp.build_receipt_proof(receipts, case["index"])
        assert root.hex() == derived["receipts_root"][2:]
        assert [n.hex() for n in nodes] == [p[2:] for p in case["proof"]]
        assert eth_rlp.receipt_trie_key(case["index"]).hex() == case["key"][2:]


def test_proof_for_index_outside_block_is_rejected(derived):
    receipts = [bytes.fromhex(r[2:]) for r in derived["receipts"]]
    with pytest.raises(ValidationError, match="not in block"):
        eth_rlp.build_receipt_proof(receipts, len(receipts))


def test_receipt_without_status_or_root_is_rejected(rpc_receipts):
    receipt = {k: v for k, v in rpc_receipts[0].items() if k != "status"}
    with pytest.raises(ValidationError, match="status"):
        eth_rlp.encode_receipt(receipt)


def test_values_from_web3_formatted_results_encode_the_same(block, derived):
    formatted = {
        k: (bytes.fromhex(v[2:]) if isinstance(v, str) and len(v) > 18 else v)
        for k, v in block.items()
    }
    formatted["number"] = int(block["number"], 16)
    assert eth_rlp.encode_header(formatted).hex() == derived["header_rlp"][2:]


_KIND_STRATEGIES = {
    "hash": st.binary(min_size=32, max_size=32),
    "address": st.binary(min_size=20, max_size=20),
    "bloom": st.binary(min_size=256, max_size=256),
    "nonce": st.binary(min_size=8, max_size=8),
    "int": st.integers(min_value=0, max_value=2**256 - 1),
    "bytes": st.binary(max_size=32),
}


@st.composite
def _headers(draw) -> dict:
    forks = draw(st.integers(min_value=0, max_value=len(eth_rlp.FORK_HEADER_FIELDS)))
    fields = [*eth_rlp.BASE_HEADER_FIELDS, *eth_rlp.FORK_HEADER_FIELDS[:forks]]
    return {name: draw(_KIND_STRATEGIES[kind]) for name, kind in fields}


def _rlp_value(value: int | bytes) -> bytes:
    """How RLP carries a field: ints as minimal big-endian bytes (0 is empty)."""
    if isinstance(value, int):
        return value.to_bytes((value.bit_length() + 7) // 8, "big")
    return value


@given(_headers())
def test_header_rlp_round_trips_for_every_fork(header):
    header_rlp = eth_rlp.encode_header(header)
    assert eth_rlp.decode_header(header_rlp) == [_rlp_value(v) for v in header.values()]
    assert eth_rlp.header_number(header_rlp) == header["number"]
    assert eth_rlp.header_receipts_root(header_rlp) == header["receiptsRoot"]
