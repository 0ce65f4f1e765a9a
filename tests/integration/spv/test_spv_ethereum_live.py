"""The Ethereum relay against anvil: live headers, a real HTLC ``Locked`` receipt, a reorg.

The relay starts from a checkpoint at anvil's current tip, relays the headers that follow
(every continuity rule; the EIP-1559 base fee is checked separately on the pre-revert blocks,
as anvil does not roll its base fee back on ``evm_revert``),
proves the receipt of a real ``lock`` call on the deployed EtherSwapHTLC and decodes its
``Locked`` event. ``evm_revert`` to a snapshot taken before the lock, then mining a longer
branch, orphans the lock's block: the same proof is then rejected as ``not-in-best-chain``.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import pytest
from web3 import Web3

from etm_bridge.chains.ethereum.spv import rlp as eth_rlp
from etm_bridge.chains.ethereum.spv.header_relay import EthRelay, check_eth_receipt
from etm_bridge.chains.ethereum.spv.headers import (
    ANVIL,
    ANVIL_PINNED_HARDFORK,
    FORK_FIELD_COUNTS,
    LOCKED_EVENT,
    check_child,
    find_events,
)
from etm_bridge.errors import InclusionProofError
from etm_bridge.spv.kvstore import MemoryKeyValueStore

ROOT = Path(__file__).resolve().parents[3]
RELAYER = b"\x05" * 32


def _block(node, number: int) -> dict:
    return node.rpc.call("eth_getBlockByNumber", hex(number), False)


def _height(node) -> int:
    return int(node.rpc.call("eth_blockNumber"), 16)


def _relay_to_tip(node, relay: EthRelay, start: int) -> None:
    headers = [
        eth_rlp.encode_checked_header(_block(node, n)) for n in range(start, _height(node) + 1)
    ]
    relay.submit_headers(headers, RELAYER)


def _receipt_proof(node, tx_hash: str) -> tuple[bytes, int, tuple[bytes, ...]]:
    receipt = node.rpc.call("eth_getTransactionReceipt", tx_hash)
    block = _block(node, int(receipt["blockNumber"], 16))
    receipts = [node.rpc.call("eth_getTransactionReceipt", h) for h in block["transactions"]]
    index = int(receipt["transactionIndex"], 16)
    root, nodes = eth_rlp.build_receipt_proof([eth_rlp.encode_receipt(r) for r in receipts], index)
    assert "0x" + root.hex() == block["receiptsRoot"]
    return bytes.fromhex(block["hash"][2:]), index, nodes


def test_anvil_runs_the_pinned_hardfork_with_pragues_header_layout(anvil_node) -> None:
    """The relay's ANVIL params assume the fork anvil reports: a new anvil with another default
    fork fails here, not later as a header the relay cannot parse."""
    info = anvil_node.rpc.call("anvil_nodeInfo")
    assert info["hardFork"].lower() == ANVIL_PINNED_HARDFORK.lower()
    head = _block(anvil_node, _height(anvil_node))
    assert (
        len(eth_rlp.decode_header(eth_rlp.encode_checked_header(head)))
        == (FORK_FIELD_COUNTS["prague"])
    )


def test_live_headers_locked_event_and_reorg(anvil_node) -> None:
    node = anvil_node
    key = node.private_keys[7]
    artifact = json.loads((ROOT / "contracts/ethereum/artifacts/EtherSwapHTLC.json").read_text())
    deployed = node.send_transaction(
        key, None, data=bytes.fromhex(artifact["bytecode"][2:]), gas=3_000_000
    )
    htlc = deployed["contractAddress"]
    start = _height(node)
    relay = EthRelay.initialise(
        MemoryKeyValueStore(), ANVIL, eth_rlp.encode_checked_header(_block(node, start)), [RELAYER]
    )
    snapshot = node.rpc.call("evm_snapshot")
    claim = node.accounts[6]
    data = (
        Web3()
        .eth.contract(abi=artifact["abi"])
        .encode_abi("lock", args=[b"\x42" * 32, claim, start + 50])
    )
    locked = node.send_transaction(key, htlc, value_wei=10**15, data=bytes.fromhex(data[2:]))
    node.rpc.call("evm_mine")
    node.rpc.call("evm_mine")
    _relay_to_tip(node, relay, start + 1)
    strict = replace(ANVIL, check_base_fee=True)  # anvil follows EIP-1559 between reverts
    chain = [relay.get(relay.best_hash_at(n) or b"") for n in range(start, start + 4)]
    for parent, child in itertools.pairwise(chain):
        assert parent is not None and child is not None
        check_child(parent, child, strict)

    block_hash, index, nodes = _receipt_proof(node, locked["transactionHash"])
    header, receipt = check_eth_receipt(relay, block_hash, index, nodes, 3)
    assert header.number == start + 1
    [event] = find_events(receipt, LOCKED_EVENT, bytes.fromhex(htlc[2:]))
    assert event["amount"] == 10**15 and event["timelock"] == start + 50
    assert event["preimageHash"] == b"\x42" * 32
    assert event["claimAddress"] == bytes.fromhex(claim[2:])

    assert node.rpc.call("evm_revert", snapshot) is True
    for _ in range(4):
        node.rpc.call("evm_mine")
    assert _height(node) == start + 4
    result = relay.submit_headers(
        [eth_rlp.encode_checked_header(_block(node, n)) for n in range(start + 1, start + 5)],
        RELAYER,
    )
    assert result.reorg and result.tip.number == start + 4
    with pytest.raises(InclusionProofError) as info:
        check_eth_receipt(relay, block_hash, index, nodes, 1)
    assert info.value.reason == "not-in-best-chain"
