"""Both swap directions and an investor's round trip, with real Bitcoin regtest.

Bitcoin side: the session's regtest node (bcoin, or bitcoind when installed), the Bitcoin
adapter for the HTLC legs, python-bitcoinlib for the tagged deposit and obligation payment.
ETM side: the exchange transaction types on a chain ``State`` (the same check/apply path a
node runs), with the Bitcoin proofs verified by ``BtcVerifier`` against a real header relay
fed with the node's headers from regtest genesis.

1. an investor deposits BTC (tagged with their ETM address) and ETM, and gets shares;
2. BTC -> ETM: alice locks BTC to the pool key, anyone submits the proof, alice claims ETM
   with the preimage, the operator claims the BTC with the preimage ETM recorded;
3. ETM -> BTC: alice locks ETM, the operator locks BTC to her bound key, alice claims it on
   Bitcoin, the operator finds the preimage there and moves the ETM into the pool;
4. the investor withdraws: ETM at once, BTC as an obligation the operator pays and proves.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from bitcoin.core import (
    CBlock,
    CMutableTransaction,
    CMutableTxIn,
    CMutableTxOut,
    COutPoint,
    CScript,
    CTransaction,
    CTxInWitness,
    CTxWitness,
    Hash160,
    lx,
    x,
)
from bitcoin.core.script import (
    OP_CHECKSIG,
    OP_DUP,
    OP_EQUALVERIFY,
    OP_HASH160,
    OP_RETURN,
    SIGHASH_ALL,
    SIGVERSION_WITNESS_V0,
    CScriptWitness,
    SignatureHash,
)
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_regtest.ownkey import OwnKey

from etm_bridge.adapter import HtlcTerms
from etm_bridge.chains.bitcoin.binding import btc_pubkey_of, sign_btc
from etm_bridge.chains.bitcoin.etm import verifier as bp
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof
from etm_bridge.chains.bitcoin.spv.params import REGTEST
from etm_bridge.errors import TxRejectedError
from etm_bridge.exchange import binding as bd
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans, swap_plans, views
from etm_bridge.exchange import swap_rules as sr
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.obligations import ObligationStatus
from etm_bridge.exchange.pool import PoolDirection, quote
from etm_bridge.hashlock import hashlock_of
from etm_bridge.spv.kvstore import MemoryKeyValueStore
from etm_bridge.testing.preimages import new_preimage

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "exchange"))
from exchange_harness import Ledger

POOL_BTC = 2_000_000  # 0.02 BTC
POOL_ETM = 10**12  # 10,000 ETM


class Relay:
    """The ETM chain's Bitcoin header relay, fed from the node."""

    def __init__(self, adapter: BitcoinAdapter) -> None:
        self.adapter = adapter
        self.relay = BitcoinRelay.initialise(
            MemoryKeyValueStore(), REGTEST, Checkpoint.genesis(REGTEST)
        )

    def sync(self) -> None:
        start, tip = self.relay.tip().height + 1, self.adapter.tip().height
        while start <= tip:
            batch = self.adapter.headers(start, min(500, tip - start + 1))
            self.relay.submit_headers(batch, int(time.time()))
            start += len(batch)


def make_adapter(node: Any, tmp: Path, name: str) -> tuple[BitcoinAdapter, bytes]:
    secret = secrets.token_bytes(32)
    config = {
        "rpc_url": node.rpc_url,
        "rpc_user": node.rpc_user,
        "rpc_password": node.rpc_password,
        "secret_hex": secret.hex(),
        "data_dir": str(tmp / name),
        "network": "regtest",
        "birth_height": node.height(),
    }
    adapter = BitcoinAdapter.from_config(config)
    node.fund(adapter.address(), 3_000_000, confirm=False)
    return adapter, secret


def tagged_payment(node: Any, payer: OwnKey, pay_to: bytes, tag: bytes, amount: int) -> str:
    """Fund ``payer`` and pay ``amount`` from it to ``pay_to`` with an OP_RETURN ``tag``."""
    txid = node.fund(payer.address, amount + 1_000)
    utxo = payer.find_output(node.rpc, txid)
    tx = CMutableTransaction(
        [CMutableTxIn(COutPoint(lx(utxo.txid), utxo.vout), nSequence=0xFFFFFFFE)],
        [
            CMutableTxOut(utxo.value_sat - 1_000, CScript(pay_to)),
            CMutableTxOut(0, CScript([OP_RETURN, tag])),
        ],
    )
    code = CScript([OP_DUP, OP_HASH160, Hash160(payer.pubkey), OP_EQUALVERIFY, OP_CHECKSIG])
    digest = SignatureHash(
        code, tx, 0, SIGHASH_ALL, amount=utxo.value_sat, sigversion=SIGVERSION_WITNESS_V0
    )
    sig = payer.secret.sign(digest) + bytes([SIGHASH_ALL])
    tx.wit = CTxWitness([CTxInWitness(CScriptWitness([sig, payer.pubkey]))])
    return str(node.rpc.call("sendrawtransaction", tx.serialize().hex()))


def prove(node: Any, relay: Relay, txid: str, vout: int, depth: int = 2) -> bytes:
    """Mine ``txid`` in, bury it ``depth`` deep, relay the headers, return the BtcProof."""
    block_hash = node.mine(1)[0]
    node.mine(depth - 1)
    relay.sync()
    block = CBlock.deserialize(x(node.rpc.call("getblock", block_hash, 0)))
    index = [tx.GetTxid()[::-1].hex() for tx in block.vtx].index(txid)
    tx = block.vtx[index]
    stripped = CTransaction(tx.vin, tx.vout, tx.nLockTime, tx.nVersion).serialize()
    merkle = x(node.rpc.call("gettxoutproof", [txid], block_hash))
    return bp.BtcProof(BitcoinTxProof.from_txoutproof(stripped, merkle, index), vout).encode()


def bind(led: Ledger, who: str, secret: bytes) -> None:
    network = plans.network_name(led.ctx())
    msg = bd.binding_message(network, led.address(who), "btc", 1, led.height + 100)
    key = btc_pubkey_of(secret)
    proof = pl.Bind("btc", key, 1, led.height + 100, sign_btc(msg, secret), False)
    led.send(who, tt.BIND, proof)


@pytest.fixture
def world(bitcoin_node: Any, tmp_path: Path) -> Any:
    operator, op_secret = make_adapter(bitcoin_node, tmp_path, "operator")
    alice, alice_secret = make_adapter(bitcoin_node, tmp_path, "alice")
    bitcoin_node.mine(1)
    relay = Relay(operator)
    relay.sync()
    verifier = tt.ChainVerifiers({"btc": bp.BtcVerifier(lambda view: relay.relay)})
    led = Ledger(verifier=verifier)
    led.send("operator", tt.POOL_CREATE, pl.PoolCreate("btc", operator.our_key(), 3_000, 50, 2))
    bind(led, "operator", op_secret)
    bind(led, "alice", alice_secret)
    bind(led, "bob", hashlib.sha256(b"bob-investor").digest())  # OwnKey.from_label's secret
    yield bitcoin_node, relay, led, operator, alice
    operator.close()
    alice.close()


def send_rejected(reason: str, call: Any) -> None:
    with pytest.raises(TxRejectedError) as exc:
        call()
    assert exc.value.reason == reason, exc.value


def test_investor_and_both_swap_directions_on_bitcoin_regtest(world: Any) -> None:
    node, relay, led, operator, alice = world
    bob_btc = OwnKey.from_label("bob-investor")

    # 1. bob invests 0.01 BTC, naming his ETM address in the payment, and the matching ETM
    deposit = pl.LpDeposit("btc", POOL_ETM, 1, b"")
    tag = bp.DEPOSIT_TAG + led.addr20("bob")
    txid = tagged_payment(node, bob_btc, bp.p2wpkh(operator.our_key()), tag, 1_000_000)
    deposit = pl.LpDeposit("btc", POOL_ETM, 1, prove(node, relay, txid, 0))
    send_rejected("deposit_not_owner", lambda: led.send("operator", tt.LP_DEPOSIT, deposit))
    led.send("bob", tt.LP_DEPOSIT, deposit)
    send_rejected("deposit_replayed", lambda: led.send("bob", tt.LP_DEPOSIT, deposit))
    assert (led.pool().asset_reserve, led.pool().etm_reserve) == (1_000_000, POOL_ETM)
    shares = led.shares("bob")

    # 2. BTC -> ETM
    preimage = new_preimage()
    h = hashlock_of(preimage)
    terms = HtlcTerms(100_000, h, operator.our_key(), alice.our_key(), alice.tip().height + 73)
    lock = alice.lock(terms)
    node.mine(2)
    relay.sync()
    script = bp.htlc_witness_script(h, operator.our_key(), alice.our_key(), terms.timelock_height)
    vout = int(lock.lock_id.split(":")[1])
    proof = bp.BtcProof.from_adapter_proof(alice.inclusion_proof(lock.lock_id), vout, script)
    out = quote(led.pool(), PoolDirection.ASSET_TO_ETM, 100_000).amount_out
    swap_in = pl.SwapIn("btc", led.address("alice"), 100_000, h, out, proof.encode())
    # alice pins her terms once; then anyone may submit the proof for her (here carol)
    led.send("alice", tt.SWAP_INTENT, pl.SwapIntentPayload("btc", h, 100_000, out))
    led.send("carol", tt.SWAP_IN, swap_in)
    send_rejected("replayed_proof", lambda: led.send("carol", tt.SWAP_IN, swap_in))
    [opened] = views.open_swaps(led.state)
    htlc_id = bytes.fromhex(opened["htlc_id"])
    assert htlc_id == swap_plans.swap_in_htlc_id("btc", lx(lock.txid) + vout.to_bytes(4, "big"))
    before = led.balance("alice")
    led.send("alice", tt.HTLC_CLAIM, pl.HtlcClaim(htlc_id, preimage))
    assert led.balance("alice") == before + out
    [op_view] = operator.find_locks(h)
    operator.claim(op_view, led.htlc(htlc_id).preimage)  # the preimage ETM recorded
    node.mine(1)
    assert operator.find_spend(op_view) is not None

    # 3. ETM -> BTC
    preimage2 = new_preimage()
    h2 = hashlock_of(preimage2)
    expiry = led.height + sr.LONG_LEG_S // led.params.block_time_s
    out2 = quote(led.pool(), PoolDirection.ETM_TO_ASSET, 10**10).amount_out
    led.send("alice", tt.SWAP_OUT, pl.SwapOut("btc", 10**10, h2, expiry, out2))
    [opened] = views.open_swaps(led.state)
    assert (opened["user_key"], opened["amount_out"]) == (alice.our_key().hex(), out2)
    counter = HtlcTerms(out2, h2, alice.our_key(), operator.our_key(), operator.tip().height + 36)
    operator.lock(counter)
    node.mine(1)
    [alice_view] = alice.find_locks(h2)
    alice.claim(alice_view, preimage2)
    node.mine(1)
    [op_view2] = operator.find_locks(h2)
    revealed = operator.find_preimage(op_view2)
    assert revealed == preimage2
    pool = led.pool()
    led.send("operator", tt.HTLC_CLAIM, pl.HtlcClaim(bytes.fromhex(opened["htlc_id"]), revealed))
    after = led.pool()
    assert after.etm_reserve == pool.etm_reserve + 10**10
    assert after.asset_reserve == pool.asset_reserve - out2
    assert after.fees_asset > 0 and after.fees_etm > 0

    # 4. bob withdraws everything in two burns: ETM now, BTC as two obligations the operator
    # pays with ONE output (its OP_RETURN lists both ids, issue 11) and proves once
    [position] = views.positions(led.state, led.addr20("bob"))
    assert position["fees_earned_asset"] > 0 and position["fees_earned_etm"] > 0
    bob_etm = led.balance("bob")
    led.send("bob", tt.LP_WITHDRAW, pl.LpWithdraw("btc", shares // 2))
    led.send("bob", tt.LP_WITHDRAW, pl.LpWithdraw("btc", shares - shares // 2))
    assert position["value_etm"] - 1 <= led.balance("bob") - bob_etm <= position["value_etm"]
    obs = [plans.get_obligation(led.state, i) for i in (0, 1)]
    owed = sum(ob.amount for ob in obs)
    assert position["value_asset"] - 1 <= owed <= position["value_asset"]
    assert {ob.destination for ob in obs} == {bob_btc.pubkey}
    payer = OwnKey.from_label("operator-payouts")
    ref = bp.payment_tag([0, 1])
    txid = tagged_payment(node, payer, bp.p2wpkh(bob_btc.pubkey), ref, owed)
    led.send("carol", tt.OBLIGATION_PAID, pl.ObligationPaid(0, prove(node, relay, txid, 0)))
    paid = [plans.get_obligation(led.state, i).status for i in (0, 1)]
    assert paid == [ObligationStatus.PAID, ObligationStatus.PAID]
    led.check_money()
