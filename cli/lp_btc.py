"""Bitcoin side of ``etm-bridge lp deposit``: pay the pool with an owner tag, then prove it.

Not a verb module. The deposit the exchange accepts (``etm_bridge.exchange.btc_proofs``) is a
transaction with an output paying ``P2WPKH(pool claim key)`` and exactly one
``OP_RETURN "ETMD" || address20`` output naming the ETM owner. :func:`build_tagged_payment` builds
and signs it from the Bitcoin adapter's own coins (largest first, change back to us, change that
would be dust goes to the fee), with the fee measured on the transaction itself (worst-case
signatures). :func:`pay_tagged` broadcasts it through the adapter, :func:`wait_proof` waits for
the confirmations and returns the :class:`~etm_bridge.exchange.btc_proofs.BtcProof`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bitcoin.core import (
    CBlock,
    COutPoint,
    CScript,
    CTransaction,
    CTxIn,
    CTxInWitness,
    CTxOut,
    CTxWitness,
    b2x,
    lx,
)
from bitcoin.core.script import SIGHASH_ALL, SIGVERSION_WITNESS_V0, CScriptWitness, SignatureHash
from etm_bridge_bitcoin.adapter import BitcoinAdapter
from etm_bridge_bitcoin.index import save_index
from etm_bridge_bitcoin.proofs import block_inclusion_proof
from etm_bridge_bitcoin.script import p2pkh_script_code
from etm_bridge_bitcoin.txbuild import (
    DUST_P2WPKH_SAT,
    SEQUENCE_NON_FINAL,
    Utxo,
    WalletKey,
    fee_for,
)

from etm_bridge.errors import ChainError, DustError, InsufficientFundsError, ValidationError
from etm_bridge.exchange.btc_proofs import BtcProof
from etm_bridge.spv.bitcoin_tx import parse_tx

#: How far back ``lp deposit --txid`` looks for the earlier payment's block.
RESUME_SCAN_BLOCKS = 1_000
_DUMMY_SIG = b"\x30" + b"\x00" * 71 + bytes([SIGHASH_ALL])  # 73 bytes, the largest
_OP_RETURN = 0x6A


def op_return_script(data: bytes) -> bytes:
    """``OP_RETURN <data>`` with a direct push (data of at most 75 bytes)."""
    if not 0 < len(data) <= 75:
        raise ValueError("OP_RETURN data must be 1..75 bytes")
    return bytes([_OP_RETURN, len(data)]) + data


def _tx(coins: Sequence[Utxo], outs: list[CTxOut], witnesses: list[list[bytes]]) -> CTransaction:
    vin = [CTxIn(COutPoint(lx(c.txid_hex), c.vout), nSequence=SEQUENCE_NON_FINAL) for c in coins]
    wit = CTxWitness([CTxInWitness(CScriptWitness(w)) for w in witnesses])
    return CTransaction(vin, outs, nLockTime=0, nVersion=2, witness=wit)


def _outputs(to_script: bytes, amount_sat: int, data: bytes, change: int, key: WalletKey) -> list:
    outs = [CTxOut(amount_sat, CScript(to_script)), CTxOut(0, CScript(op_return_script(data)))]
    if change:
        outs.append(CTxOut(change, CScript(key.script_pubkey)))
    return outs


def _sign(key: WalletKey, coins: Sequence[Utxo], unsigned: CTransaction) -> CTransaction:
    code = CScript(p2pkh_script_code(key.pubkey))
    witnesses = []
    for index, coin in enumerate(coins):
        sighash = SignatureHash(
            code, unsigned, index, SIGHASH_ALL, coin.value_sat, SIGVERSION_WITNESS_V0
        )
        witnesses.append([key.sign(sighash), key.pubkey])
    return _tx(coins, list(unsigned.vout), witnesses)


def build_tagged_payment(
    key: WalletKey,
    utxos: Sequence[Utxo],
    to_script: bytes,
    amount_sat: int,
    data: bytes,
    rate_sat_vb: int,
) -> CTransaction:
    """Signed ``[to_script amount, OP_RETURN data, change?]`` spending our P2WPKH coins."""
    if amount_sat < DUST_P2WPKH_SAT:
        raise DustError(f"payment of {amount_sat} sat is dust (minimum {DUST_P2WPKH_SAT} sat)")
    coins: list[Utxo] = []
    for coin in sorted(utxos, key=lambda u: (-u.value_sat, u.txid_hex, u.vout)):
        coins.append(coin)
        total, dummy = sum(c.value_sat for c in coins), [[_DUMMY_SIG, key.pubkey]] * len(coins)
        for change_slot in (1, 0):
            outs = _outputs(to_script, amount_sat, data, change_slot, key)
            fee = fee_for(_tx(coins, outs, dummy), rate_sat_vb)
            change = total - amount_sat - fee
            if change >= (DUST_P2WPKH_SAT if change_slot else 0):
                unsigned = _tx(coins, _outputs(to_script, amount_sat, data, change * change_slot,
                                               key), [])  # fmt: skip
                return _sign(key, coins, unsigned)
    have = sum(u.value_sat for u in utxos)
    raise InsufficientFundsError(
        f"paying {amount_sat} sat at {rate_sat_vb} sat/vB needs more than the {have} sat "
        f"spendable by key {key.pubkey.hex()}; fund its address first"
    )


def pay_tagged(
    adapter: BitcoinAdapter, to_script: bytes, amount_sat: int, data: bytes
) -> tuple[str, int]:
    """Build, sign and broadcast the payment; returns (txid, node height before it)."""
    adapter.sync()
    height = int(adapter.rpc.call("getblockcount"))
    tx = build_tagged_payment(
        adapter.key,
        adapter.index.spendable(),
        to_script,
        amount_sat,
        data,
        adapter.fee_estimate().rate,
    )
    txid = str(adapter.rpc.call("sendrawtransaction", b2x(tx.serialize())))
    adapter.index.apply_tx(tx, None, adapter.key.script_pubkey)
    save_index(adapter.index_path, adapter.index)
    return txid, height


def _find_block(adapter: BitcoinAdapter, txid: str, from_height: int) -> int | None:
    """The height of the best-chain block holding ``txid`` at or above ``from_height``."""
    tip = int(adapter.rpc.call("getblockcount"))
    for height in range(from_height, tip + 1):
        raw = adapter.rpc.call("getblock", adapter.rpc.call("getblockhash", height), 0)
        block = CBlock.deserialize(bytes.fromhex(raw))
        if any(tx.GetTxid()[::-1].hex() == txid for tx in block.vtx):
            return height
    return None


def wait_proof(
    adapter: BitcoinAdapter,
    txid: str,
    from_height: int,
    confirmations: int,
    *,
    timeout_s: float = 3600.0,
    progress: Callable[[int, int], None] | None = None,
) -> BtcProof:
    """Wait until ``txid`` has ``confirmations``; its proof (payment at output 0)."""
    deadline, height = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        height = _find_block(adapter, txid, from_height if height is None else height)
        if height is not None:
            have = int(adapter.rpc.call("getblockcount")) - height + 1
            if progress is not None:
                progress(have, confirmations)
            if have >= confirmations:
                raw = adapter.rpc.call("getblock", adapter.rpc.call("getblockhash", height), 0)
                proof = block_inclusion_proof(CBlock.deserialize(bytes.fromhex(raw)), height, txid)
                return BtcProof.from_adapter_proof(proof, 0)
        time.sleep(1.0)
    raise ChainError(f"Bitcoin tx {txid} did not get {confirmations} confirmations in time")


def check_payment(proof: BtcProof, to_script: bytes, amount_sat: int, data: bytes) -> None:
    """The proven transaction pays ``amount_sat`` to ``to_script`` at output 0 and carries the
    ``OP_RETURN data`` output (what a resumed deposit must match); ValidationError otherwise."""
    tx = parse_tx(proof.tx_proof.raw_tx)
    out = tx.outputs[0] if tx.outputs else None
    if out is None or out.script_pubkey != to_script or out.value_sat != amount_sat:
        raise ValidationError(
            f"bitcoin tx {tx.txid_hex} does not pay {amount_sat} sat to the pool at output 0"
        )
    if op_return_script(data) not in [o.script_pubkey for o in tx.outputs]:
        raise ValidationError(f"bitcoin tx {tx.txid_hex} does not carry this wallet's owner tag")
