"""Merkle branches, gettxoutproof parsing and the forged-proof corpus, each with its reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spv_testkit import branch_of, build_tree

from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv import merkle
from etm_bridge.chains.bitcoin.spv.params import MAINNET
from etm_bridge.chains.bitcoin.spv.tx import parse_tx as parse_tx_unchecked
from etm_bridge.errors import HeaderRejectedError, InclusionProofError


def _le(display_hex: str) -> bytes:
    return bytes.fromhex(display_hex)[::-1]


def test_published_branches_of_three_real_blocks(vectors) -> None:
    for block in vectors.json("bitcoin/merkle_proofs.json")["blocks"]:
        header = bh.BlockHeader.from_hex(block["header"])
        assert header.merkle_root_hex == block["merkle_root"]
        for proof in block["proofs"]:
            branch = [_le(h) for h in proof["branch"]]
            if proof["raw_tx"] is None:
                merkle.verify_branch(
                    _le(proof["txid"]),
                    branch,
                    proof["index"],
                    block["tx_count"],
                    header.merkle_root_le,
                )
                continue
            tx = merkle.verify_tx_in_header(
                bytes.fromhex(proof["raw_tx"]), branch, proof["index"], block["tx_count"], header
            )
            assert tx.txid_hex == proof["txid"]
            assert tx.has_witness == proof["segwit"]


def test_real_txoutproofs_parse_and_match(vectors) -> None:
    block = next(
        b for b in vectors.json("bitcoin/merkle_proofs.json")["blocks"] if b["height"] == 831332
    )
    txids = {p["index"]: p["txid"] for p in block["proofs"]}
    name = "bitcoin/txoutproof/0831332-0_1_15_20_115_2019_2024.bin"
    parsed = merkle.parse_merkle_block(vectors.binary(name))
    assert [i for i, _ in parsed.matches] == [0, 1, 15, 20, 115, 2019, 2024]
    assert parsed.tx_count == 2355
    for index, txid_le in parsed.matches:
        if index in txids:
            assert txid_le[::-1].hex() == txids[index]
        header, count, got, branch = merkle.branch_from_merkle_block(vectors.binary(name), index)
        merkle.verify_branch(got, branch, index, count, header.merkle_root_le)


FORGED_REASONS = {
    "phantom_index_duplicate_last_tx": "index-out-of-range",
    "internal_node_as_64_byte_transaction": "tx-64-bytes",
    "wrong_index": "merkle-root-mismatch",
    "tampered_branch_sibling": "merkle-root-mismatch",
    "truncated_branch": "bad-branch-length",
    "wtxid_instead_of_txid": "merkle-root-mismatch",
    "valid_branch_wrong_block": "merkle-root-mismatch",
    "header_bad_pow_nonce_changed": "high-hash",
    "header_bits_not_expected": "high-hash",
    "txoutproof_tx_count_changed_tree_height": "bad-merkleblock",
    "txoutproof_hash_byte_flipped": "merkle-root-mismatch",
}


def _check_forged(case: dict, real_header: str) -> None:
    if "txoutproof" in case:
        merkle.parse_merkle_block(bytes.fromhex(case["txoutproof"]))
    elif "branch" not in case:
        header = bh.BlockHeader.from_hex(case["header_override"])
        bh.check_proof_of_work(header.hash_le, header.bits, MAINNET.pow_limit)
    else:
        header = bh.BlockHeader.from_hex(case.get("header_override", real_header))
        branch = [_le(h) for h in case["branch"]]
        if case.get("raw_tx"):
            merkle.verify_tx_in_header(
                bytes.fromhex(case["raw_tx"]), branch, case["index"], case["tx_count"], header
            )
        else:  # the wtxid case: only the (wrong) id is given
            merkle.verify_branch(
                _le(case["txid"]), branch, case["index"], case["tx_count"], header.merkle_root_le
            )


def test_forged_proof_corpus_is_rejected_with_its_reason(vectors) -> None:
    data = vectors.json("bitcoin/forged_proofs_831332.json")
    assert {c["name"] for c in data["cases"]} == set(FORGED_REASONS)
    for case in data["cases"]:
        with pytest.raises((InclusionProofError, HeaderRejectedError)) as info:
            _check_forged(case, data["header"])
        assert info.value.reason == FORGED_REASONS[case["name"]], case["name"]


def test_wtxid_case_verifies_with_the_correct_txid(vectors) -> None:
    data = vectors.json("bitcoin/forged_proofs_831332.json")
    case = next(c for c in data["cases"] if c["name"] == "wtxid_instead_of_txid")
    header = bh.BlockHeader.from_hex(data["header"])
    branch = [_le(h) for h in case["branch"]]
    merkle.verify_branch(
        _le(case["correct_txid"]), branch, case["index"], case["tx_count"], header.merkle_root_le
    )


# --- our own forgeries on constructed trees ---------------------------------------------------

LEAVES = [bh.dsha256(bytes([i])) for i in range(5)]
LEVELS = build_tree(LEAVES)
ROOT = LEVELS[-1][0]


def test_duplicated_leaf_cve_2012_2459_is_rejected() -> None:
    # 5 leaves: leaf 4 pairs with itself. The same root is reached by a 6-leaf tree whose
    # leaves 4 and 5 are equal: claiming index 5 of 6 must fail, though the hashes match.
    branch = branch_of(LEVELS, 4)
    merkle.verify_branch(LEAVES[4], branch, 4, 5, ROOT)
    with pytest.raises(InclusionProofError) as info:
        merkle.verify_branch(LEAVES[4], branch, 5, 6, ROOT)
    assert info.value.reason == "merkle-mutated"
    with pytest.raises(InclusionProofError) as info:
        merkle.verify_branch(LEAVES[4], branch, 5, 5, ROOT)
    assert info.value.reason == "index-out-of-range"


def test_duplicate_position_must_pair_with_itself() -> None:
    branch = branch_of(LEVELS, 4)
    branch[0] = LEAVES[0]
    with pytest.raises(InclusionProofError) as info:
        merkle.verify_branch(LEAVES[4], branch, 4, 5, ROOT)
    assert info.value.reason == "merkle-bad-duplicate"


def test_wrong_position_truncated_branch_and_64_byte_tx_are_rejected() -> None:
    branch = branch_of(LEVELS, 1)
    with pytest.raises(InclusionProofError, match="merkle-root-mismatch"):
        merkle.verify_branch(LEAVES[1], branch, 0, 5, ROOT)
    with pytest.raises(InclusionProofError, match="bad-branch-length"):
        merkle.verify_branch(LEAVES[1], branch[:-1], 1, 5, ROOT)
    inner = LEVELS[0][0] + LEVELS[0][1]
    header = bh.BlockHeader(1, bytes(32), ROOT, 0, 0x207FFFFF, 0, b"\0" * 32)
    with pytest.raises(InclusionProofError, match="tx-64-bytes"):
        merkle.verify_tx_in_header(inner, branch_of(LEVELS, 0)[1:], 0, 3, header)


@given(st.integers(min_value=1, max_value=300), st.data())
def test_every_leaf_of_any_tree_proves_and_no_other_position_does(count: int, data) -> None:
    leaves = [bh.dsha256(i.to_bytes(4, "little")) for i in range(count)]
    levels = build_tree(leaves)
    index = data.draw(st.integers(min_value=0, max_value=count - 1))
    branch = branch_of(levels, index)
    merkle.verify_branch(leaves[index], branch, index, count, levels[-1][0])
    other = data.draw(st.integers(min_value=0, max_value=count - 1).filter(lambda i: i != index))
    with pytest.raises(InclusionProofError):
        merkle.verify_branch(leaves[index], branch, other, count, levels[-1][0])


@given(st.integers(min_value=2, max_value=64), st.data())
def test_any_flipped_branch_byte_is_rejected(count: int, data) -> None:
    leaves = [bh.dsha256(i.to_bytes(4, "little")) for i in range(count)]
    levels = build_tree(leaves)
    index = data.draw(st.integers(min_value=0, max_value=count - 1))
    branch = branch_of(levels, index)
    level = data.draw(st.integers(min_value=0, max_value=len(branch) - 1))
    pos = data.draw(st.integers(min_value=0, max_value=31))
    mutated = bytearray(branch[level])
    mutated[pos] ^= 0x01
    branch[level] = bytes(mutated)
    with pytest.raises(InclusionProofError):
        merkle.verify_branch(leaves[index], branch, index, count, levels[-1][0])


def _summa_verdict(proof: bytes, index: int) -> bool:
    if len(proof) < 32 or len(proof) % 32:
        return False
    hashes = [proof[i : i + 32] for i in range(0, len(proof), 32)]
    leaf, siblings, root = hashes[0], hashes[1:-1], hashes[-1]
    try:  # summa gives no tx count: a full tree of the branch's depth
        merkle.verify_branch(leaf, siblings, index, 1 << len(siblings), root)
    except InclusionProofError:
        return False
    return True


def test_summa_verify_hash256_merkle_vectors(vectors) -> None:
    cases = vectors.json("bitcoin/summa-bitcoin-spv/testVectors.json")["verifyHash256Merkle"]
    assert len(cases) == 8
    for case in cases:
        proof = bytes.fromhex(case["input"]["proof"][2:])
        assert _summa_verdict(proof, case["input"]["index"]) == case["output"], case


@given(st.integers(min_value=1, max_value=400), st.data())
def test_any_merkleblock_round_trips_its_matches_and_their_branches(count: int, data) -> None:
    """Core's CPartialMerkleTree both ways, for any tree size (1 tx, odd levels) and match set."""
    leaves = [bh.dsha256(i.to_bytes(4, "little")) for i in range(count)]
    levels = build_tree(leaves)
    header = bh.BlockHeader(1, bytes(32), levels[-1][0], 0, 0x207FFFFF, 0, b"\0" * 32)
    matched = data.draw(st.sets(st.integers(0, count - 1), min_size=1, max_size=min(count, 20)))
    blob = merkle.build_merkle_block(header.to_bytes(), leaves, matched)
    parsed = merkle.parse_merkle_block(blob)
    assert parsed.tx_count == count
    assert parsed.matches == tuple((i, leaves[i]) for i in sorted(matched))
    for index in matched:
        _, _, txid, branch = merkle.branch_from_merkle_block(blob, index)
        assert txid == leaves[index] and branch == branch_of(levels, index)
        merkle.verify_branch(txid, branch, index, count, header.merkle_root_le)
    truncated = blob[:-1]
    with pytest.raises(InclusionProofError):
        merkle.parse_merkle_block(truncated)


def _segwit_tx_with_64_byte_stripped_form() -> bytes:
    """A segwit tx whose txid preimage (version, inputs, outputs, locktime) is 64 bytes."""
    tx_in = b"\x11" * 32 + b"\x00\x00\x00\x00" + b"\x00" + b"\xff\xff\xff\xff"  # 41 bytes
    tx_out = (50_000).to_bytes(8, "little") + b"\x04" + b"\x6a\x02\xab\xcd"  # 13 bytes
    witness = b"\x01\x01\x07"  # one stack item of one byte
    return (
        b"\x02\x00\x00\x00" + b"\x00\x01" + b"\x01" + tx_in + b"\x01" + tx_out + witness
        + b"\x00\x00\x00\x00"
    )  # fmt: skip


def test_a_segwit_tx_whose_stripped_form_is_64_bytes_is_refused_as_an_inner_node() -> None:
    """Issue 11 item 12: the guard looked at the submitted bytes (69 here), not the stripped
    bytes the txid hashes (64). The attack: a block whose first two leaves are the two halves
    of those 64 bytes has an inner node equal to the tx's txid, so a proof claiming a tree of
    two transactions "includes" the tx one level up."""
    raw = _segwit_tx_with_64_byte_stripped_form()
    tx = parse_tx_unchecked(raw)
    assert len(raw) == 69 and tx.has_witness and tx.stripped_size == 64
    stripped = raw[:4] + raw[6:-7] + raw[-4:]  # without marker, flag and witness
    assert bh.dsha256(stripped) == tx.txid_le
    left, right = stripped[:32], stripped[32:]
    levels = build_tree([left, right, bh.dsha256(b"a"), bh.dsha256(b"b")])  # the real block
    assert levels[1][0] == tx.txid_le  # the inner node is the tx's txid
    header = bh.BlockHeader(1, bytes(32), levels[-1][0], 0, 0x207FFFFF, 0, b"\0" * 32)
    with pytest.raises(InclusionProofError) as info:
        merkle.verify_tx_in_header(raw, [levels[1][1]], 0, 2, header)
    assert info.value.reason == "tx-64-bytes"
    assert "witness-stripped" in str(info.value)
