"""The Bitcoin relay against a real regtest node: live headers, a real gettxoutproof, a reorg.

The node (bcoin, or bitcoind when installed) is shared by the session, so the test reads the
chain as it finds it: it relays every header from the regtest genesis and proves a payment it
makes. For the reorg it does not use ``invalidateblock``: bcoin 1.0.2 answers it, but leaves its
mempool on the old tip ("Mempool/chain tip mismatch! Unsafe to create block"), so the node cannot
mine afterwards. Instead the test builds a longer competing branch itself (coinbase-only blocks
from the parent of the payment's block, BIP34 heights, regtest proof of work) and hands it to
the node with ``submitblock`` (both nodes answer it): the node reorganises, and after relaying
the branch the old proof is rejected as ``not-in-best-chain``. Where the node re-mines the
payment (bitcoind does), a fresh proof for its new block verifies.
"""

from __future__ import annotations

import struct
import time

import pytest

from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof, check_bitcoin_proof
from etm_bridge.chains.bitcoin.spv.params import REGTEST
from etm_bridge.errors import InclusionProofError, RPCError
from etm_bridge.spv.fork_point import common_height
from etm_bridge.spv.kvstore import MemoryKeyValueStore


def _header(node, height: int) -> bytes:
    block_hash = node.rpc.call("getblockhash", height)
    return bytes.fromhex(node.rpc.call("getblockheader", block_hash, False))


def fork_point(relay: BitcoinRelay, hash_at) -> int | None:
    """Where the node (``hash_at(height)``, None above its tip) and the relay agree."""

    def agree(height: int) -> bool:
        node_hash = hash_at(height)
        return node_hash is not None and node_hash == relay.best_hash_at(height)

    return common_height(relay.tip().height, agree, floor=relay.checkpoint_height)


def _relay_up_to_tip(node, relay: BitcoinRelay) -> None:
    """What a relayer does: find the fork point, send the node's headers after it."""

    def hash_at(height: int) -> bytes | None:
        if height > node.height():
            return None
        return bytes.fromhex(node.rpc.call("getblockhash", height))[::-1]

    start = fork_point(relay, hash_at)
    assert start is not None, "the node's chain lacks the relay's checkpoint"
    headers = [_header(node, h) for h in range(start + 1, node.height() + 1)]
    for i in range(0, len(headers), 500):
        relay.submit_headers(headers[i : i + 500], int(time.time()))


def _proof(node, txid: str) -> tuple[BitcoinTxProof, str]:
    raw = bytes.fromhex(node.rpc.call("getrawtransaction", txid, 0))
    blob = bytes.fromhex(node.rpc.call("gettxoutproof", [txid]))
    proof = BitcoinTxProof.from_txoutproof(raw, blob)
    return proof, proof.block_hash_le[::-1].hex()


def test_live_headers_txoutproof_and_reorg(bitcoin_node) -> None:
    node = bitcoin_node
    assert _header(node, 0) == REGTEST.genesis_header
    relay = BitcoinRelay.initialise(MemoryKeyValueStore(), REGTEST, Checkpoint.genesis(REGTEST))
    txid = node.fund(node.faucet_address(), 123_456)  # mines one block holding the payment
    _relay_up_to_tip(node, relay)
    assert relay.tip().hash_hex == node.rpc.call("getbestblockhash")

    proof, block_hash = _proof(node, txid)
    confirmed = check_bitcoin_proof(relay, proof, 1)
    assert confirmed.tx.txid_hex == txid
    assert any(o.value_sat == 123_456 for o in confirmed.tx.outputs)
    node.mine(2)
    _relay_up_to_tip(node, relay)
    assert check_bitcoin_proof(relay, proof, 3).confirmations == 3

    fork_height = confirmed.height
    parent = bh.BlockHeader.from_bytes(_header(node, fork_height - 1))
    for block in _competing_branch(parent, fork_height, 4):
        assert node.rpc.call("submitblock", block.hex()) in (None, "inconclusive")
    assert node.height() == fork_height + 3
    assert node.rpc.call("getblockhash", fork_height) != block_hash
    assert (
        fork_point(relay, lambda h: bytes.fromhex(node.rpc.call("getblockhash", h))[::-1])
        == fork_height - 1
    )
    _relay_up_to_tip(node, relay)
    assert relay.tip().hash_hex == node.rpc.call("getbestblockhash")
    with pytest.raises(InclusionProofError) as info:
        check_bitcoin_proof(relay, proof, 1)
    assert info.value.reason == "not-in-best-chain"
    assert relay.confirmations(proof.block_hash_le) == 0

    node.mine(1)
    _relay_up_to_tip(node, relay)
    # bitcoind returns the disconnected payment to its mempool and re-mines it; bcoin 1.0.2 was
    # seen to drop it. When it is in the new branch, a proof for its new block verifies.
    if _in_best_chain(node, txid):
        new_proof, new_block = _proof(node, txid)
        assert new_block != block_hash
        assert check_bitcoin_proof(relay, new_proof, 1).tx.txid_hex == txid


def _script_num(n: int) -> bytes:
    """CScriptNum push of a positive height (BIP34)."""
    data = n.to_bytes((n.bit_length() + 8) // 8, "little")
    return bytes([len(data)]) + data


def _competing_branch(parent: bh.BlockHeader, height: int, count: int) -> list[bytes]:
    """``count`` coinbase-only regtest blocks on ``parent``, the first at ``height``."""
    blocks, prev, now = [], parent, parent.time
    for i in range(count):
        script_sig = _script_num(height + i) + b"\x04spv!"
        coinbase = (
            struct.pack("<i", 1) + b"\x01" + bytes(32) + b"\xff" * 4
            + bytes([len(script_sig)]) + script_sig + b"\xff" * 4
            + b"\x01" + bytes(8) + b"\x01\x51" + bytes(4)
        )  # fmt: skip
        now += 1
        header = _mine(prev.hash_le, bh.dsha256(coinbase), now)
        blocks.append(header + b"\x01" + coinbase)
        prev = bh.BlockHeader.from_bytes(header)
    return blocks


def _mine(prev_le: bytes, merkle_le: bytes, timestamp: int) -> bytes:
    target = bh.decode_compact(0x207FFFFF)[0]
    prefix = struct.pack("<i32s32sII", 0x20000000, prev_le, merkle_le, timestamp, 0x207FFFFF)
    for nonce in range(1 << 32):
        raw = prefix + struct.pack("<I", nonce)
        if int.from_bytes(bh.dsha256(raw), "little") <= target:
            return raw
    raise AssertionError("no nonce")


def _in_best_chain(node, txid: str) -> bool:
    try:
        node.rpc.call("gettxoutproof", [txid])
    except RPCError:  # not in a block of the best chain (in the mempool, or dropped)
        return False
    return True
