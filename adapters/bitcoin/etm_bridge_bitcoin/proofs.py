"""Inclusion proofs of Bitcoin transactions, built from a raw block (pure, no I/O).

The adapter fetches the block with ``getblock <hash> 0`` (raw hex: every node answers it the
same way) and this module turns it into the ``bitcoin-merkle``
:class:`~etm_bridge.adapter.InclusionProof` the SPV verifier checks: the 80-byte header, the
transaction's witness-stripped serialisation (``dsha256`` of it is the txid), its Merkle branch
in internal byte order, its index and the block's transaction count.
"""

from __future__ import annotations

from bitcoin.core import CBlock, CTransaction

from etm_bridge.adapter import InclusionProof
from etm_bridge.errors import LockNotFoundError
from etm_bridge.merkle import merkle_branch_le

PROOF_KIND = "bitcoin-merkle"


def block_inclusion_proof(block: CBlock, height: int, txid: str) -> InclusionProof:
    """Proof that transaction ``txid`` (display hex) is in ``block`` at ``height``."""
    txids_le = [tx.GetTxid() for tx in block.vtx]
    try:
        index = txids_le.index(bytes.fromhex(txid)[::-1])
    except ValueError:
        raise LockNotFoundError(
            f"transaction {txid} is not in block {height} {block.GetHash()[::-1].hex()} "
            "(taken back by a reorg?)"
        ) from None
    tx = block.vtx[index]
    stripped = CTransaction(tx.vin, tx.vout, tx.nLockTime, tx.nVersion)
    return InclusionProof(
        kind=PROOF_KIND,
        block_height=height,
        header=block.get_header().serialize(),
        leaf=stripped.serialize(),
        branch=merkle_branch_le(txids_le, index),
        index=index,
        tx_count=len(txids_le),
    )
