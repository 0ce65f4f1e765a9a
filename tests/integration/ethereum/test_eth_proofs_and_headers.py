"""Headers and receipt proofs from anvil: header RLP hashes to the block hash, and a proof for
every transaction of a block holding several verifies against the header's receiptsRoot."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_utils import keccak

from etm_bridge.adapter import HtlcTerms
from etm_bridge.errors import ProofError
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.preimages import new_preimage
from etm_bridge.testing.proofs import verify_inclusion_proof


def test_headers_hash_to_the_nodes_block_hashes(adapters, parties, eth_mine):
    us = adapters(parties[0])
    eth_mine(1)
    tip = us.tip()
    (header,) = us.headers(tip.height, 1)
    assert keccak(header).hex() == tip.block_hash_hex


def test_proofs_of_every_lock_in_a_multi_transaction_block_verify(anvil_node, adapters, parties):
    us, them = (adapters(i) for i in parties)
    anvil_node.rpc.call("evm_setAutomine", False)
    try:
        hashes = []
        for _ in range(3):
            terms = HtlcTerms(
                amount=10**15,
                hashlock=hashlock_of(new_preimage()),
                claim_key=them.our_key(),
                refund_key=us.our_key(),
                timelock_height=us.tip().height + 20,
            )
            data, value = us.codec.lock(terms)
            hashes.append(us.sender.send(us.htlc_address, data, value, "lock", gas=200_000))
        anvil_node.rpc.call("evm_mine")
    finally:
        anvil_node.rpc.call("evm_setAutomine", True)
    receipts = [us.sender.wait(h, "lock") for h in hashes]
    assert len({r["blockNumber"] for r in receipts}) == 1
    proofs = [us.inclusion_proof(r["logs"][0]["topics"][2][2:]) for r in receipts]
    assert sorted(p.index for p in proofs) == [0, 1, 2]
    for proof in proofs:
        verify_inclusion_proof(proof)
    moved = replace(proofs[0], index=proofs[1].index)
    with pytest.raises(ProofError):
        verify_inclusion_proof(moved)
