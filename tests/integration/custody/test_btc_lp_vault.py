"""A committee pool takes and pays LP money on a live chain (issue 14; design-14 sections 1.1,
2.2, 4.1 kind 3, 4.7, 10.4), on the session's regtest node (bcoin by default, Core with
$BITCOIND) and one ``etm-bridge node run`` process.

The genesis has a custody section with a ``btc`` pool (operator ``"committee"``, no key) and
the SPV relay; four delegates register custody keys (tx 300) and the round hook forms the
3-of-4 committee. Then, through the node's API:

* an investor pays the committee's P2WSH vault with its ``ETMD`` tag and proves it (206): ETM
  records the vault output, equal to the Bitcoin output;
* it withdraws half its shares (207): an ``lp_withdraw`` mandate opens; the test signs its
  digests with 3 of the 4 members' keys (the members' keys are the test's), assembles, and the
  Bitcoin node accepts it with exactly the mandate's txid; mined and relayed, tx 302 proves it:
  the investor's key got ``asset_out - fee``, the change is a vault output, and the books
  balance exactly;
* attacks, one reason each: a deposit paying the investor's own key instead of the vault
  (``wrong_destination``); a second withdrawal while the vault's only output is reserved
  (``queued``, nothing reserved twice; once the first's change is proven, a round close funds
  it over that change and Bitcoin accepts its signed spend); the 302 replayed
  (``outcome_replayed``); a 302 of another transaction (the deposit: ``outcome_mismatch``);
  the deposit's proof submitted again (``deposit_replayed``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from bitcoin.core import CTransaction
from btc_custody_node import (
    DOMAIN,
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

from etm_bridge.adapter import Payment
from etm_bridge.chain.address import address_hash
from etm_bridge.chain.keys import dev_key
from etm_bridge.chains.bitcoin.custody import build, ecdsa, scripts
from etm_bridge.chains.bitcoin.custody.spec import SPEC, BtcCustodyConfig
from etm_bridge.chains.bitcoin.etm.verifier import DEPOSIT_TAG, BtcProof
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof
from etm_bridge.custody import mandate_store, mandates, outcome
from etm_bridge.custody import records as cr
from etm_bridge.custody.txtypes import OUTCOME
from etm_bridge.etm_client.header_feed import relay_missing_headers
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import records as xr
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.pool import Pool
from etm_bridge.observations import InclusionProof
from etm_bridge.spv.genesis_section import SpvSection

PLUGINS = ("etm_bridge.node.spv_plugin", "etm_bridge.custody.txtypes",
           "etm_bridge.exchange.txtypes")  # fmt: skip
SECTION = {
    "domain": DOMAIN.hex(), "chains": ["btc"], "min_bond": 1_000, "min_committee": 3,
    "btc": {"network": "regtest"}, "pools": [{"asset": "btc", "min_confirmations": 1}],
}  # fmt: skip
CFG = BtcCustodyConfig("regtest")
DEPOSIT = 150_000
ETM_IN = 10**8
INVESTOR_SECRET = bytes([0x71]) * 32


@pytest.fixture
def custody_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[EtmNodeProcess, Sender]]:
    spv = SpvSection(allow_dev_pools=True)
    with custody_chain(tmp_path / "etm", monkeypatch, SECTION, PLUGINS, spv) as running:
        yield running


def _adapter(bitcoin_node: BitcoinNode, home: Path) -> BitcoinAdapter:
    return BitcoinAdapter.from_config({
        "rpc_url": bitcoin_node.rpc_url, "rpc_user": bitcoin_node.rpc_user,
        "rpc_password": bitcoin_node.rpc_password, "secret_hex": INVESTOR_SECRET.hex(),
        "data_dir": str(home), "network": "regtest",
        "birth_height": bitcoin_node.height(),
    })  # fmt: skip


def _tx_proof(proof: InclusionProof) -> BitcoinTxProof:
    assert proof.tx_count is not None
    return BitcoinTxProof(proof.leaf, dsha256(proof.header), proof.index, proof.tx_count,
                          tuple(proof.branch))  # fmt: skip


def test_an_investor_deposits_into_the_vault_and_the_committee_pays_the_withdrawal(
    custody_node: tuple[EtmNodeProcess, Sender], bitcoin_node: BitcoinNode, tmp_path: Path
) -> None:
    node, s = custody_node
    relayer, investor = dev_key("user-0"), dev_key("user-1")  # relayer: the header feed's
    prover = dev_key("delegate-3")  # anyone may prove an outcome (its nonces are this Sender's)
    me20 = address_hash(investor.public_key)
    c0, vault, by_key = seat_committee(node, s)
    with state_of(node) as view:
        pool0 = xr.decode(Pool, view.get_json(xr.POOLS, b"btc"))
    assert (c0.m, c0.n, pool0.params.operator, pool0.params.claim_key) == (3, 4, "committee", b"")

    # the investor binds its Bitcoin key (the payee of its withdrawals)
    key = bind_btc(s, investor, INVESTOR_SECRET)

    # two tagged payments: one to the vault, one to the investor's own key (an operator-style
    # destination), both proven
    adapter = _adapter(bitcoin_node, tmp_path / "btc")
    try:
        bitcoin_node.fund(adapter.address(), 10 * DEPOSIT)
        tag = Payment(bytes([0x6A, 24]) + DEPOSIT_TAG + me20, 0)
        good = Payment(vault.destination, DEPOSIT)
        good_txid = adapter.pay([good, tag])
        bitcoin_node.mine(1)
        good_height = bitcoin_node.height()
        bad = Payment(scripts.p2wpkh(key), 20_000)
        bad_txid = adapter.pay([bad, tag])
        bitcoin_node.mine(1)
        relay_missing_headers(s.client, relayer, adapter, chain="btc")
        good_proof = adapter.payment_proof(good_txid, good)
        bad_proof = adapter.payment_proof(bad_txid, bad)
    finally:
        adapter.close()

    def deposit(proof: InclusionProof) -> bytes:
        body = BtcProof.from_adapter_proof(proof, proof.item).encode()
        return pl.encode_payload(pl.LpDeposit("btc", ETM_IN, 1, body))

    err = s.refused(investor, tt.LP_DEPOSIT, deposit(bad_proof))
    assert err.reason == "wrong_destination" and "\n" not in str(err), err
    s.send(investor, tt.LP_DEPOSIT, deposit(good_proof))
    outpoint = bytes.fromhex(good_txid)[::-1] + int(good_proof.item).to_bytes(4, "little")
    until(node, "the deposit recorded", lambda v: s.settled(v, investor))
    with state_of(node) as view:
        utxo = mandate_store.get_utxo(view, "btc", outpoint)
        shares = view.get_u64(xr.SHARES, xr.share_key("btc", me20))
    raw = bytes.fromhex(bitcoin_node.rpc.call("getrawtransaction", good_txid, 0))
    on_btc = CTransaction.deserialize(raw).vout[good_proof.item]
    assert utxo is not None and (utxo.amount, utxo.epoch, utxo.status) == (
        on_btc.nValue, 0, cr.UtxoStatus.UNSPENT)  # fmt: skip
    assert bytes(on_btc.scriptPubKey) == vault.destination and shares > 0
    err = s.refused(investor, tt.LP_DEPOSIT, deposit(good_proof))
    assert err.reason == "deposit_replayed", err

    # withdraw half the shares: an lp_withdraw mandate; a second withdrawal waits (queued)
    first = s.send(investor, tt.LP_WITHDRAW, pl.encode_payload(pl.LpWithdraw("btc", shares // 2)))
    second = s.send(investor, tt.LP_WITHDRAW, pl.encode_payload(pl.LpWithdraw("btc", shares // 4)))
    mid = mandates.mandate_id(cr.MandateKind.LP_WITHDRAW, "btc", bytes.fromhex(first))
    queued_id = mandates.mandate_id(cr.MandateKind.LP_WITHDRAW, "btc", bytes.fromhex(second))
    until(node, "both withdrawals", lambda v: s.settled(v, investor))
    with state_of(node) as view:
        m = mandate_store.get_mandate(view, mid)
        queued = mandate_store.get_mandate(view, queued_id)
    assert m is not None and m.status is cr.MandateStatus.OPEN
    assert queued is not None and (queued.status, queued.revisions) == (cr.MandateStatus.QUEUED, ())
    asset_out, fee = int(m.terms["amount"]), int(m.terms["payout_fee"])
    assert 0 < asset_out <= DEPOSIT // 2 and m.terms["claim_key"] == key.hex()  # pool math

    # 3 of the 4 members sign its digests; assembled, Bitcoin accepts exactly that txid
    spend = m.revisions[0].spend
    plan = build.decode_plan(spend)
    signers = sorted(by_key)[1:]  # member 0 in key order offline
    shares_by_key = {k: tuple(ecdsa.sign(by_key[k], d) for d in SPEC.digests(spend))
                     for k in signers}  # fmt: skip
    signed = SPEC.assemble(spend, build.select_shares(plan, shares_by_key), {})
    txid = bitcoin_node.rpc.call("sendrawtransaction", signed.hex())
    assert bytes.fromhex(txid)[::-1] == m.revisions[0].txid
    bitcoin_node.mine(1)
    adapter = _adapter(bitcoin_node, tmp_path / "btc")
    try:
        relay_missing_headers(s.client, relayer, adapter, chain="btc")
        block = bitcoin_node.height()
        out_proof = _tx_proof(adapter.transaction_proof(txid, block))
        dep_proof = _tx_proof(adapter.transaction_proof(good_txid, good_height))
    finally:
        adapter.close()

    def outcome_tx(mandate_id: bytes, proof: BitcoinTxProof) -> bytes:
        return outcome.OutcomeProof("btc", mandate_id, proof.encode()).encode()

    err = s.refused(prover, OUTCOME, outcome_tx(mid, dep_proof))
    assert err.reason == "outcome_mismatch", err  # another transaction
    s.send(prover, OUTCOME, outcome_tx(mid, out_proof))
    until(node, "the mandate proven", lambda v: (
        (p := mandate_store.get_mandate(v, mid)) is not None
        and p.status is cr.MandateStatus.PROVEN))  # fmt: skip
    err = s.refused(prover, OUTCOME, outcome_tx(mid, out_proof))
    assert err.reason == "outcome_replayed", err

    paid = CTransaction.deserialize(
        bytes.fromhex(bitcoin_node.rpc.call("getrawtransaction", txid, 0))
    )
    assert (bytes(paid.vout[0].scriptPubKey), paid.vout[0].nValue) == (scripts.p2wpkh(key),
                                                                       asset_out - fee)  # fmt: skip
    with state_of(node) as view:
        utxos = [cr.decode(cr.CustodyUtxo, json.loads(v)) for _, v in view.scan(cr.UTXOS)]
        pool = xr.decode(Pool, view.get_json(xr.POOLS, b"btc"))
        acc = cr.decode(cr.CustodyAccount, view.get_json(cr.ACCOUNTS, b"btc"))
    by_ref = {u.outpoint: u for u in utxos}
    assert by_ref[outpoint].status is cr.UtxoStatus.SPENT
    change_ref = m.revisions[0].txid + (2).to_bytes(4, "little")  # type: ignore[operator]
    change = by_ref[change_ref]
    assert change.amount == DEPOSIT - asset_out  # unspent, or already the queued one's input
    held = sum(u.amount for u in utxos if u.status in (cr.UtxoStatus.UNSPENT,
                                                       cr.UtxoStatus.RESERVED))  # fmt: skip
    queued_out = int(queued.terms["amount"])
    assert acc.owed == queued_out  # the queued withdrawal is still owed
    assert held + acc.in_htlc + acc.receivable == pool.asset_reserve + acc.owed + acc.pending_fees
    assert held == DEPOSIT - asset_out

    # the change proven, the next round close funds the queued withdrawal over it (strict
    # FIFO, the 207's own selection), the books unmoved; Bitcoin accepts its signed spend
    until(node, "the queued withdrawal funded", lambda v: (
        (q := mandate_store.get_mandate(v, queued_id)) is not None
        and q.status is cr.MandateStatus.OPEN))  # fmt: skip
    with state_of(node) as view:
        funded = mandate_store.get_mandate(view, queued_id)
        change = mandate_store.get_utxo(view, "btc", change_ref)  # type: ignore[assignment]
        after = cr.decode(cr.CustodyAccount, view.get_json(cr.ACCOUNTS, b"btc"))
        left = list(view.scan(cr.QUEUE))
    assert funded is not None and change is not None and left == []
    assert (change.status, change.mandate) == (cr.UtxoStatus.RESERVED, queued_id)
    assert after == acc and funded.sign_until_s > 0
    spend = funded.revisions[0].spend
    plan = build.decode_plan(spend)
    assert [i.outpoint for i in plan.inputs] == [change_ref]
    assert plan.outputs[0] == build.PlannedOutput(
        scripts.p2wpkh(key), queued_out - int(funded.terms["payout_fee"])
    )
    shares_by_key = {k: tuple(ecdsa.sign(by_key[k], d) for d in SPEC.digests(spend))
                     for k in signers}  # fmt: skip
    signed = SPEC.assemble(spend, build.select_shares(plan, shares_by_key), {})
    second_txid = bitcoin_node.rpc.call("sendrawtransaction", signed.hex())
    assert bytes.fromhex(second_txid)[::-1] == funded.revisions[0].txid
