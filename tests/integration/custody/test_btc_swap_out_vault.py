"""ETM -> BTC through a committee pool on a live chain (issue 14; design-14 sections 2.1, 2.3, 4.1
kind 1, 4.5 rows 209/204, 4.7 rule 3), on the session's regtest node (bcoin by default, Core with
$BITCOIND) and one ``etm-bridge node run`` process.

The genesis has a custody section with a ``btc`` pool and the SPV relay; four delegates register
(300), the round hook forms the 3-of-4 committee; an LP deposit (206, as in
``test_btc_lp_vault.py``) funds the vault. Then, through the node's API:

* the user (bound Bitcoin key) swaps ETM out (209): a ``counter_lock`` mandate opens for the
  swap's quote (net of the outbound fee estimate), the fee charged to the pool;
* a second swap-out while the vault's only output is reserved is refused
  ``insufficient_liquidity`` (the swap-out larger than what the vault can fund now);
* the test signs the mandate's digests with 3 of the 4 members' keys, assembles, and Bitcoin
  accepts it with exactly the mandate's txid, output 0 the counter HTLC v2 to the user's key;
  mined and relayed, tx 302 proves it (``in_htlc`` = the amount);
* the user finds the lock with the Bitcoin adapter (``watch_policy``, ``find_locks``) and claims
  it with the ordinary ``claim`` and the preimage; the ETM HTLC is then claimed with the
  now-public preimage (204): ``in_htlc`` cleared, the books exact;
* members lock the vault's change in the same kind of counter lock to an accomplice's key and
  present it as the mandate's spend (302): ``outcome_mismatch``, nothing recorded (their
  signatures over it are fraud, tx 304, ``test_btc_fraud_node.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from bitcoin.core import CTransaction
from btc_custody_node import (
    Sender,
    bind_btc,
    custody_chain,
    seat_committee,
    state_of,
    until,
)
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_regtest.bitcoin import BitcoinNode
from etm_bridge_regtest.etm_process import EtmNodeProcess
from test_btc_lp_vault import DEPOSIT, ETM_IN, INVESTOR_SECRET, PLUGINS, SECTION, _tx_proof

from etm_bridge.adapter import Payment
from etm_bridge.chain.address import address_hash
from etm_bridge.chain.keys import dev_key
from etm_bridge.chains.bitcoin.custody import build, ecdsa, scripts
from etm_bridge.chains.bitcoin.custody.spec import SPEC, BtcCustodyConfig, policy_of
from etm_bridge.chains.bitcoin.etm.verifier import DEPOSIT_TAG, BtcProof
from etm_bridge.custody import mandate_store, outcome, swap_out
from etm_bridge.custody import records as cr
from etm_bridge.custody.txtypes import OUTCOME
from etm_bridge.etm_client.header_feed import relay_missing_headers
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import records as xr
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.pool import Pool
from etm_bridge.spv.genesis_section import SpvSection

CFG = BtcCustodyConfig("regtest")
PREIMAGE = bytes([0x5A]) * 32
HASHLOCK = hashlib.sha256(PREIMAGE).digest()
SWAP_IN_ETM = 10**8
LEG_BLOCKS = 13 * 3600  # 1 s blocks: a 13 h ETM leg (>= the 6 h foreign leg + 6 h margin)

#: Swap-outs from committee pools are off unless the genesis opts into unsafe test behaviours
#: (a user can keep both legs until counter refunds exist: docs/custody.md section 3).
SWAP_OUTS_ON = {**SECTION, "unsafe_test_behaviours": True}


@pytest.fixture
def custody_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[EtmNodeProcess, Sender]]:
    spv = SpvSection(allow_dev_pools=True)
    with custody_chain(tmp_path / "etm", monkeypatch, SWAP_OUTS_ON, PLUGINS, spv) as running:
        yield running


def _adapter(bitcoin_node: BitcoinNode, home: Path, birth: int) -> BitcoinAdapter:
    return BitcoinAdapter.from_config({
        "rpc_url": bitcoin_node.rpc_url, "rpc_user": bitcoin_node.rpc_user,
        "rpc_password": bitcoin_node.rpc_password, "secret_hex": INVESTOR_SECRET.hex(),
        "data_dir": str(home), "network": "regtest", "birth_height": birth,
    })  # fmt: skip


def _books(view: object) -> tuple[int, int, cr.CustodyAccount, Pool]:
    utxos = [cr.decode(cr.CustodyUtxo, json.loads(v)) for _, v in view.scan(cr.UTXOS)]  # type: ignore[attr-defined]
    held = sum(u.amount for u in utxos if u.status in (cr.UtxoStatus.UNSPENT,
                                                       cr.UtxoStatus.RESERVED))  # fmt: skip
    raw = view.get_json(cr.ACCOUNTS, b"btc")  # type: ignore[attr-defined]
    acc = cr.CustodyAccount() if raw is None else cr.decode(cr.CustodyAccount, raw)
    pool = xr.decode(Pool, view.get_json(xr.POOLS, b"btc"))  # type: ignore[attr-defined]
    return (held + acc.in_htlc + acc.receivable, pool.asset_reserve + acc.owed + acc.pending_fees,
            acc, pool)  # fmt: skip


def test_a_user_swaps_etm_out_and_claims_the_committees_counter_lock_on_bitcoin(
    custody_node: tuple[EtmNodeProcess, Sender], bitcoin_node: BitcoinNode, tmp_path: Path
) -> None:
    node, s = custody_node
    relayer, user = dev_key("user-0"), dev_key("user-1")  # the user is also the pool's LP
    prover = dev_key("delegate-3")
    me20 = address_hash(user.public_key)
    c0, vault, by_key = seat_committee(node, s)

    key = bind_btc(s, user, INVESTOR_SECRET)

    # the LP deposit that funds the vault (one output)
    adapter = _adapter(bitcoin_node, tmp_path / "btc", bitcoin_node.height())
    try:
        bitcoin_node.fund(adapter.address(), 4 * DEPOSIT)
        tag = Payment(bytes([0x6A, 24]) + DEPOSIT_TAG + me20, 0)
        good = Payment(vault.destination, DEPOSIT)
        dep_txid = adapter.pay([good, tag])
        bitcoin_node.mine(1)
        relay_missing_headers(s.client, relayer, adapter, chain="btc")
        dep_proof = adapter.payment_proof(dep_txid, good)
    finally:
        adapter.close()
    body = BtcProof.from_adapter_proof(dep_proof, dep_proof.item).encode()
    s.send(user, tt.LP_DEPOSIT, pl.encode_payload(pl.LpDeposit("btc", ETM_IN, 1, body)))
    until(node, "the deposit recorded", lambda v: s.settled(v, user))

    # the swap-out (209): a counter lock mandate; a second one cannot be funded now
    height = int(s.client.status()["height"])
    out = pl.SwapOut("btc", SWAP_IN_ETM, HASHLOCK, height + LEG_BLOCKS, 1)
    sid = bytes.fromhex(s.send(user, tt.SWAP_OUT, pl.encode_payload(out)))
    until(node, "the swap-out", lambda v: s.settled(v, user))
    other = pl.SwapOut("btc", SWAP_IN_ETM, bytes(32), height + LEG_BLOCKS, 1)
    err = s.refused(user, tt.SWAP_OUT, pl.encode_payload(other))
    assert err.reason == "insufficient_liquidity" and "\n" not in str(err), err
    mid = swap_out.counter_lock_id("btc", sid)
    with state_of(node) as view:
        m = mandate_store.get_mandate(view, mid)
        swap = xr.decode(xr.PoolSwap, view.get_json(xr.SWAPS, sid))
        assets, liabilities, acc, pool = _books(view)
    assert m is not None and m.status is cr.MandateStatus.OPEN
    fee = m.revisions[0].fee
    amount = int(m.terms["amount"])
    assert (amount, m.terms["claim_key"], swap.user_key) == (swap.amount_out, key.hex(), key)
    assert (acc.pending_fees, assets) == (fee, liabilities)
    assert pool.asset_reserve == DEPOSIT - fee and pool.asset_reserved == amount

    # 3 of 4 members sign; Bitcoin accepts exactly the mandate's txid, output 0 the lock
    spend = m.revisions[0].spend
    plan = build.decode_plan(spend)
    signers = sorted(by_key)[1:]  # member 0 in key order offline
    shares = {k: tuple(ecdsa.sign(by_key[k], d) for d in SPEC.digests(spend)) for k in signers}
    signed = SPEC.assemble(spend, build.select_shares(plan, shares), {})
    birth = bitcoin_node.height()
    txid = bitcoin_node.rpc.call("sendrawtransaction", signed.hex())
    assert bytes.fromhex(txid)[::-1] == m.revisions[0].txid
    lock = scripts.CounterHtlc(HASHLOCK, key, policy_of(c0), int(m.terms["timelock"]))
    locked = CTransaction.deserialize(bytes.fromhex(bitcoin_node.rpc.call("getrawtransaction",
                                                                          txid, 0)))  # fmt: skip
    assert (bytes(locked.vout[0].scriptPubKey), locked.vout[0].nValue) == (
        scripts.p2wsh(lock.script), amount)  # fmt: skip
    bitcoin_node.mine(1)
    adapter = _adapter(bitcoin_node, tmp_path / "user", birth)
    try:
        relay_missing_headers(s.client, relayer, adapter, chain="btc")
        lock_proof = _tx_proof(adapter.transaction_proof(txid, bitcoin_node.height()))
        s.send(prover, OUTCOME, outcome.OutcomeProof("btc", mid, lock_proof.encode()).encode())
        until(node, "the counter lock proven", lambda v: (
            (p := mandate_store.get_mandate(v, mid)) is not None
            and p.status is cr.MandateStatus.PROVEN))  # fmt: skip
        with state_of(node) as view:
            assets, liabilities, acc, pool = _books(view)
        assert (acc.in_htlc, acc.pending_fees, assets) == (amount, 0, liabilities)

        # the user claims the lock on Bitcoin with the ordinary adapter claim
        adapter.watch_policy(vault.claim_key)
        (found,) = adapter.find_locks(HASHLOCK)
        assert (found.terms.claim_key, found.terms.refund_key) == (key, vault.claim_key)
        before = adapter.balance(None)
        adapter.claim(found, PREIMAGE)
        bitcoin_node.mine(1)
        assert 0 < adapter.balance(None) - before < amount
    finally:
        adapter.close()

    # the preimage is public: the ETM HTLC is claimed (204), in_htlc cleared, books exact
    s.send(prover, tt.HTLC_CLAIM, pl.encode_payload(pl.HtlcClaim(sid, PREIMAGE)))
    until(node, "the ETM claim", lambda v: s.settled(v, prover))
    with state_of(node) as view:
        assets, liabilities, acc, pool = _books(view)
        rec = view.get_json(cr.HTLCS, cr.ticker_key("btc", m.revisions[0].txid + bytes(4)))  # type: ignore[operator]
    assert (acc.in_htlc, acc.pending_fees, acc.owed, assets) == (0, 0, 0, liabilities)
    assert pool.asset_reserve == DEPOSIT - fee - amount == assets
    assert rec is not None and rec["status"] == "claimed"

    # attack: 3 members lock the vault's change to an accomplice's key, claim it is the mandate's
    change = m.revisions[0].txid + (2).to_bytes(4, "little")  # type: ignore[operator]
    with state_of(node) as view:
        change_utxo = mandate_store.get_utxo(view, "btc", change)
    assert change_utxo is not None and change_utxo.status is cr.UtxoStatus.UNSPENT
    evil_lock = scripts.CounterHtlc(HASHLOCK, ecdsa.pubkey(bytes([0x33]) * 32), policy_of(c0),
                                    int(m.terms["timelock"]))  # fmt: skip
    theft = build.pay_with_change(
        [build.vault_input(change, change_utxo.amount, policy_of(c0))],
        [build.PlannedOutput(scripts.p2wsh(evil_lock.script), amount),
         build.PlannedOutput(scripts.MarkerV2.of(evil_lock).script_pubkey(), 0)],
        vault.destination, 2)  # fmt: skip
    evil = {k: tuple(ecdsa.sign(by_key[k], d) for d in build.digests(theft)) for k in signers}
    raw = build.assemble(theft, build.select_shares(theft, evil))
    theft_txid = bitcoin_node.rpc.call("sendrawtransaction", raw.hex())
    bitcoin_node.mine(1)
    adapter = _adapter(bitcoin_node, tmp_path / "user", birth)
    try:
        relay_missing_headers(s.client, relayer, adapter, chain="btc")
        theft_proof = _tx_proof(adapter.transaction_proof(theft_txid, bitcoin_node.height()))
    finally:
        adapter.close()
    err = s.refused(
        prover, OUTCOME, outcome.OutcomeProof("btc", mid, theft_proof.encode()).encode()
    )
    assert err.reason == "outcome_mismatch" and "\n" not in str(err), err
    with state_of(node) as view:
        after = _books(view)[2]
        still = mandate_store.get_utxo(view, "btc", change)
    assert after == acc and still is not None and still.status is cr.UtxoStatus.UNSPENT
