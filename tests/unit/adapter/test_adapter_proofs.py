"""The Merkle branch verifier on real mainnet proofs and on trees it builds itself."""

from __future__ import annotations

import pytest
import vector_files
from bitcoin.core import CTransaction
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.adapter import InclusionProof
from etm_bridge.chain.codec import sha256d as dsha256
from etm_bridge.errors import ProofError
from etm_bridge.merkle import merkle_branch_le, merkle_root_le, root_from_branch_le
from etm_bridge.testing.proofs import verify_inclusion_proof


def _real_proofs() -> list[InclusionProof]:
    data = vector_files.read_json("bitcoin/merkle_proofs.json")
    proofs = []
    for block in data["blocks"]:
        for p in block["proofs"]:
            if p["raw_tx"] is None:
                continue
            stripped = CTransaction.deserialize(bytes.fromhex(p["raw_tx"]))
            leaf = CTransaction(stripped.vin, stripped.vout, stripped.nLockTime, stripped.nVersion)
            branch = tuple(bytes.fromhex(h)[::-1] for h in p["branch"])
            proofs.append(
                InclusionProof(
                    "bitcoin-merkle",
                    block["height"],
                    bytes.fromhex(block["header"]),
                    leaf.serialize(),
                    branch,
                    p["index"],
                    block["tx_count"],
                )
            )
    return proofs


def test_real_mainnet_proofs_verify_and_a_tampered_branch_fails() -> None:
    proofs = _real_proofs()
    assert len(proofs) >= 5
    for proof in proofs:
        verify_inclusion_proof(proof)
        with pytest.raises(ProofError):
            verify_inclusion_proof(
                InclusionProof(
                    proof.kind,
                    proof.block_height,
                    proof.header,
                    proof.leaf,
                    (*proof.branch[:-1], bytes(32)),
                    proof.index,
                    proof.tx_count,
                )
            )


@pytest.mark.parametrize("leaves", [1, 2, 3, 5, 8, 13])
def test_every_leaf_of_a_built_tree_proves_to_its_root(leaves: int) -> None:
    txids = [dsha256(bytes([i])) for i in range(leaves)]
    root = merkle_root_le(txids)
    for index, txid in enumerate(txids):
        assert root_from_branch_le(txid, merkle_branch_le(txids, index), index) == root


def test_an_index_beyond_the_branch_is_rejected() -> None:
    with pytest.raises(ProofError, match="too large"):
        root_from_branch_le(b"\x00" * 32, (b"\x01" * 32,), 2)


def test_an_unknown_proof_kind_is_rejected() -> None:
    with pytest.raises(ProofError, match="no verifier"):
        verify_inclusion_proof(InclusionProof("dogecoin-aux", 1, b"h", b"leaf", (), 0))


def test_bitcoin_proof_without_tx_count_is_rejected() -> None:
    proof = InclusionProof("bitcoin-merkle", 1, b"\x00" * 80, b"tx", (), 0)
    with pytest.raises(ProofError, match="tx_count"):
        verify_inclusion_proof(proof)


def test_a_leaf_that_is_not_a_transaction_is_rejected() -> None:
    proof = InclusionProof("bitcoin-merkle", 1, b"\x00" * 80, b"not a tx", (), 0, 1)
    with pytest.raises(ProofError):
        verify_inclusion_proof(proof)


@given(st.integers(min_value=1, max_value=40), st.data())
def test_any_leaf_of_any_tree_proves_and_another_leaf_does_not(leaves: int, data) -> None:
    txids = [dsha256(i.to_bytes(4, "little")) for i in range(leaves)]
    index = data.draw(st.integers(min_value=0, max_value=leaves - 1))
    root = merkle_root_le(txids)
    branch = merkle_branch_le(txids, index)
    assert root_from_branch_le(txids[index], branch, index) == root
    assert root_from_branch_le(dsha256(b"other"), branch, index) != root
