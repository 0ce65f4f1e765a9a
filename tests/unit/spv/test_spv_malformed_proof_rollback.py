"""Issue 11 item 11: a malformed receipt-proof node made trie raise its own ``ValidationError``,
which escaped the transaction path without rollback: the mempool kept the sender's fee debit and
nonce bump (its next tx was refused ``wrong_nonce``) and the caller got a bare exception.

The attack on a real chain with an Ethereum relay: a relayed block's genuine receipt proof plus
one extra node of the wrong shape (any proof node list is accepted by ``get_from_proof``, so a
prover can always add one). It must be rejected with a reason, leave the state digest and the
mempool exactly as they were, and the sender's nonce free.
"""

from __future__ import annotations

from typing import Any

import pytest
import rlp
from spv_testkit import GENESIS, anvil_chain

from etm_bridge.chain.address import address_hash
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.chains.ethereum.etm.genesis import EthRelayGenesis
from etm_bridge.chains.ethereum.etm.relay_types import (
    ETH_RECEIPT_PROOF,
    ETH_RELAY_HEADERS,
    EthReceiptProof,
)
from etm_bridge.chains.ethereum.spv.headers import ANVIL, parse_header
from etm_bridge.errors import TxRejectedError
from etm_bridge.node import spv_plugin
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.store import ChainStore

ATTACKER, RELAYER = dev_key("user-0"), dev_key("user-1")
FEE = 200_000


class _Node:
    def __init__(self) -> None:
        params = ChainParams(block_time_s=1, delegates_per_round=3,
                             tx_plugins=(spv_plugin.__name__,))  # fmt: skip
        cfg, self.keys = dev_genesis(params, 3, funded=2)
        eth = EthRelayGenesis(chain="anvil", checkpoint_rlp=GENESIS, relayers=(RELAYER.public_key,))
        spv = SpvSection({"eth": eth})
        self.cfg = cfg.with_plugin_section(spv_plugin.SECTION, spv.to_json())
        self.chain = Chain(ChainStore.memory(), self.cfg)
        self.now = 0

    def tx(self, key: SigningKey, type_id: int, payload: bytes, nonce: int) -> Tx:
        return Tx.create(key, network=self.cfg.params.network_id, type_id=type_id, nonce=nonce,
                         fee=FEE, payload=payload)  # fmt: skip

    def forge(self) -> Any:
        for _ in range(100):
            self.now += 1
            block = self.chain.forge_next(self.now, self.keys)
            if block is not None:
                return block
        raise AssertionError("no block forged")


def test_a_malformed_proof_node_is_rejected_and_leaves_nothing_behind(vectors: Any) -> None:
    node = _Node()
    block = vectors.json("ethereum/mainnet_block_21925176_receipts.json")
    root = bytes.fromhex(block["receipts_root"][2:])
    relayed = anvil_chain(GENESIS, 1, 1_100, receipts_root=root)
    node.chain.submit_tx(node.tx(RELAYER, ETH_RELAY_HEADERS, rlp.encode(relayed), 0))
    assert len(node.forge().transactions) == 1
    proof = block["proofs"][1]
    nodes = tuple(bytes.fromhex(n[2:]) for n in proof["proof"])
    block_hash = parse_header(relayed[0], ANVIL).hash
    bad_node = rlp.encode([b"not", b"a", b"trie node"])  # three items: no node has three
    payload = EthReceiptProof(block_hash, proof["index"], (*nodes, bad_node)).encode()
    digest = node.chain.status()["stateDigest"]

    with pytest.raises(TxRejectedError) as info:
        node.chain.submit_tx(node.tx(ATTACKER, ETH_RECEIPT_PROOF, payload, 0))
    assert info.value.reason == "spv_bad_receipt_proof"
    assert "Invalid Node" in info.value.detail

    assert len(node.chain.mempool) == 0
    assert node.chain.status()["stateDigest"] == digest
    account = node.chain.account(address_hash(ATTACKER.public_key))
    assert account.nonce == 0
    # The mempool's pending state was not advanced either: nonce 0 is still the one to use.
    honest = EthReceiptProof(block_hash, proof["index"], nodes).encode()
    node.chain.submit_tx(node.tx(ATTACKER, ETH_RECEIPT_PROOF, honest, 0))
    pay = TransferPayload(address_hash(RELAYER.public_key), 1).encode()
    node.chain.submit_tx(node.tx(ATTACKER, TRANSFER, pay, 1))
    forged = node.forge()
    assert len(forged.transactions) == 2
    assert node.chain.account(address_hash(ATTACKER.public_key)).balance == (
        account.balance - 2 * FEE - 1
    )
    replica = Chain(ChainStore.memory(), node.cfg)  # the blocks are valid for another node
    for height in range(1, node.chain.tip.height + 1):
        assert replica.apply_block(node.chain.block_by_height(height))
    assert replica.status()["stateDigest"] == node.chain.status()["stateDigest"]
