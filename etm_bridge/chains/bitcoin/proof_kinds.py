"""The ``bitcoin-merkle`` inclusion proof the Bitcoin adapter emits, checked offline.

``header`` is the 80-byte block header, ``leaf`` the transaction's witness-stripped
serialisation (so ``dsha256(leaf)`` is the txid in internal order), ``branch`` the sibling
hashes in internal byte order from leaf to root, ``index`` the tx position in the block,
``tx_count`` the number of transactions in the block. Checked by the SPV package's strict
verifier (:func:`.spv.merkle.verify_tx_in_header`: strict tx parse, branch shape for
``tx_count``, CVE-2012-2459 / CVE-2017-12842 defences, header Merkle root). Pure.
"""

from __future__ import annotations

from etm_bridge.errors import ProofError, ValidationError
from etm_bridge.observations import InclusionProof

from .spv.headers import HEADER_SIZE, BlockHeader
from .spv.merkle import verify_tx_in_header


def verify_bitcoin_merkle_proof(proof: InclusionProof) -> None:
    """Raise :class:`ProofError` unless the raw transaction is proven in the 80-byte header."""
    if proof.tx_count is None:
        raise ProofError("bitcoin-merkle proofs need tx_count (transactions in the block)")
    if len(proof.header) != HEADER_SIZE:
        raise ProofError(f"header must be {HEADER_SIZE} bytes, got {len(proof.header)}")
    try:
        header = BlockHeader.from_bytes(proof.header)
        verify_tx_in_header(proof.leaf, proof.branch, proof.index, proof.tx_count, header)
    except ValidationError as exc:  # a leaf that does not even parse as a transaction
        raise ProofError(f"bad-tx: {exc}") from exc
