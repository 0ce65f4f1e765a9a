"""The vault's ETH and ERC-20 balances proven against a block's stateRoot (pure, no node).

design-14 §3.7: ETM checks each pool's recorded reserve against what the vault really holds.
An ``eth_getProof`` answer is the proof: the account proof of the vault in the state trie
(key ``keccak256(address)``, leaf ``rlp([nonce, balance, storageRoot, codeHash])``) gives its
ether; for an ERC-20 pool, the account proof of the **token** plus the storage proof of slot
``keccak256(pad32(vault) || pad32(balance_slot))`` under that account's storageRoot gives
``balanceOf(vault)`` (``balance_slot`` is the token's mapping slot, per token in the genesis:
3 for TestToken). An absent key is proven absent (an exclusion proof) and reads as zero.

:class:`BalanceProof` is the body of the future ``custody_balance_proof`` (303): ``block_hash
(32) || node count u16 BE || (u32 BE length || account node)* || node count u16 BE || (u32 BE
length || storage node)*`` (no storage nodes for ether). The ETM transaction, its checks that
the block is attested and fresh (§3.7, §8) and the solvency round hook are not built yet; this
module is the verification they will call. Trie nodes are decoded with the bounded RLP decoder
before ``HexaryTrie.get_from_proof``, as ``verify_receipt_proof`` does.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import rlp
from eth_utils import keccak
from trie import HexaryTrie

from etm_bridge.chains.ethereum.spv import rlp_bounded
from etm_bridge.chains.ethereum.spv.headers import _TRIE_PROOF_ERRORS, MAX_NODE_ITEMS
from etm_bridge.chains.ethereum.spv.rlp import decode_header
from etm_bridge.errors import InclusionProofError

STATE_ROOT_INDEX = 3  # stateRoot in the header's field list
EMPTY_TRIE_ROOT = keccak(rlp.encode(b""))
EMPTY_CODE_HASH = keccak(b"")
MAX_PROOF_NODES = 64  # a state-trie path is at most 64 nibbles deep
MAX_NODE_BYTES = 1 << 16


@dataclass(frozen=True)
class AccountState:
    """An account leaf of the state trie."""

    nonce: int
    balance: int
    storage_root: bytes
    code_hash: bytes


ABSENT = AccountState(0, 0, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH)


def header_state_root(header_rlp: bytes) -> bytes:
    """The stateRoot committed to by a header RLP."""
    return bytes(decode_header(header_rlp)[STATE_ROOT_INDEX])


def _get(root: bytes, key: bytes, nodes: Sequence[bytes], what: str) -> bytes:
    """The value at ``key`` in the trie ``root`` proven by ``nodes`` (b"" when proven absent)."""
    if len(nodes) > MAX_PROOF_NODES:
        raise InclusionProofError("bad-state-proof", f"{what}: {len(nodes)} nodes")
    try:
        decoded = [rlp_bounded.decode(node, max_items=MAX_NODE_ITEMS) for node in nodes]
        return bytes(HexaryTrie.get_from_proof(root, key, decoded))
    except _TRIE_PROOF_ERRORS as exc:
        raise InclusionProofError(
            "bad-state-proof", f"{what}: {type(exc).__name__}: {exc}"
        ) from None


def _uint(raw: object, what: str) -> int:
    if not isinstance(raw, bytes) or raw[:1] == b"\x00" or len(raw) > 32:
        raise InclusionProofError("bad-state-proof", f"{what} is not a canonical integer")
    return int.from_bytes(raw, "big")


def prove_account(state_root: bytes, address: bytes, nodes: Sequence[bytes]) -> AccountState:
    """The account ``address`` (20 bytes) under ``state_root``; :data:`ABSENT` if proven absent."""
    if len(address) != 20:
        raise InclusionProofError("bad-state-proof", "an account address is 20 bytes")
    leaf = _get(state_root, keccak(address), nodes, f"account 0x{address.hex()}")
    if not leaf:
        return ABSENT
    try:
        fields = rlp_bounded.decode(leaf, max_items=8)
    except Exception as exc:  # ValidationError of the bounded decoder
        raise InclusionProofError("bad-state-proof", f"account leaf: {exc}") from None
    if not isinstance(fields, list) or len(fields) != 4:
        raise InclusionProofError("bad-state-proof", "an account leaf has 4 fields")
    nonce, balance = _uint(fields[0], "nonce"), _uint(fields[1], "balance")
    storage_root, code_hash = fields[2], fields[3]
    if not (isinstance(storage_root, bytes) and isinstance(code_hash, bytes)) or not (
        len(storage_root) == len(code_hash) == 32
    ):
        raise InclusionProofError("bad-state-proof", "storageRoot and codeHash are 32 bytes")
    return AccountState(nonce, balance, storage_root, code_hash)


def prove_storage(storage_root: bytes, slot: int, nodes: Sequence[bytes]) -> int:
    """The word in storage ``slot`` under ``storage_root`` (0 when proven absent)."""
    if not 0 <= slot < 2**256:
        raise InclusionProofError("bad-state-proof", "a storage slot is a uint256")
    leaf = _get(storage_root, keccak(slot.to_bytes(32, "big")), nodes, f"slot {slot:#x}")
    if not leaf:
        return 0
    try:
        value = rlp_bounded.decode(leaf)
    except Exception as exc:
        raise InclusionProofError("bad-state-proof", f"storage leaf: {exc}") from None
    if not value:  # zero is stored as absent, never as an empty leaf
        raise InclusionProofError("bad-state-proof", "a storage leaf holds a zero word")
    return _uint(value, "storage word")


def erc20_balance_slot(holder: bytes, balance_slot: int) -> int:
    """The storage slot of ``balanceOf[holder]`` for a mapping declared at ``balance_slot``."""
    return int.from_bytes(keccak(bytes(12) + holder + balance_slot.to_bytes(32, "big")), "big")


@dataclass(frozen=True)
class BalanceProof:
    """An ``eth_getProof`` answer, reduced to what ETM checks (see the module doc)."""

    block_hash: bytes
    account_nodes: tuple[bytes, ...]
    storage_nodes: tuple[bytes, ...] = ()

    def encode(self) -> bytes:
        return self.block_hash + _nodes(self.account_nodes) + _nodes(self.storage_nodes)

    @classmethod
    def decode(cls, data: bytes) -> BalanceProof:
        if len(data) < 36:
            raise InclusionProofError("bad-state-proof", "a balance proof is at least 36 bytes")
        account, pos = _read_nodes(data, 32)
        storage, pos = _read_nodes(data, pos)
        if pos != len(data):
            raise InclusionProofError("bad-state-proof", f"{len(data) - pos} trailing bytes")
        return cls(data[:32], account, storage)

    def ether(self, state_root: bytes, vault: bytes) -> int:
        """The vault's ether balance (wei)."""
        if self.storage_nodes:
            raise InclusionProofError("bad-state-proof", "an ether proof has no storage nodes")
        return prove_account(state_root, vault, self.account_nodes).balance

    def token(self, state_root: bytes, token: bytes, vault: bytes, balance_slot: int) -> int:
        """``token.balanceOf(vault)``: the token account's storage word for the vault."""
        account = prove_account(state_root, token, self.account_nodes)
        if account.code_hash == EMPTY_CODE_HASH:
            raise InclusionProofError("bad-state-proof", f"0x{token.hex()} holds no code")
        slot = erc20_balance_slot(vault, balance_slot)
        return prove_storage(account.storage_root, slot, self.storage_nodes)


def _nodes(nodes: tuple[bytes, ...]) -> bytes:
    return struct.pack(">H", len(nodes)) + b"".join(struct.pack(">I", len(n)) + n for n in nodes)


def _read_nodes(data: bytes, pos: int) -> tuple[tuple[bytes, ...], int]:
    if pos + 2 > len(data):
        raise InclusionProofError("bad-state-proof", "truncated node count")
    (count,) = struct.unpack_from(">H", data, pos)
    if count > MAX_PROOF_NODES:
        raise InclusionProofError("bad-state-proof", f"{count} nodes")
    pos += 2
    out = []
    for _ in range(count):
        if pos + 4 > len(data):
            raise InclusionProofError("bad-state-proof", "truncated node length")
        (size,) = struct.unpack_from(">I", data, pos)
        if size > MAX_NODE_BYTES or pos + 4 + size > len(data):
            raise InclusionProofError("bad-state-proof", "node length out of range")
        out.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return tuple(out), pos
