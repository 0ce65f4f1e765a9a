"""The Bitcoin adapter's inclusion proofs and chain scan on real mainnet blocks.

``getblock <hash> 0`` gives exactly these bytes on any node, so the proofs the adapter builds
from them must pass the strict SPV verifier for every kind of transaction a real block holds
(coinbase, legacy, segwit, taproot-era witnesses, the odd last leaf), and scanning them must
find nothing of ours. Blocks from ``tests/vectors/bitcoin/blocks`` (see its README).
"""

from __future__ import annotations

from functools import cache

import pytest
import vector_files
from bitcoin.core import CBlock
from etm_bridge_bitcoin.index import ChainIndex, txid_hex
from etm_bridge_bitcoin.proofs import block_inclusion_proof
from etm_bridge_bitcoin.txbuild import WalletKey

from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.errors import LockNotFoundError, ProofError
from etm_bridge.testing.proofs import verify_inclusion_proof

#: file -> (height, block hash) as the vectors README lists them
REAL_BLOCKS = {
    "mainnet_block_170.hex": (
        170,
        "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee",
    ),
    "mainnet_block_831332.bin": (
        831332,
        "00000000000000000000a4c01889bd8c5aeb480a3ab3a2174efa8ba2520a7657",
    ),
}


@cache
def _block(name: str) -> CBlock:
    data = vector_files.read_bytes(f"bitcoin/blocks/{name}")
    raw = bytes.fromhex(data.decode().strip()) if name.endswith(".hex") else data
    return CBlock.deserialize(raw)


@pytest.mark.parametrize("name", sorted(REAL_BLOCKS))
def test_proofs_of_real_transactions_verify(name: str) -> None:
    height, block_hash = REAL_BLOCKS[name]
    block = _block(name)
    assert block.GetHash()[::-1].hex() == block_hash
    last = len(block.vtx) - 1
    for index in sorted({0, 1, last // 2, last - 1, last} - {-1}):
        txid = txid_hex(block.vtx[index])
        proof = block_inclusion_proof(block, height, txid)
        assert (proof.index, proof.tx_count, proof.block_height) == (index, last + 1, height)
        assert dsha256(proof.leaf)[::-1].hex() == txid
        assert dsha256(proof.header)[::-1].hex() == block_hash
        verify_inclusion_proof(proof)


def test_a_proof_moved_to_another_index_fails() -> None:
    height, _ = REAL_BLOCKS["mainnet_block_831332.bin"]
    block = _block("mainnet_block_831332.bin")
    proof = block_inclusion_proof(block, height, txid_hex(block.vtx[15]))
    moved = type(proof)(**{**proof.__dict__, "index": 14})
    with pytest.raises(ProofError):
        verify_inclusion_proof(moved)


def test_a_transaction_not_in_the_block_is_not_found() -> None:
    height, _ = REAL_BLOCKS["mainnet_block_170.hex"]
    with pytest.raises(LockNotFoundError, match="not in block 170"):
        block_inclusion_proof(_block("mainnet_block_170.hex"), height, "ab" * 32)


@pytest.mark.parametrize("name", sorted(REAL_BLOCKS))
def test_scanning_a_real_block_finds_nothing_of_ours(name: str) -> None:
    height, _ = REAL_BLOCKS[name]
    key = WalletKey(b"\x5a" * 32)
    index = ChainIndex(birth_height=height)
    for tx in _block(name).vtx:
        index.apply_tx(tx, height, key.script_pubkey)
    assert index.coins == {} and index.locks == {} and index.spends == {}
