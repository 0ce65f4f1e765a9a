"""Handshake blocks and inclusion proofs of their transactions (pure, no I/O).

A block is its 236-byte header, a varint count and the transactions. The header's Merkle root
(bytes 164..196) is hsd's BLAKE2b tree over the txids (bcrypto ``mrkl``)::

    leaf(txid) = BLAKE2b-256(0x00 | txid)        node(l, r) = BLAKE2b-256(0x01 | l | r)

and an odd level pairs its last node with ``SENTINEL = BLAKE2b-256("")`` rather than
duplicating it, so Bitcoin's duplicate-leaf (CVE-2012-2459) and 64-byte-transaction attacks have
no counterpart (a leaf and a node hash differently prefixed data).

The tree itself is the chain folder's (``etm_bridge.chains.handshake.spv.merkle``, which the
ETM-side verifier uses too). The ``handshake-merkle`` :class:`InclusionProof`: ``header`` the
236-byte header, ``leaf`` the witness-stripped transaction (its BLAKE2b-256 is the txid; the
verifier parses it strictly), ``branch`` the sibling hashes from the leaf up, ``index`` the
position (bits say left/right, lowest first), ``tx_count`` the block's transactions;
:func:`verify_handshake_merkle_proof` requires ``index < tx_count`` and a branch exactly as deep
as a tree of ``tx_count`` leaves. Proof of work and the best chain are the SPV relay's business,
not this module's.
"""

from __future__ import annotations

from collections.abc import Sequence

from etm_bridge.adapter import InclusionProof
from etm_bridge.chains.handshake.spv import merkle as tree
from etm_bridge.chains.handshake.spv.merkle import (  # noqa: F401 (this plugin's tree API)
    MERKLE_ROOT,
    SENTINEL,
    leaf_hash,
    merkle_root,
    node_hash,
    root_from_branch,
    tree_depth,
)
from etm_bridge.errors import InclusionProofError, LockNotFoundError, ProofError, ValidationError

from .codec import Tx, _Reader, decode_tx_base, read_tx_at

PROOF_KIND = "handshake-merkle"
HEADER_LEN = 236


def parse_block(raw: bytes) -> tuple[bytes, list[Tx]]:
    """(header, transactions) of a raw block; ValidationError if malformed."""
    if len(raw) < HEADER_LEN + 1:
        raise ValidationError(f"a Handshake block is over {HEADER_LEN} bytes, got {len(raw)}")
    r = _Reader(raw)
    r.pos = HEADER_LEN
    count, pos, txs = r.count("transaction"), r.pos, []
    for _ in range(count):
        tx, pos = read_tx_at(raw, pos)
        txs.append(tx)
    if pos != len(raw):
        raise ValidationError(f"{len(raw) - pos} trailing bytes after the block's transactions")
    return raw[:HEADER_LEN], txs


def merkle_branch(txids: Sequence[bytes], index: int) -> tuple[bytes, ...]:
    """The chain folder's branch, refusing an index outside the tree (ProofError)."""
    if not 0 <= index < len(txids):
        raise ProofError(f"leaf index {index} not in a tree of {len(txids)} leaves")
    return tree.merkle_branch(txids, index)


def verify_handshake_merkle_proof(proof: InclusionProof) -> None:
    """Raise :class:`ProofError` unless ``proof.leaf`` is under the header's Merkle root."""
    if proof.kind != PROOF_KIND:
        raise ProofError(f"not a {PROOF_KIND} proof: {proof.kind!r}")
    if len(proof.header) != HEADER_LEN:
        raise ProofError(f"header must be {HEADER_LEN} bytes, got {len(proof.header)}")
    if proof.tx_count is None:
        raise ProofError("a Handshake Merkle proof names its block's tx count")
    try:
        tx = decode_tx_base(proof.leaf)
    except ValidationError as exc:
        raise ProofError(f"the leaf is not a stripped Handshake transaction: {exc}") from None
    try:
        node = root_from_branch(tx.txid, proof.branch, proof.index, proof.tx_count)
    except InclusionProofError as exc:
        raise ProofError(str(exc)) from None
    if node != proof.header[MERKLE_ROOT]:
        raise ProofError("merkle-root-mismatch: the branch does not lead to the header's root")


def block_inclusion_proof(raw_block: bytes, height: int, txid: str) -> InclusionProof:
    """Proof that transaction ``txid`` is in ``raw_block`` at ``height``."""
    header, txs = parse_block(raw_block)
    txids = [tx.txid for tx in txs]
    try:
        index = txids.index(bytes.fromhex(txid))
    except ValueError:
        raise LockNotFoundError(
            f"transaction {txid} is not in block {height} (taken back by a reorg?)"
        ) from None
    return InclusionProof(
        kind=PROOF_KIND,
        block_height=height,
        header=header,
        leaf=txs[index].encode_base(),
        branch=merkle_branch(txids, index),
        index=index,
        tx_count=len(txids),
    )
