"""Inclusion proofs checked offline: the fake chain's kind here, every chain's kind by registry.

- ``fake-merkle`` (the fake adapter): a double-SHA-256 Merkle tree (:mod:`etm_bridge.merkle`)
  over the fake's own transaction encoding, checked here: ``sha256d(leaf)`` walked up the
  branch (bits of ``index`` say left or right, lowest first) must give the header's Merkle
  root (bytes 36..68 of the 80-byte header).
- every other kind: the chain profile that declares it (``profile.proof_kinds``) verifies it.

Full SPV (proof of work, best chain) is the chains' relays' job. Byte order: every hash here is
internal order (``*_le``).
"""

from __future__ import annotations

from etm_bridge.chain.codec import sha256d
from etm_bridge.chains.registry import chain_registry
from etm_bridge.errors import ProofError
from etm_bridge.merkle import root_from_branch_le
from etm_bridge.observations import InclusionProof

HEADER_LEN = 80
_MERKLE_ROOT_SLICE = slice(36, 68)


def verify_fake_merkle_proof(proof: InclusionProof) -> None:
    """Raise :class:`ProofError` unless ``sha256d(leaf)`` is under the header's Merkle root."""
    if len(proof.header) != HEADER_LEN:
        raise ProofError(f"header must be {HEADER_LEN} bytes, got {len(proof.header)}")
    root = root_from_branch_le(sha256d(proof.leaf), proof.branch, proof.index)
    if root != proof.header[_MERKLE_ROOT_SLICE]:
        raise ProofError("merkle-root-mismatch: the branch does not lead to the header's root")


def verify_inclusion_proof(proof: InclusionProof) -> None:
    """Verify ``proof`` with the verifier for its kind; :class:`ProofError` if it fails."""
    if proof.kind == "fake-merkle":
        verify_fake_merkle_proof(proof)
        return
    kind = chain_registry().proof_kind(proof.kind)
    if kind is None:
        raise ProofError(f"no verifier for proof kind {proof.kind!r}")
    kind.verify(proof)
