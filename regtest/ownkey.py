"""A regtest key we hold ourselves (not the node's wallet), for demos and stack tests.

Builds and signs a P2WPKH spend with python-bitcoinlib, and finds outputs by parsing raw
transaction hex (``getrawtransaction txid 0``), so it works the same on bitcoind and bcoin.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import bitcoin
from bitcoin.core import (
    CMutableTransaction,
    CMutableTxIn,
    CMutableTxOut,
    COutPoint,
    CTransaction,
    CTxInWitness,
    CTxWitness,
    Hash160,
    b2x,
    lx,
    x,
)
from bitcoin.core.script import (
    OP_0,
    OP_CHECKSIG,
    OP_DUP,
    OP_EQUALVERIFY,
    OP_HASH160,
    SIGHASH_ALL,
    SIGVERSION_WITNESS_V0,
    CScript,
    CScriptWitness,
    SignatureHash,
)
from bitcoin.wallet import CBitcoinAddress, CBitcoinSecret, P2WPKHBitcoinAddress

from etm_bridge.errors import ChainError
from etm_bridge.jsonrpc import JsonRpcClient

bitcoin.SelectParams("regtest")


@dataclass(frozen=True)
class Utxo:
    """An output we can spend: outpoint (txid in RPC byte order) and value."""

    txid: str
    vout: int
    value_sat: int


class OwnKey:
    """A secp256k1 key with its P2WPKH (bcrt1q...) address."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise ValueError(f"secret must be 32 bytes, got {len(secret)}")
        self.secret = CBitcoinSecret.from_secret_bytes(secret)
        self.pubkey = bytes(self.secret.pub)
        self.script_pubkey = CScript([OP_0, Hash160(self.pubkey)])
        self.address = str(P2WPKHBitcoinAddress.from_scriptPubKey(self.script_pubkey))

    @classmethod
    def from_label(cls, label: str) -> OwnKey:
        """A deterministic test key: sha256 of ``label`` (regtest only, never for real funds)."""
        return cls(hashlib.sha256(label.encode()).digest())

    def find_output(self, rpc: JsonRpcClient, txid: str) -> Utxo:
        """Our output in transaction ``txid`` (raw hex parsed locally)."""
        tx = CTransaction.deserialize(x(rpc.call("getrawtransaction", txid, 0)))
        for vout, out in enumerate(tx.vout):
            if out.scriptPubKey == self.script_pubkey:
                return Utxo(txid, vout, out.nValue)
        raise ChainError(f"transaction {txid} pays nothing to {self.address}")

    def spend(self, utxo: Utxo, to_address: str, fee_sat: int, *, lock_time: int = 0) -> str:
        """Raw hex of a transaction moving ``utxo`` minus ``fee_sat`` to ``to_address``."""
        if not 0 < fee_sat < utxo.value_sat:
            raise ValueError(f"fee_sat {fee_sat} must be positive and below {utxo.value_sat}")
        txin = CMutableTxIn(COutPoint(lx(utxo.txid), utxo.vout), nSequence=0xFFFFFFFE)
        out_script = CBitcoinAddress(to_address).to_scriptPubKey()
        tx = CMutableTransaction(
            [txin], [CMutableTxOut(utxo.value_sat - fee_sat, out_script)], nLockTime=lock_time
        )
        script_code = CScript(
            [OP_DUP, OP_HASH160, Hash160(self.pubkey), OP_EQUALVERIFY, OP_CHECKSIG]
        )
        sighash = SignatureHash(
            script_code, tx, 0, SIGHASH_ALL, amount=utxo.value_sat, sigversion=SIGVERSION_WITNESS_V0
        )
        signature = self.secret.sign(sighash) + bytes([SIGHASH_ALL])
        tx.wit = CTxWitness([CTxInWitness(CScriptWitness([signature, self.pubkey]))])
        return b2x(tx.serialize())
