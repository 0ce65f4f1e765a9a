"""hsd's transaction Merkle tree (bcrypto ``mrkl`` with BLAKE2b-256) and its branches. Pure.

``leaf(txid) = BLAKE2b-256(0x00 | txid)``, ``node(l, r) = BLAKE2b-256(0x01 | l | r)``; an odd
level pairs its last node with ``SENTINEL = BLAKE2b-256("")`` instead of duplicating it. So
Bitcoin's duplicate-subtree mutation (CVE-2012-2459) has no counterpart, and the 64-byte
transaction trick (CVE-2017-12842) neither: a leaf and an inner node hash differently prefixed
data, and a leaf is over a 32-byte txid, not the raw transaction. What remains is the position:
``deriveRoot`` ignores index bits above the branch depth, so the verifier requires
``index < tx_count`` and a branch exactly as deep as a tree of ``tx_count`` leaves.
"""

from __future__ import annotations

from collections.abc import Sequence

from etm_bridge.errors import InclusionProofError

from .tx import blake2b256

SENTINEL = blake2b256(b"")
MERKLE_ROOT = slice(164, 196)


def leaf_hash(txid: bytes) -> bytes:
    return blake2b256(b"\x00" + txid)


def node_hash(left: bytes, right: bytes) -> bytes:
    return blake2b256(b"\x01" + left + right)


def _next(level: Sequence[bytes]) -> list[bytes]:
    padded = [*level, SENTINEL] if len(level) % 2 else list(level)
    return [node_hash(padded[i], padded[i + 1]) for i in range(0, len(padded), 2)]


def merkle_root(txids: Sequence[bytes]) -> bytes:
    level = [leaf_hash(t) for t in txids]
    if not level:
        return SENTINEL
    while len(level) > 1:
        level = _next(level)
    return level[0]


def merkle_branch(txids: Sequence[bytes], index: int) -> tuple[bytes, ...]:
    level, position, branch = [leaf_hash(t) for t in txids], index, []
    while len(level) > 1:
        padded = [*level, SENTINEL] if len(level) % 2 else level
        branch.append(padded[position ^ 1])
        level, position = _next(level), position // 2
    return tuple(branch)


def tree_depth(count: int) -> int:
    return max(0, (count - 1).bit_length())


def root_from_branch(txid: bytes, branch: Sequence[bytes], index: int, tx_count: int) -> bytes:
    """The root a branch leads to, after the position rules (``InclusionProofError``)."""
    if not 0 <= index < tx_count:
        raise InclusionProofError("index-out-of-range", f"index {index} of {tx_count} txs")
    if len(branch) != tree_depth(tx_count) or any(len(b) != 32 for b in branch):
        raise InclusionProofError(
            "bad-branch-length",
            f"a tree of {tx_count} txs needs {tree_depth(tx_count)} 32-byte hashes, "
            f"got {len(branch)}",
        )
    node = leaf_hash(txid)
    for sibling in branch:
        node = node_hash(sibling, node) if index & 1 else node_hash(node, sibling)
        index >>= 1
    return node
