"""The classic double-SHA-256 Merkle tree: root, branch, and the root a branch implies. Pure.

Leaves and nodes are 32-byte hashes in internal byte order; an odd level duplicates its last
node (the layout the fake chain and several foreign chains use). A leaf's position is the
branch's path: bit ``i`` of ``index`` says whether the node at level ``i`` is a right child,
lowest bit first.
"""

from __future__ import annotations

from collections.abc import Sequence

from .chain.codec import sha256d
from .errors import ProofError


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    padded = [*level, level[-1]] if len(level) % 2 else list(level)
    return [sha256d(padded[i] + padded[i + 1]) for i in range(0, len(padded), 2)]


def merkle_root_le(leaves_le: Sequence[bytes]) -> bytes:
    """Merkle root of the leaf hashes, duplicating the last node of odd levels."""
    if not leaves_le:
        raise ProofError("a Merkle tree needs at least one leaf")
    level = list(leaves_le)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def merkle_branch_le(leaves_le: Sequence[bytes], index: int) -> tuple[bytes, ...]:
    """Sibling hashes from leaf ``index`` up to (not including) the root."""
    if not 0 <= index < len(leaves_le):
        raise ProofError(f"leaf index {index} not in a tree of {len(leaves_le)} leaves")
    branch = []
    level, position = list(leaves_le), index
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
        node = sha256d(sibling + node) if index & 1 else sha256d(node + sibling)
        index >>= 1
    return node
