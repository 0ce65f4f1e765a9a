"""Handshake blocks and inclusion proofs of their transactions (pure, no I/O).

A block is its 236-byte header, a varint count and the transactions. The header's Merkle root
(bytes 164..196) is hsd's BLAKE2b tree over the txids (bcrypto ``mrkl``)::

    leaf(txid) = BLAKE2b-256(0x00 | txid)        node(l, r) = BLAKE2b-256(0x01 | l | r)

and an odd level pairs its last node with ``SENTINEL = BLAKE2b-256("")`` rather than
duplicating it, so Bitcoin's duplicate-leaf (CVE-2012-2459) and 64-byte-transaction attacks have
no counterpart (a leaf and a node hash differently prefixed data).

The ``handshake-merkle`` :class:`InclusionProof`: ``header`` the 236-byte header, ``leaf`` the
witness-stripped transaction (its BLAKE2b-256 is the txid; the verifier parses it strictly),
``branch`` the sibling hashes from the leaf up, ``index`` the position (bits say left/right,
lowest first), ``tx_count`` the block's transactions; :func:`verify_handshake_merkle_proof`
requires ``index < tx_count`` and a branch exactly as deep as a tree of ``tx_count`` leaves.
Proof of work and the best chain are the SPV relay's business, not this module's.
"""

from __future__ import annotations

from collections.abc import Sequence

from etm_bridge.adapter import InclusionProof
from etm_bridge.errors import LockNotFoundError, ProofError, ValidationError

from .codec import Tx, _Reader, blake2b256, decode_tx_base, read_tx_at

PROOF_KIND = "handshake-merkle"
HEADER_LEN = 236
MERKLE_ROOT = slice(164, 196)
SENTINEL = blake2b256(b"")


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


def leaf_hash(txid: bytes) -> bytes:
    return blake2b256(b"\x00" + txid)


def node_hash(left: bytes, right: bytes) -> bytes:
    return blake2b256(b"\x01" + left + right)


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    padded = [*level, SENTINEL] if len(level) % 2 else list(level)
    return [node_hash(padded[i], padded[i + 1]) for i in range(0, len(padded), 2)]


def merkle_root(txids: Sequence[bytes]) -> bytes:
    level = [leaf_hash(t) for t in txids]
    if not level:
        return SENTINEL
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def merkle_branch(txids: Sequence[bytes], index: int) -> tuple[bytes, ...]:
    if not 0 <= index < len(txids):
        raise ProofError(f"leaf index {index} not in a tree of {len(txids)} leaves")
    level, position, branch = [leaf_hash(t) for t in txids], index, []
    while len(level) > 1:
        padded = [*level, SENTINEL] if len(level) % 2 else level
        branch.append(padded[position ^ 1])
        level, position = _next_level(level), position // 2
    return tuple(branch)


def tree_depth(count: int) -> int:
    return max(0, (count - 1).bit_length())


def verify_handshake_merkle_proof(proof: InclusionProof) -> None:
    """Raise :class:`ProofError` unless ``proof.leaf`` is under the header's Merkle root."""
    if proof.kind != PROOF_KIND:
        raise ProofError(f"not a {PROOF_KIND} proof: {proof.kind!r}")
    if len(proof.header) != HEADER_LEN:
        raise ProofError(f"header must be {HEADER_LEN} bytes, got {len(proof.header)}")
    if proof.tx_count is None or not 0 <= proof.index < proof.tx_count:
        raise ProofError(f"index {proof.index} is not below the tx count {proof.tx_count}")
    if len(proof.branch) != tree_depth(proof.tx_count) or any(len(b) != 32 for b in proof.branch):
        raise ProofError(
            f"a tree of {proof.tx_count} transactions needs a branch of "
            f"{tree_depth(proof.tx_count)} 32-byte hashes, got {len(proof.branch)}"
        )
    try:
        tx = decode_tx_base(proof.leaf)
    except ValidationError as exc:
        raise ProofError(f"the leaf is not a stripped Handshake transaction: {exc}") from None
    node, index = leaf_hash(tx.txid), proof.index
    for sibling in proof.branch:
        node = node_hash(sibling, node) if index & 1 else node_hash(node, sibling)
        index >>= 1
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
