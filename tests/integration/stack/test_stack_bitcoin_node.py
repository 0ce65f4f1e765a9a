"""The bitcoin_node fixture is a real regtest node that validates like bitcoind.

Every transaction here is built and signed with our own key (python-bitcoinlib), not by the
node's wallet; rejections are asserted on bitcoind's error codes (-22, -25, -26, -27), which the
bcoin launcher must reproduce.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from bitcoin.core import CBlock, CBlockHeader, CTransaction, Hash160, b2lx, x
from bitcoin.core.script import CScript
from bitcoin.wallet import CBitcoinAddress, P2PKHBitcoinAddress, P2SHBitcoinAddress
from etm_bridge_regtest.bitcoin import BitcoinNode
from etm_bridge_regtest.ownkey import OwnKey, Utxo
from etm_bridge_regtest.throwaway import bitcoin_node_in

from etm_bridge.errors import (
    RPCAlreadyInChainError,
    RPCDeserializationError,
    RPCInvalidAddressOrKeyError,
    RPCMissingInputsError,
    RPCVerifyRejectedError,
)

FEE_SAT = 2_000


def _funded_utxo(node: BitcoinNode, key: OwnKey, amount_sat: int = 1_000_000) -> Utxo:
    txid = node.fund(key.address, amount_sat)
    return key.find_output(node.rpc, txid)


def _block_txids(node: BitcoinNode, block_hash: str) -> list[str]:
    block = CBlock.deserialize(x(node.rpc.call("getblock", block_hash, 0)))
    return [b2lx(tx.GetTxid()) for tx in block.vtx]


def test_mines_101_blocks_and_confirms_a_transaction_signed_with_our_key(
    bitcoin_node: BitcoinNode,
) -> None:
    start = bitcoin_node.height()
    hashes = bitcoin_node.mine(101)
    assert len(hashes) == 101
    assert bitcoin_node.height() == start + 101
    assert bitcoin_node.rpc.call("getbestblockhash") == hashes[-1]

    sender, receiver = OwnKey.from_label("stack-test-sender"), OwnKey.from_label("stack-test-recv")
    utxo = _funded_utxo(bitcoin_node, sender)
    raw_hex = sender.spend(utxo, receiver.address, FEE_SAT)
    txid = bitcoin_node.rpc.call("sendrawtransaction", raw_hex)
    assert txid in bitcoin_node.rpc.call("getrawmempool")

    [block_hash] = bitcoin_node.mine(1)
    assert txid in _block_txids(bitcoin_node, block_hash)
    assert txid not in bitcoin_node.rpc.call("getrawmempool")
    received = receiver.find_output(bitcoin_node.rpc, txid)
    assert received.value_sat == utxo.value_sat - FEE_SAT
    assert bitcoin_node.rpc.call("gettxout", txid, received.vout)["confirmations"] == 1
    # The spent output is gone from the UTXO set.
    assert bitcoin_node.rpc.call("gettxout", utxo.txid, utxo.vout) is None


@pytest.mark.parametrize("raw_hex", ["zz", "", "0100", "02000000000101"])
def test_malformed_transaction_is_rejected_with_code_22(
    bitcoin_node: BitcoinNode, raw_hex: str
) -> None:
    with pytest.raises(RPCDeserializationError) as info:
        bitcoin_node.rpc.call("sendrawtransaction", raw_hex)
    assert info.value.code == -22


def test_truncated_valid_transaction_is_rejected_with_code_22(bitcoin_node: BitcoinNode) -> None:
    key = OwnKey.from_label("stack-test-truncated")
    raw_hex = key.spend(_funded_utxo(bitcoin_node, key), key.address, FEE_SAT)
    with pytest.raises(RPCDeserializationError):
        bitcoin_node.rpc.call("sendrawtransaction", raw_hex[:-8])


def test_spend_signed_with_the_wrong_key_is_rejected_with_code_26(
    bitcoin_node: BitcoinNode,
) -> None:
    owner, thief = OwnKey.from_label("stack-test-owner"), OwnKey.from_label("stack-test-thief")
    utxo = _funded_utxo(bitcoin_node, owner)
    # The thief signs the owner's output with its own key: the witness program does not match.
    forged_hex = thief.spend(utxo, thief.address, FEE_SAT)
    with pytest.raises(RPCVerifyRejectedError) as info:
        bitcoin_node.rpc.call("sendrawtransaction", forged_hex)
    assert info.value.code == -26
    # The honest spend of the same output is still accepted.
    assert bitcoin_node.rpc.call("sendrawtransaction", owner.spend(utxo, owner.address, FEE_SAT))


def test_non_final_transaction_is_rejected_with_code_26(bitcoin_node: BitcoinNode) -> None:
    key = OwnKey.from_label("stack-test-locktime")
    utxo = _funded_utxo(bitcoin_node, key)
    too_early = bitcoin_node.height() + 10
    with pytest.raises(RPCVerifyRejectedError):
        bitcoin_node.rpc.call(
            "sendrawtransaction", key.spend(utxo, key.address, FEE_SAT, lock_time=too_early)
        )


def test_spend_of_a_nonexistent_output_is_rejected_with_code_25(
    bitcoin_node: BitcoinNode,
) -> None:
    key = OwnKey.from_label("stack-test-ghost")
    ghost = Utxo(txid="ab" * 32, vout=0, value_sat=50_000)
    raw_hex = key.spend(ghost, key.address, FEE_SAT)
    with pytest.raises(RPCMissingInputsError) as info:
        bitcoin_node.rpc.call("sendrawtransaction", raw_hex)
    assert info.value.code == -25
    txid = b2lx(CTransaction.deserialize(x(raw_hex)).GetTxid())
    assert txid not in bitcoin_node.rpc.call("getrawmempool")


def test_confirmed_transaction_sent_again_fails_with_code_27(bitcoin_node: BitcoinNode) -> None:
    key = OwnKey.from_label("stack-test-again")
    raw_hex = key.spend(_funded_utxo(bitcoin_node, key), key.address, FEE_SAT)
    bitcoin_node.rpc.call("sendrawtransaction", raw_hex)
    bitcoin_node.mine(1)
    with pytest.raises(RPCAlreadyInChainError) as info:
        bitcoin_node.rpc.call("sendrawtransaction", raw_hex)
    assert info.value.code == -27


def test_unknown_block_is_code_5(bitcoin_node: BitcoinNode) -> None:
    with pytest.raises(RPCInvalidAddressOrKeyError):
        bitcoin_node.rpc.call("getblockheader", "00" * 32)


def test_addresses_use_bitcoin_core_regtest_prefixes(bitcoin_node: BitcoinNode) -> None:
    assert bitcoin_node.faucet_address().startswith("bcrt1q")
    assert str(bitcoin_node.rpc.call("getnewaddress")).startswith("bcrt1q")
    key = OwnKey.from_label("stack-test-prefixes")
    p2pkh = str(P2PKHBitcoinAddress.from_pubkey(key.pubkey))  # version byte 0x6f: m... / n...
    p2sh = str(P2SHBitcoinAddress.from_redeemScript(CScript([Hash160(key.pubkey)])))  # 0xc4: 2...
    assert p2pkh[0] in "mn" and p2sh[0] == "2"
    for address in (p2pkh, p2sh):
        [block_hash] = bitcoin_node.mine(1, address)
        coinbase = _block_txids(bitcoin_node, block_hash)[0]
        out = bitcoin_node.rpc.call("gettxout", coinbase, 0)
        assert out["scriptPubKey"]["hex"] == bytes(CBitcoinAddress(address).to_scriptPubKey()).hex()


def test_setmocktime_zero_turns_the_mock_clock_off(bitcoin_node: BitcoinNode) -> None:
    bitcoin_node.rpc.call("setmocktime", 0)
    [block_hash] = bitcoin_node.mine(1)
    header = CBlockHeader.deserialize(x(bitcoin_node.rpc.call("getblockheader", block_hash, False)))
    assert abs(header.nTime - time.time()) < 2 * 3600


def test_fund_without_confirming_keeps_working_past_the_mempool_chain_limit(
    tmp_path: Path,
) -> None:
    # On a fresh chain of 101 blocks the faucet has exactly one mature coin, so each
    # unconfirmed send spends the previous one's change; bcoin stops such a chain at 50 and
    # Core at 25 ("too-long-mempool-chain"). fund() must confirm and carry on, and the refused
    # send must not linger in the wallet (the launcher abandons it).
    key = OwnKey.from_label("stack-test-many")
    with bitcoin_node_in(tmp_path) as node:
        node.mine(101)
        txids = [node.fund(key.address, 10_000, confirm=False) for _ in range(55)]
        assert node.height() > 101, "the chain limit was never reached"
        node.mine(1)
        assert len(set(txids)) == 55
        assert not node.rpc.call("getrawmempool")
        assert [key.find_output(node.rpc, t).value_sat for t in txids] == [10_000] * 55
