"""A test miner with a fee market, on both regtest nodes: blocks that include only the mempool
transactions whose package (the transaction with its unconfirmed ancestors) pays at least a
given rate, as a miner facing a full mempool would. bcoin has no ``generateblock``, so the block
is built here (BIP34 coinbase, witness commitment, regtest proof of work) and handed to the node
with ``submitblock``, which both nodes answer; the transactions left out stay in the mempool.
"""

from __future__ import annotations

import struct

from bitcoin.core import (
    CBlock,
    CMutableTransaction,
    COutPoint,
    CScript,
    CTransaction,
    CTxIn,
    CTxInWitness,
    CTxOut,
    CTxWitness,
)
from bitcoin.core.script import CScriptWitness
from etm_bridge_bitcoin.txbuild import vsize

from etm_bridge.chains.bitcoin.spv import headers as bh

BITS = 0x207FFFFF


def _tx(node, txid: str) -> CTransaction:
    return CTransaction.deserialize(bytes.fromhex(node.rpc.call("getrawtransaction", txid, 0)))


def _fee(node, tx: CTransaction) -> int:
    spent = 0
    for txin in tx.vin:
        spent += _tx(node, txin.prevout.hash[::-1].hex()).vout[txin.prevout.n].nValue
    return spent - sum(out.nValue for out in tx.vout)


def package_rate(node, txid: str) -> int:
    """sat/vB of ``txid`` with its unconfirmed ancestors and descendants (a CPFP package)."""
    pool = {str(t): _tx(node, str(t)) for t in node.rpc.call("getrawmempool")}
    group = _with_ancestors(pool, txid)
    for child in map(str, node.rpc.call("getmempooldescendants", txid)):
        group += [t for t in _with_ancestors(pool, child) if t not in group]
    return sum(_fee(node, pool[t]) for t in group) // sum(vsize(pool[t]) for t in group)


def _with_ancestors(pool: dict[str, CTransaction], txid: str) -> list[str]:
    order: list[str] = []

    def visit(t: str) -> None:
        if t in order:
            return
        for txin in pool[t].vin:
            parent = txin.prevout.hash[::-1].hex()
            if parent in pool:
                visit(parent)
        order.append(t)

    visit(txid)
    return order


def mine_above(node, min_rate: int, blocks: int = 1) -> list[str]:
    """Mine ``blocks`` blocks holding only the packages paying >= ``min_rate`` sat/vB; returns
    the txids they included."""
    included: list[str] = []
    for _ in range(blocks):
        pool = {str(t): _tx(node, str(t)) for t in node.rpc.call("getrawmempool")}
        fees = {t: _fee(node, tx) for t, tx in pool.items()}
        chosen: list[str] = []
        for txid in pool:
            group = _with_ancestors(pool, txid)
            rate = sum(fees[t] for t in group) // sum(vsize(pool[t]) for t in group)
            if rate >= min_rate:
                chosen += [t for t in group if t not in chosen]
        _submit(node, [pool[t] for t in chosen], sum(fees[t] for t in chosen))
        included += chosen
    return included


def _coinbase(height: int, fees: int, commitment: bytes | None) -> CMutableTransaction:
    n = height.to_bytes((height.bit_length() + 8) // 8, "little")
    script_sig = CScript(bytes([len(n)]) + n + b"\x08feemarkt")
    txin = CTxIn(COutPoint(), script_sig, 0xFFFFFFFF)
    outs = [CTxOut(fees, CScript(b"\x51"))]  # fees only: a subsidy is not needed
    if commitment is not None:
        outs.append(CTxOut(0, CScript(b"\x6a\x24\xaa\x21\xa9\xed" + commitment)))
    tx = CMutableTransaction([txin], outs, 0, 1)
    tx.wit = CTxWitness([CTxInWitness(CScriptWitness([bytes(32)]))])
    return tx


def _submit(node, txs: list[CTransaction], fees: int) -> None:
    tip_hash = node.rpc.call("getbestblockhash")
    tip = bh.BlockHeader.from_bytes(bytes.fromhex(node.rpc.call("getblockheader", tip_hash, False)))
    height = node.height() + 1
    draft = CBlock(vtx=[CTransaction.from_tx(_coinbase(height, fees, None)), *txs])
    commitment = bh.dsha256(draft.calc_witness_merkle_root() + bytes(32))
    vtx = [CTransaction.from_tx(_coinbase(height, fees, commitment)), *txs]
    merkle = CBlock(vtx=vtx).calc_merkle_root()
    now = tip.time + 1
    target = bh.decode_compact(BITS)[0]
    for nonce in range(1 << 32):
        header = struct.pack("<i32s32sIII", 0x20000000, tip.hash_le, merkle, now, BITS, nonce)
        if int.from_bytes(bh.dsha256(header), "little") <= target:
            break
    block = CBlock(0x20000000, tip.hash_le, merkle, now, BITS, nonce, vtx)
    assert header == block.get_header().serialize()
    result = node.rpc.call("submitblock", block.serialize().hex())
    assert result in (None, "inconclusive"), result
    assert node.height() == height, (node.height(), height, result)
