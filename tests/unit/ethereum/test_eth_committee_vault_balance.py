"""Vault balances against a stateRoot (pure): account and storage proofs on an in-memory trie,
exclusion proofs reading zero, malformed leaves and bodies refused. Real eth_getProof answers
from anvil: tests/integration/ethereum/test_eth_committee_vault_proofs.py."""

from __future__ import annotations

import pytest
import rlp
from eth_utils import keccak
from etm_bridge_ethereum.committee_vault_balance import (
    ABSENT,
    EMPTY_CODE_HASH,
    BalanceProof,
    erc20_balance_slot,
    prove_account,
    prove_storage,
)
from trie import HexaryTrie

from etm_bridge.errors import InclusionProofError

VAULT, TOKEN, OTHER = b"\x11" * 20, b"\x22" * 20, b"\x33" * 20
CODE = keccak(b"token code")


def _proof(trie: HexaryTrie, key: bytes) -> tuple[bytes, ...]:
    return tuple(rlp.encode(node) for node in trie.get_proof(key))


def _account(nonce: int, balance: int, storage_root: bytes, code_hash: bytes) -> bytes:
    return rlp.encode([nonce, balance, storage_root, code_hash])


@pytest.fixture
def world() -> tuple[HexaryTrie, HexaryTrie]:
    storage = HexaryTrie(db={})
    storage[keccak(erc20_balance_slot(VAULT, 3).to_bytes(32, "big"))] = rlp.encode(7 * 10**18)
    storage[keccak(erc20_balance_slot(OTHER, 3).to_bytes(32, "big"))] = rlp.encode(10**24)
    state = HexaryTrie(db={})
    state[keccak(VAULT)] = _account(1, 5 * 10**18, keccak(rlp.encode(b"")), keccak(b"vault"))
    state[keccak(TOKEN)] = _account(1, 0, storage.root_hash, CODE)
    state[keccak(OTHER)] = _account(9, 10**21, keccak(rlp.encode(b"")), EMPTY_CODE_HASH)
    return state, storage


def test_ether_and_token_balances_read_from_their_proofs(world) -> None:
    state, storage = world
    ether = BalanceProof(b"\x00" * 32, _proof(state, keccak(VAULT)))
    assert ether.ether(state.root_hash, VAULT) == 5 * 10**18
    slot_key = keccak(erc20_balance_slot(VAULT, 3).to_bytes(32, "big"))
    tok = BalanceProof(b"\x00" * 32, _proof(state, keccak(TOKEN)), _proof(storage, slot_key))
    assert tok.token(state.root_hash, TOKEN, VAULT, 3) == 7 * 10**18
    for p in (ether, tok):
        assert BalanceProof.decode(p.encode()) == p


def test_an_absent_account_is_proven_absent_and_reads_zero(world) -> None:
    state, _ = world
    nobody = b"\x44" * 20
    assert prove_account(state.root_hash, nobody, _proof(state, keccak(nobody))) == ABSENT


def test_another_accounts_proof_a_foreign_root_or_a_tampered_leaf_is_refused(world) -> None:
    state, _ = world
    with pytest.raises(InclusionProofError):  # OTHER's proof is not a path to VAULT's leaf
        prove_account(state.root_hash, VAULT, _proof(state, keccak(OTHER))[:1])
    with pytest.raises(InclusionProofError):
        prove_account(keccak(b"another root"), VAULT, _proof(state, keccak(VAULT)))
    forged = HexaryTrie(db={})
    forged[keccak(VAULT)] = _account(1, 10**30, keccak(rlp.encode(b"")), keccak(b"vault"))
    with pytest.raises(InclusionProofError):  # a proof from another trie than the header's
        prove_account(state.root_hash, VAULT, _proof(forged, keccak(VAULT)))


@pytest.mark.parametrize(
    "leaf",
    [
        rlp.encode([1, 2, keccak(b"r")]),  # 3 fields
        rlp.encode([b"\x00\x01", 2, keccak(b"r"), keccak(b"c")]),  # non-canonical nonce
        rlp.encode([1, 2, b"\x01" * 31, keccak(b"c")]),  # short storage root
        rlp.encode(b"not a list"),
    ],
)
def test_a_malformed_account_leaf_is_refused(leaf: bytes) -> None:
    trie = HexaryTrie(db={})
    trie[keccak(VAULT)] = leaf
    with pytest.raises(InclusionProofError):
        prove_account(trie.root_hash, VAULT, _proof(trie, keccak(VAULT)))


def test_storage_zero_words_and_token_without_code_are_refused() -> None:
    trie = HexaryTrie(db={})
    trie[keccak((5).to_bytes(32, "big"))] = rlp.encode(b"")
    with pytest.raises(InclusionProofError):
        prove_storage(trie.root_hash, 5, _proof(trie, keccak((5).to_bytes(32, "big"))))
    state = HexaryTrie(db={})
    state[keccak(TOKEN)] = _account(0, 0, keccak(rlp.encode(b"")), EMPTY_CODE_HASH)
    proof = BalanceProof(b"\x00" * 32, _proof(state, keccak(TOKEN)))
    with pytest.raises(InclusionProofError, match="no code"):
        proof.token(state.root_hash, TOKEN, VAULT, 3)


@pytest.mark.parametrize(
    "body",
    [b"", b"\x00" * 35, b"\x00" * 32 + b"\x00\x01", b"\x00" * 32 + b"\x00\x00\x00\x00\x00",
     b"\x00" * 32 + b"\xff\xff" + b"\x00\x00", b"\x00" * 32 + b"\x00\x01\xff\xff\xff\xff\x00"],
)  # fmt: skip
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(InclusionProofError):
        BalanceProof.decode(body)
