"""BTC -> ETM through a committee pool (issue 14; design-14 sections 2.1, 4.1 kind 2, 4.3, 4.5 rows
208/204, 4.7 rule 4), on the session's regtest node (bcoin by default, Core with $BITCOIND) and
one ``etm-bridge node run`` process.

Genesis custody chain with a ``btc`` pool, four delegates register (300), 3-of-4 committee; an
investor funds the pool by an LP deposit to the vault (206, as test_btc_lp_vault.py). Then a
user locks BTC with the Bitcoin adapter to the committee's key policy (swap-in HTLC v2), proves
it (208) and claims the pool's ETM HTLC (204): a ``claim_swap_in`` mandate opens with the
preimage; the test signs it 3 of 4 (member 0 offline), assembles with the preimage, and Bitcoin
accepts exactly the mandate's txid; tx 302 proves it: the vault holds the new output, the
receivable is cleared, the books balance exactly, the user has its ETM.

Attacks, each refused or booked: a lock to another committee's policy and a v1 lock to an
operator-style single key (``wrong_claim_key``); a second swap-in whose user refunds the lock
after taking the ETM: the committee's claim of the refunded lock is refused by Bitcoin, and a
302 of the user's refund voids the claim mandate and shows the loss (the shortfall is exactly
the lock's value).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from btc_custody_node import (
    Sender,
    bind_btc,
    custody_chain,
    seat_committee,
    state_of,
    until,
)
from etm_bridge_regtest.bitcoin import BitcoinNode
from etm_bridge_regtest.etm_process import EtmNodeProcess
from test_btc_lp_vault import INVESTOR_SECRET, PLUGINS, SECTION, _adapter, _tx_proof

from etm_bridge.adapter import Payment
from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.state import StateView
from etm_bridge.chains.bitcoin.custody import build, ecdsa, scripts
from etm_bridge.chains.bitcoin.custody.spec import SPEC
from etm_bridge.chains.bitcoin.etm.verifier import DEPOSIT_TAG, BtcProof, lock_proof
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof
from etm_bridge.custody import mandate_store, mandates, outcome, swap_in
from etm_bridge.custody import records as cr
from etm_bridge.custody.txtypes import OUTCOME
from etm_bridge.errors import RPCError
from etm_bridge.etm_client.header_feed import relay_missing_headers
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import records as xr
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.pool import Pool
from etm_bridge.exchange.swap_plans import swap_in_htlc_id
from etm_bridge.hashlock import hashlock_of
from etm_bridge.observations import HtlcLock, HtlcTerms
from etm_bridge.spv.genesis_section import SpvSection

DEPOSIT = 150_000
ETM_IN = 10**8
AMOUNT = 60_000
LEG_BLOCKS = 73  # the lock's timelock: tip + 73 (the ETM leg needs > 7 h of it)


@pytest.fixture
def custody_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[EtmNodeProcess, Sender]]:
    spv = SpvSection(allow_dev_pools=True)
    with custody_chain(tmp_path / "etm", monkeypatch, SECTION, PLUGINS, spv) as running:
        yield running


def _lock_id(lock: HtlcLock) -> bytes:
    txid, vout = lock.lock_id.split(":")[:2]
    return bytes.fromhex(txid)[::-1] + int(vout).to_bytes(4, "big")


def _books(view: StateView) -> tuple[int, int]:
    """(assets, liabilities) of the btc pool: held + in_htlc + receivable, reserve + owed +
    pending_fees."""
    utxos = [cr.decode(cr.CustodyUtxo, json.loads(v)) for _, v in view.scan(cr.UTXOS)]
    held = sum(u.amount for u in utxos if u.status in (cr.UtxoStatus.UNSPENT,
                                                       cr.UtxoStatus.RESERVED))  # fmt: skip
    pool = xr.decode(Pool, view.get_json(xr.POOLS, b"btc"))
    acc = cr.decode(cr.CustodyAccount, view.get_json(cr.ACCOUNTS, b"btc"))
    return held + acc.in_htlc + acc.receivable, pool.asset_reserve + acc.owed + acc.pending_fees


def test_a_user_swaps_btc_in_and_the_committee_claims_the_lock_into_the_vault(
    custody_node: tuple[EtmNodeProcess, Sender], bitcoin_node: BitcoinNode, tmp_path: Path
) -> None:
    node, s = custody_node
    relayer, user = dev_key("user-0"), dev_key("user-1")  # user: investor and swapper
    prover = dev_key("delegate-3")
    me20 = address_hash(user.public_key)
    _, vault, by_key = seat_committee(node, s)
    policy = vault.claim_key
    stranger = scripts.KeyPolicy(3, tuple(sorted(ecdsa.pubkey(bytes([0x90 + i]) * 32)
                                                 for i in range(4)))).encode()  # fmt: skip

    bind_btc(s, user, INVESTOR_SECRET)

    adapter = _adapter(bitcoin_node, tmp_path / "btc")
    try:
        bitcoin_node.fund(adapter.address(), 10 * DEPOSIT)
        bitcoin_node.mine(1)
        tag = Payment(bytes([0x6A, 24]) + DEPOSIT_TAG + me20, 0)
        good = Payment(vault.destination, DEPOSIT)
        dep_txid = adapter.pay([good, tag])
        bitcoin_node.mine(1)
        relay_missing_headers(s.client, relayer, adapter, chain="btc")
        paid = adapter.payment_proof(dep_txid, good)
        dep = BtcProof.from_adapter_proof(paid, paid.item)
        s.send(user, tt.LP_DEPOSIT, pl.encode_payload(pl.LpDeposit("btc", ETM_IN, 1, dep.encode())))
        until(node, "the deposit recorded", lambda v: s.settled(v, user))

        # four locks in one block: A and B to the committee's policy, C to another committee's
        # policy, D a v1 lock to an operator-style single key
        pre = {n: bytes([0x30 + i]) * 32 for i, n in enumerate("ABCD")}
        tip = bitcoin_node.height()
        me = adapter.our_key()
        claim_keys = {"A": policy, "B": policy, "C": stranger, "D": ecdsa.pubkey(b"\x66" * 32)}
        locks = {n: adapter.lock(HtlcTerms(AMOUNT, hashlock_of(pre[n]), claim_keys[n], me,
                                           tip + LEG_BLOCKS)) for n in "ABCD"}  # fmt: skip
        bitcoin_node.mine(1)
        relay_missing_headers(s.client, relayer, adapter, chain="btc")
        proofs = {n: lock_proof(lk, adapter.inclusion_proof(lk.lock_id)) for n, lk in locks.items()}
    finally:
        adapter.close()

    def swap(n: str) -> bytes:
        return pl.encode_payload(pl.SwapIn("btc", encode_address(me20), AMOUNT,
                                           hashlock_of(pre[n]), 1, proofs[n]))  # fmt: skip

    for n in "CD":
        err = s.refused(user, tt.SWAP_IN, swap(n))
        assert err.reason == "wrong_claim_key" and "\n" not in str(err), (n, err)
    s.send(user, tt.SWAP_IN, swap("A"))
    s.send(user, tt.SWAP_IN, swap("B"))
    until(node, "two swap-ins proven", lambda v: s.settled(v, user))
    htlc = {n: swap_in_htlc_id("btc", _lock_id(locks[n])) for n in "AB"}
    with state_of(node) as view:
        recorded = swap_in.get_lock(view, "btc", _lock_id(locks["A"]))
        before = view.account(me20).balance
        out_a = xr.decode(xr.PoolSwap, view.get_json(xr.SWAPS, htlc["A"])).amount_out
    assert recorded is not None and (recorded.status, recorded.epoch) == (swap_in.LOCKED, 0)

    # the user claims both ETM HTLCs (the swaps settle): a claim_swap_in mandate each
    for n in "AB":
        s.send(user, tt.HTLC_CLAIM, pl.encode_payload(pl.HtlcClaim(htlc[n], pre[n])))
    until(node, "both swaps settled", lambda v: s.settled(v, user))
    mid = {n: mandates.mandate_id(cr.MandateKind.CLAIM_SWAP_IN, "btc", htlc[n]) for n in "AB"}
    with state_of(node) as view:
        m = {n: mandate_store.get_mandate(view, mid[n]) for n in "AB"}
        after = view.account(me20).balance
        acc = cr.decode(cr.CustodyAccount, view.get_json(cr.ACCOUNTS, b"btc"))
        assets, liabilities = _books(view)
    assert after > before and out_a > 0  # the user got its ETM (less its tx fees)
    for n in "AB":
        mn = m[n]
        assert mn is not None and mn.status is cr.MandateStatus.OPEN, n
        assert mn.terms["preimage"] == pre[n].hex()
    ma, mb = m["A"], m["B"]
    assert ma is not None and mb is not None
    fee_a, fee_b = ma.revisions[0].fee, mb.revisions[0].fee
    assert (acc.receivable, acc.pending_fees) == (2 * AMOUNT, fee_a + fee_b)
    assert assets == liabilities == DEPOSIT + 2 * AMOUNT

    # 3 of 4 members sign A's claim; assembled with the preimage, Bitcoin takes exactly its txid
    def signed(mn: cr.Mandate, preimage: bytes) -> bytes:
        spend = mn.revisions[0].spend
        signers = sorted(by_key)[1:]  # member 0 in key order offline
        shares = {k: tuple(ecdsa.sign(by_key[k], d) for d in SPEC.digests(spend))
                  for k in signers}  # fmt: skip
        plan = build.decode_plan(spend)
        return SPEC.assemble(spend, build.select_shares(plan, shares), {"preimage": preimage})

    txid = bitcoin_node.rpc.call("sendrawtransaction", signed(ma, pre["A"]).hex())
    assert bytes.fromhex(txid)[::-1] == ma.revisions[0].txid
    bitcoin_node.mine(1)
    adapter = _adapter(bitcoin_node, tmp_path / "btc")
    try:
        relay_missing_headers(s.client, relayer, adapter, chain="btc")
        claim_proof = _tx_proof(adapter.transaction_proof(txid, bitcoin_node.height()))
    finally:
        adapter.close()

    def outcome_tx(mandate_id: bytes, proof: BitcoinTxProof) -> bytes:
        return outcome.OutcomeProof("btc", mandate_id, proof.encode()).encode()

    err = s.refused(prover, OUTCOME, outcome_tx(mid["B"], claim_proof))
    assert err.reason == "outcome_mismatch", err  # A's claim is no spend of B's lock
    s.send(prover, OUTCOME, outcome_tx(mid["A"], claim_proof))
    until(node, "the claim proven", lambda v: (
        (p := mandate_store.get_mandate(v, mid["A"])) is not None
        and p.status is cr.MandateStatus.PROVEN))  # fmt: skip
    claimed_out = (ma.revisions[0].txid or b"") + bytes(4)
    with state_of(node) as view:
        u = mandate_store.get_utxo(view, "btc", claimed_out)
        acc = cr.decode(cr.CustodyAccount, view.get_json(cr.ACCOUNTS, b"btc"))
        assets, liabilities = _books(view)
    assert u is not None and (u.amount, u.epoch, u.status) == (AMOUNT - fee_a, 0,
                                                               cr.UtxoStatus.UNSPENT)  # fmt: skip
    assert (acc.receivable, acc.pending_fees) == (AMOUNT, fee_b)  # B still receivable
    assert assets == liabilities == DEPOSIT + 2 * AMOUNT - fee_a

    # attack: B's user refunds its lock after its timelock (it took the ETM already); the
    # committee's claim of the refunded lock is refused, a 302 of the refund voids the mandate
    bitcoin_node.mine(tip + LEG_BLOCKS - bitcoin_node.height())
    adapter = _adapter(bitcoin_node, tmp_path / "btc")
    try:
        refund = adapter.refund(locks["B"])
        bitcoin_node.mine(1)
        with pytest.raises(RPCError, match=r"(?i)missing|spent|conflict"):  # its input is gone
            bitcoin_node.rpc.call("sendrawtransaction", signed(mb, pre["B"]).hex())
        relay_missing_headers(s.client, relayer, adapter, chain="btc")
        refund_proof = _tx_proof(adapter.transaction_proof(refund.txid, bitcoin_node.height()))
    finally:
        adapter.close()
    s.send(prover, OUTCOME, outcome_tx(mid["B"], refund_proof))
    until(node, "the claim void", lambda v: (
        (p := mandate_store.get_mandate(v, mid["B"])) is not None
        and p.status is cr.MandateStatus.VOID))  # fmt: skip
    with state_of(node) as view:
        acc = cr.decode(cr.CustodyAccount, view.get_json(cr.ACCOUNTS, b"btc"))
        assets, liabilities = _books(view)
        b_lock = swap_in.get_lock(view, "btc", _lock_id(locks["B"]))
    assert (acc.receivable, acc.pending_fees) == (0, 0)
    assert liabilities - assets == AMOUNT  # the loss, to the unit
    assert b_lock is not None and b_lock.status == swap_in.REFUNDED
    err = s.refused(prover, OUTCOME, outcome_tx(mid["B"], refund_proof))
    assert err.reason == "outcome_replayed", err
