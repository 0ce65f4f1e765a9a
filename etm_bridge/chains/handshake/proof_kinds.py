"""The ``handshake-merkle`` inclusion proof the Handshake adapter emits, checked offline.

``header`` the 236-byte header, ``leaf`` the witness-stripped transaction (BLAKE2b-256 of it is
the txid; parsed strictly), ``branch`` the sibling hashes from the leaf up, ``index`` the
position, ``tx_count`` the block's transactions (index below it, branch exactly as deep as its
tree). Merkle rules in :mod:`.spv.merkle`. Proof of work and the best chain are the relay's.
Pure.
"""

from __future__ import annotations

from etm_bridge.errors import ProofError, SpvRejectedError, ValidationError
from etm_bridge.observations import InclusionProof

from .spv.headers import HEADER_SIZE
from .spv.merkle import MERKLE_ROOT, root_from_branch
from .spv.tx import parse_stripped_tx

PROOF_KIND = "handshake-merkle"


def verify_handshake_merkle_proof(proof: InclusionProof) -> None:
    """Raise :class:`ProofError` unless the stripped transaction is under the header's root."""
    if proof.tx_count is None:
        raise ProofError(f"{PROOF_KIND} proofs need tx_count (transactions in the block)")
    if len(proof.header) != HEADER_SIZE:
        raise ProofError(f"header must be {HEADER_SIZE} bytes, got {len(proof.header)}")
    try:
        txid = parse_stripped_tx(proof.leaf).txid
        root = root_from_branch(txid, proof.branch, proof.index, proof.tx_count)
    except ValidationError as exc:
        raise ProofError(f"bad-tx: {exc}") from exc
    except SpvRejectedError:
        raise
    if root != proof.header[MERKLE_ROOT]:
        raise ProofError("merkle-root-mismatch: the branch does not lead to the header's root")
