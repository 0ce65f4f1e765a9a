"""Bitcoin Merkle inclusion proofs: branches and ``gettxoutproof`` partial Merkle trees.

The transaction count is supplied by the prover and not committed to by the header, so the
checks do not rely on it alone. A branch is accepted only if:

* neither the raw transaction nor its witness-stripped serialization is 64 bytes (an inner node
  is the hash of exactly 64 bytes, so a transaction whose txid preimage is 64 bytes could be an
  inner node: CVE-2017-12842; the txid hashes the *stripped* bytes, so a segwit transaction
  whose stripped form is 64 bytes is one too, whatever its witness adds), it parses strictly,
  and its witness-stripped hash is the leaf;
* ``index < tx_count`` and the branch length equals the tree depth for ``tx_count``;
* at every level the sibling equals the node exactly where Bitcoin duplicates the last node of
  an odd level, and differs from it everywhere else (a pair of equal siblings is the
  CVE-2012-2459 mutation);
* it hashes to the header's Merkle root;
* optionally, a coinbase proof at index 0 with a branch of the same length pins the tree depth
  (interBTC's defence).

``parse_merkle_block`` follows Core's ``PartialMerkleTree::ExtractMatches`` check for check.
Rejections raise :class:`~etm_bridge.errors.InclusionProofError` naming the rule.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from etm_bridge.chains.bitcoin.spv.headers import HEADER_SIZE, BlockHeader
from etm_bridge.chains.bitcoin.spv.tx import ByteReader, ParsedTx, parse_tx
from etm_bridge.errors import InclusionProofError

#: Core: MAX_BLOCK_WEIGHT / MIN_TRANSACTION_WEIGHT.
MAX_TX_COUNT = 4_000_000 // 240

_SHA256 = hashlib.sha256


def _parent(left: bytes, right: bytes) -> bytes:
    return _SHA256(_SHA256(left + right).digest()).digest()


def tree_depth(tx_count: int) -> int:
    """Number of levels above the leaves of a Merkle tree over ``tx_count`` transactions."""
    return (tx_count - 1).bit_length()


def _check_shape(index: int, tx_count: int, branch_len: int) -> None:
    if not 1 <= tx_count <= MAX_TX_COUNT:
        raise InclusionProofError("bad-tx-count", f"tx_count {tx_count} is out of range")
    if not 0 <= index < tx_count:
        raise InclusionProofError(
            "index-out-of-range", f"index {index} is not below tx_count {tx_count}"
        )
    if branch_len != tree_depth(tx_count):
        raise InclusionProofError(
            "bad-branch-length",
            f"branch has {branch_len} hashes, a tree of {tx_count} txs has depth "
            f"{tree_depth(tx_count)}",
        )


def merkle_root_from_branch(
    leaf_le: bytes, branch_le: Sequence[bytes], index: int, tx_count: int
) -> bytes:
    """Fold a branch (siblings from the leaf up, internal byte order) into a root.

    Checks the shape and the duplicate rules (see the module docstring); does not compare
    the result with any header.
    """
    _check_shape(index, tx_count, len(branch_le))
    node = leaf_le
    width = tx_count
    for sibling in branch_le:
        if len(sibling) != 32:
            raise InclusionProofError("bad-branch", "a branch hash is not 32 bytes")
        if index & 1:
            if sibling == node:
                raise InclusionProofError("merkle-mutated", "a right node equals its left sibling")
            node = _parent(sibling, node)
        elif index + 1 < width:
            if sibling == node:
                raise InclusionProofError("merkle-mutated", "a left node equals its right sibling")
            node = _parent(node, sibling)
        else:
            if sibling != node:
                raise InclusionProofError(
                    "merkle-bad-duplicate", "the last node of an odd level must pair with itself"
                )
            node = _parent(node, node)
        index >>= 1
        width = (width + 1) >> 1
    return node


def verify_branch(
    txid_le: bytes, branch_le: Sequence[bytes], index: int, tx_count: int, merkle_root_le: bytes
) -> None:
    """Raise unless the branch proves ``txid_le`` at ``index`` under ``merkle_root_le``."""
    if merkle_root_from_branch(txid_le, branch_le, index, tx_count) != merkle_root_le:
        raise InclusionProofError("merkle-root-mismatch", "the branch does not reach the root")


def verify_tx_in_header(
    raw_tx: bytes,
    branch_le: Sequence[bytes],
    index: int,
    tx_count: int,
    header: BlockHeader,
) -> ParsedTx:
    """Check a raw transaction's branch against a header; returns the parsed transaction."""
    if len(raw_tx) == 64:
        raise InclusionProofError("tx-64-bytes", "a 64-byte transaction could be an inner node")
    tx = parse_tx(raw_tx)
    if tx.stripped_size == 64:
        raise InclusionProofError(
            "tx-64-bytes", "the witness-stripped transaction (its txid preimage) is 64 bytes"
        )
    verify_branch(tx.txid_le, branch_le, index, tx_count, header.merkle_root_le)
    return tx


def verify_coinbase_depth(
    coinbase_raw: bytes, coinbase_branch_le: Sequence[bytes], tx_count: int, header: BlockHeader
) -> None:
    """interBTC's defence: a coinbase proof at index 0 fixes the real depth of the tree."""
    coinbase = verify_tx_in_header(coinbase_raw, coinbase_branch_le, 0, tx_count, header)
    if not coinbase.is_coinbase:
        raise InclusionProofError("bad-coinbase", "the transaction at index 0 is not a coinbase")


# --- gettxoutproof (CMerkleBlock) --------------------------------------------------------------


@dataclass(frozen=True)
class MerkleBlock:
    """A verified ``gettxoutproof`` result: the header and the matched (index, txid_le)."""

    header: BlockHeader
    tx_count: int
    matches: tuple[tuple[int, bytes], ...]


def _split_merkle_block(data: bytes) -> tuple[BlockHeader, int, list[bytes], bytes]:
    if len(data) < HEADER_SIZE + 4:
        raise InclusionProofError("bad-merkleblock", "merkleblock is too short")
    reader = ByteReader(data, "bad-merkleblock", "merkleblock")
    header = BlockHeader.from_bytes(reader.take(HEADER_SIZE))
    tx_count = reader.u32()
    count = reader.compact_size()
    hashes = [reader.take(32) for _ in range(count)] if 32 * count <= len(data) else []
    if len(hashes) != count:
        raise InclusionProofError("bad-merkleblock", "merkleblock hashes end early")
    flags = reader.var_bytes()
    if reader.pos != len(data):
        raise InclusionProofError("bad-merkleblock", "flag bytes do not end the merkleblock")
    return header, tx_count, hashes, flags


class _Traversal:
    """Core's TraverseAndExtract over a partial Merkle tree (mutable, single use)."""

    def __init__(self, tx_count: int, hashes: list[bytes], flags: bytes) -> None:
        self.tx_count = tx_count
        self.hashes = hashes
        self.bits = [(byte >> i) & 1 for byte in flags for i in range(8)]
        self.bits_used = 0
        self.hashes_used = 0
        self.matches: list[tuple[int, bytes]] = []
        self.nodes: dict[tuple[int, int], bytes] = {}

    def width(self, height: int) -> int:
        return (self.tx_count + (1 << height) - 1) >> height

    def node(self, height: int, pos: int) -> bytes:
        found = self._node(height, pos)
        self.nodes[(height, pos)] = found
        return found

    def _node(self, height: int, pos: int) -> bytes:
        if self.bits_used >= len(self.bits):
            raise InclusionProofError("bad-merkleblock", "flag bits run out")
        parent_of_match = self.bits[self.bits_used]
        self.bits_used += 1
        if height == 0 or not parent_of_match:
            if self.hashes_used >= len(self.hashes):
                raise InclusionProofError("bad-merkleblock", "hashes run out")
            found = self.hashes[self.hashes_used]
            self.hashes_used += 1
            if height == 0 and parent_of_match:
                self.matches.append((pos, found))
            return found
        left = self.node(height - 1, pos * 2)
        if pos * 2 + 1 < self.width(height - 1):
            right = self.node(height - 1, pos * 2 + 1)
            if right == left:
                raise InclusionProofError("merkle-mutated", "two equal siblings (CVE-2012-2459)")
        else:
            right = left
        return _parent(left, right)


def parse_merkle_block(data: bytes) -> MerkleBlock:
    """Parse and check a ``gettxoutproof`` blob; the root must be the header's Merkle root."""
    header, tx_count, hashes, flags = _split_merkle_block(bytes(data))
    if not 1 <= tx_count <= MAX_TX_COUNT or len(hashes) > tx_count:
        raise InclusionProofError("bad-tx-count", f"tx_count {tx_count} is out of range")
    if len(flags) * 8 < len(hashes):
        raise InclusionProofError("bad-merkleblock", "fewer flag bits than hashes")
    walk = _Traversal(tx_count, hashes, flags)
    root = walk.node(tree_depth(tx_count), 0)
    if (walk.bits_used + 7) // 8 != len(flags) or walk.hashes_used != len(hashes):
        raise InclusionProofError("bad-merkleblock", "unused hashes or flag bytes")
    if root != header.merkle_root_le:
        raise InclusionProofError(
            "merkle-root-mismatch", "the partial tree does not reach the root"
        )
    return MerkleBlock(header, tx_count, tuple(walk.matches))


def branch_from_merkle_block(
    data: bytes, index: int
) -> tuple[BlockHeader, int, bytes, list[bytes]]:
    """Check a ``gettxoutproof`` blob and turn its match at ``index`` into a plain branch.

    Returns ``(header, tx_count, txid_le, branch_le)``: every sibling on the path of a matched
    leaf is in the partial tree (as a pruned hash or a computed node).
    """
    header, tx_count, hashes, flags = _split_merkle_block(bytes(data))
    block = parse_merkle_block(data)
    matched = dict(block.matches)
    if index not in matched:
        raise InclusionProofError("not-matched", f"index {index} is not matched by the merkleblock")
    walk = _Traversal(tx_count, hashes, flags)
    walk.node(tree_depth(tx_count), 0)
    branch = []
    pos = index
    for height in range(tree_depth(tx_count)):
        sibling = pos ^ 1
        if sibling >= walk.width(height):
            sibling = pos
        branch.append(walk.nodes[(height, sibling)])
        pos >>= 1
    return header, tx_count, matched[index], branch


def merkle_levels(txids_le: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the Merkle tree over ``txids_le``, leaves first, root level last
    (an odd level's last node is paired with itself, as in Core's ``ComputeMerkleRoot``)."""
    if not txids_le:
        raise InclusionProofError("bad-tx-count", "a Merkle tree needs at least one txid")
    levels = [list(txids_le)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(
            [_parent(below[i], below[min(i + 1, len(below) - 1)]) for i in range(0, len(below), 2)]
        )
    return levels


def build_merkle_block(header_raw: bytes, txids_le: Sequence[bytes], matched: set[int]) -> bytes:
    """Core's ``CMerkleBlock``/``CPartialMerkleTree`` for the transactions at ``matched``: the
    bytes ``gettxoutproof`` returns (hex-decoded). The proving side, for tests and relayers."""
    levels = merkle_levels(txids_le)
    if not matched or not all(0 <= i < len(txids_le) for i in matched):
        raise InclusionProofError("index-out-of-range", "matched indices must be in the block")
    ordered = sorted(matched)
    bits: list[bool] = []
    hashes: list[bytes] = []

    def build(height: int, pos: int) -> None:  # Core's TraverseAndBuild
        first = bisect.bisect_left(ordered, pos << height)
        parent_of_match = first < len(ordered) and ordered[first] < (pos + 1) << height
        bits.append(parent_of_match)
        if height == 0 or not parent_of_match:
            hashes.append(levels[height][pos])
            return
        build(height - 1, pos * 2)
        if pos * 2 + 1 < len(levels[height - 1]):
            build(height - 1, pos * 2 + 1)

    build(len(levels) - 1, 0)
    flags = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        flags[i // 8] |= bit << (i % 8)
    return b"".join(
        [
            bytes(header_raw),
            len(txids_le).to_bytes(4, "little"),
            _compact_size_bytes(len(hashes)),
            *hashes,
            _compact_size_bytes(len(flags)),
            bytes(flags),
        ]
    )


def _compact_size_bytes(value: int) -> bytes:
    if value < 0xFD:
        return bytes((value,))
    if value <= 0xFFFF:
        return b"\xfd" + value.to_bytes(2, "little")
    return b"\xfe" + value.to_bytes(4, "little")
