"""Build receipt inclusion proofs from a node: header RLP + receipt + receipts-trie branch.

The encodings and the trie are :mod:`etm_bridge.chains.ethereum.spv.rlp` (pure, shared with the SPV
verifier); this module only fetches the data and cross-checks it: the header RLP must hash to
the block hash the node reports, the receipt must belong to that very block (no reorg between
calls), and the trie built from *all* the block's receipts must have the header's receiptsRoot.
"""

from __future__ import annotations

from etm_bridge.adapter import InclusionProof
from etm_bridge.chains.ethereum.spv import rlp as eth_rlp
from etm_bridge.errors import ChainError, LockNotFoundError, ProofError

from .node import EthNode

PROOF_KIND = "ethereum-receipt"


def build_inclusion_proof(node: EthNode, tx_hash: str) -> InclusionProof:
    """Proof that the mined transaction ``tx_hash`` (``0x`` hex) is in its block."""
    receipt = node.receipt(tx_hash)
    if receipt is None:
        raise LockNotFoundError(f"transaction {tx_hash} is not mined (no receipt)")
    height = eth_rlp.to_int(receipt["blockNumber"], "receipt blockNumber")
    index = eth_rlp.to_int(receipt["transactionIndex"], "receipt transactionIndex")
    block = node.block(height)
    if block is None or block["hash"] != receipt["blockHash"]:
        raise ChainError(f"block {height} changed while building a proof (reorg?); retry")
    header_rlp = eth_rlp.encode_checked_header(block)
    encoded = [eth_rlp.encode_receipt(r) for r in node.block_receipts(block)]
    root, branch = eth_rlp.build_receipt_proof(encoded, index)
    if root != eth_rlp.header_receipts_root(header_rlp):
        raise ProofError(
            f"receipts of block {height} from {node.url} do not give the header's receiptsRoot"
        )
    return InclusionProof(
        kind=PROOF_KIND,
        block_height=height,
        header=header_rlp,
        leaf=encoded[index],
        branch=branch,
        index=index,
    )
