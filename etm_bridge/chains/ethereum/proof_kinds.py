"""The ``ethereum-receipt`` inclusion proof the Ethereum adapter emits, checked offline.

``header`` is the RLP block header, ``leaf`` the consensus-encoded receipt, ``branch`` the
receipts-trie nodes from root to leaf, ``index`` the transaction index (trie key
``rlp(index)``). Pure.
"""

from __future__ import annotations

from etm_bridge.errors import ProofError
from etm_bridge.observations import InclusionProof

from .spv import rlp as eth_rlp
from .spv import rlp_bounded


def verify_ethereum_receipt_proof(proof: InclusionProof) -> None:
    """Raise :class:`ProofError` unless the receipt is in the header's receipts trie."""
    from trie import HexaryTrie  # local: only receipt proofs need the trie packages

    root = eth_rlp.header_receipts_root(proof.header)
    key = eth_rlp.receipt_trie_key(proof.index)
    try:
        value = HexaryTrie.get_from_proof(root, key, [rlp_bounded.decode(n) for n in proof.branch])
    except Exception as exc:  # the trie package raises several unrelated types
        raise ProofError(f"receipt-proof-invalid: {type(exc).__name__}: {exc}") from exc
    if value != proof.leaf:
        raise ProofError("receipt-mismatch: the trie holds a different receipt at this index")
