"""Pure inclusion-proof helpers: Merkle trees and a verifier per proof kind.

- ``bitcoin-merkle`` (the Bitcoin adapter): checked by the SPV package's strict verifier
  (:func:`etm_bridge.chains.bitcoin.spv.merkle.verify_tx_in_header`: strict tx parse, branch
  shape for ``tx_count``, CVE-2012-2459 / CVE-2017-12842 defences, header Merkle root).
- ``fake-merkle`` (the fake adapter): the same tree over the fake's own transaction encoding,
  checked here: ``dsha256(leaf)`` walked up the branch (bits of ``index`` say left or right,
  lowest first, as Core's ``ComputeMerkleRootFromBranch``) must give the header's Merkle root.
- ``ethereum-receipt``: the receipt at ``rlp(index)`` of the header's receipts trie.

Full SPV (proof of work, best chain) lives in :mod:`etm_bridge.spv`. Byte order: every hash
here is internal order (``*_le``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from etm_bridge.adapter import InclusionProof
from etm_bridge.errors import ProofError, ValidationError

HEADER_LEN = 80
_MERKLE_ROOT_SLICE = slice(36, 68)


def dsha256(data: bytes) -> bytes:
    """Bitcoin's double sha256, internal byte order."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    padded = [*level, level[-1]] if len(level) % 2 else list(level)
    return [dsha256(padded[i] + padded[i + 1]) for i in range(0, len(padded), 2)]


def merkle_root_le(txids_le: Sequence[bytes]) -> bytes:
    """Merkle root of a block's txids (internal order), duplicating the last of odd levels."""
    if not txids_le:
        raise ProofError("a Merkle tree needs at least one leaf")
    level = list(txids_le)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def merkle_branch_le(txids_le: Sequence[bytes], index: int) -> tuple[bytes, ...]:
    """Sibling hashes from leaf ``index`` up to (not including) the root."""
    if not 0 <= index < len(txids_le):
        raise ProofError(f"leaf index {index} not in a tree of {len(txids_le)} leaves")
    branch = []
    level, position = list(txids_le), index
    while len(level) > 1:
        padded = [*level, level[-1]] if len(level) % 2 else level
        branch.append(padded[position ^ 1])
        level, position = _next_level(level), position // 2
    return tuple(branch)


def root_from_branch_le(leaf_hash_le: bytes, branch: Sequence[bytes], index: int) -> bytes:
    """The root implied by a leaf hash, its branch and its index."""
    if index >= 1 << len(branch):
        raise ProofError(f"index {index} is too large for a branch of {len(branch)} hashes")
    node = leaf_hash_le
    for sibling in branch:
        node = dsha256(sibling + node) if index & 1 else dsha256(node + sibling)
        index >>= 1
    return node


def verify_fake_merkle_proof(proof: InclusionProof) -> None:
    """Raise :class:`ProofError` unless ``dsha256(leaf)`` is under the header's Merkle root."""
    if len(proof.header) != HEADER_LEN:
        raise ProofError(f"header must be {HEADER_LEN} bytes, got {len(proof.header)}")
    root = root_from_branch_le(dsha256(proof.leaf), proof.branch, proof.index)
    if root != proof.header[_MERKLE_ROOT_SLICE]:
        raise ProofError("merkle-root-mismatch: the branch does not lead to the header's root")


def verify_bitcoin_merkle_proof(proof: InclusionProof) -> None:
    """Raise :class:`ProofError` unless the raw transaction is proven in the 80-byte header."""
    from etm_bridge.chains.bitcoin.spv.headers import BlockHeader
    from etm_bridge.chains.bitcoin.spv.merkle import verify_tx_in_header

    if proof.tx_count is None:
        raise ProofError("bitcoin-merkle proofs need tx_count (transactions in the block)")
    if len(proof.header) != HEADER_LEN:
        raise ProofError(f"header must be {HEADER_LEN} bytes, got {len(proof.header)}")
    try:
        header = BlockHeader.from_bytes(proof.header)
        verify_tx_in_header(proof.leaf, proof.branch, proof.index, proof.tx_count, header)
    except ValidationError as exc:  # a leaf that does not even parse as a transaction
        raise ProofError(f"bad-tx: {exc}") from exc


def verify_ethereum_receipt_proof(proof: InclusionProof) -> None:
    """Raise :class:`ProofError` unless the receipt is in the header's receipts trie."""
    from trie import HexaryTrie  # local: only Ethereum proofs need the trie packages

    from etm_bridge.chains.ethereum.spv import rlp as eth_rlp
    from etm_bridge.chains.ethereum.spv import rlp_bounded

    root = eth_rlp.header_receipts_root(proof.header)
    key = eth_rlp.receipt_trie_key(proof.index)
    try:
        value = HexaryTrie.get_from_proof(root, key, [rlp_bounded.decode(n) for n in proof.branch])
    except Exception as exc:  # the trie package raises several unrelated types
        raise ProofError(f"receipt-proof-invalid: {type(exc).__name__}: {exc}") from exc
    if value != proof.leaf:
        raise ProofError("receipt-mismatch: the trie holds a different receipt at this index")


VERIFIERS = {
    "bitcoin-merkle": verify_bitcoin_merkle_proof,
    "fake-merkle": verify_fake_merkle_proof,
    "ethereum-receipt": verify_ethereum_receipt_proof,
}


def verify_inclusion_proof(proof: InclusionProof) -> None:
    """Verify ``proof`` with the verifier for its kind; :class:`ProofError` if it fails."""
    try:
        verifier = VERIFIERS[proof.kind]
    except KeyError:
        raise ProofError(f"no verifier for proof kind {proof.kind!r}") from None
    verifier(proof)
