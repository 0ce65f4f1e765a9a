"""Tx 304 with a Bitcoin body judged by a real ETM node (design-14 section 6), on the session's
regtest node (bcoin by default, Core with $BITCOIND).

One ``etm-bridge node run`` process on a custody chain (``plugins.custody`` for ``btc``, no
genesis members): four genesis delegates register Bitcoin custody keys with proofs of
possession (tx 300) and add bond (tx 301); the round hook forms the first 3-of-4 committee; its
P2WSH vault is funded on Bitcoin. Attacks performed, each through the node's API:

* a member signs a theft of the vault output paying itself: Bitcoin refuses the spend (one
  signature of three), the signature as tx 304 slashes the member (bond and deposit split to
  the unit, delegate out, next round close forms a 3-of-3 committee without it);
* the same member's share over a *mandated* spend: refused ``signature_mandated`` (the mandate
  is opened by the test plug-in ``btc_mandate_plugin``: no transaction creates mandates on a
  live chain yet), and that spend still settles on Bitcoin without the member's share;
* the theft proof replayed in a new tx: ``already_slashed``;
* malformed bodies (truncated, trailing bytes, a garbage signature): refused with one reason
  each, and the node keeps forging.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from bitcoin.core import CTransaction
from bitcoin.core.script import SIGVERSION_WITNESS_V0, CScript, SignatureHash
from btc_custody_node import BOND_IN, DOMAIN, Sender, custody_chain, register_all, state_of
from btc_custody_node import committee as _committee
from btc_custody_node import fund as _fund
from btc_custody_node import secret as _secret
from btc_custody_node import until as _until
from etm_bridge_regtest.bitcoin import BitcoinNode
from etm_bridge_regtest.etm_process import EtmNodeProcess

from etm_bridge.chain.address import address_hash
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.tx_delegates import DELEGATES, DEPOSIT_ESCROW
from etm_bridge.chains.bitcoin.custody import build, ecdsa, scripts
from etm_bridge.chains.bitcoin.custody.fraud import encode_body
from etm_bridge.chains.bitcoin.custody.spec import SPEC, BtcCustodyConfig
from etm_bridge.custody import bonds, mandate_store, mandates, plans
from etm_bridge.custody import fraud as custody_fraud
from etm_bridge.custody import records as cr
from etm_bridge.custody.txtypes import BOND, FRAUD
from etm_bridge.errors import RPCError

PLUGIN = "btc_mandate_plugin"
MANDATE_TX = 399  # btc_mandate_plugin.TYPE_ID (the node imports it; this process need not)
BOND_ADD = 5 * 10**8  # tx 301
BONDED = BOND_IN + BOND_ADD
FEE_304 = 1_000_000
CFG = BtcCustodyConfig("regtest")
USER_KEY = ecdsa.pubkey(bytes([0x77]) * 32)
SECTION = {
    "domain": DOMAIN.hex(), "chains": ["btc"], "min_bond": 1_000, "min_committee": 3,
    "btc": {"network": "regtest"},
}  # fmt: skip
_state = state_of


@pytest.fixture
def custody_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[EtmNodeProcess, Sender]]:
    """A custody chain (5 delegates, 1 s blocks) whose process can import the test plug-in."""
    plugins = ("etm_bridge.custody.txtypes", PLUGIN)
    with custody_chain(tmp_path / "etm", monkeypatch, SECTION, plugins) as running:
        yield running


def test_a_bitcoin_theft_signature_slashes_its_member_on_a_real_node(
    custody_node: tuple[EtmNodeProcess, Sender], bitcoin_node: BitcoinNode
) -> None:
    node, s = custody_node
    reporter = dev_key("user-1")
    delegates = [dev_key(f"delegate-{i}") for i in range(4)]
    # tx 300 (keys with proofs of possession, bond) then tx 301 (more bond)
    keys = register_all(node, s)
    for d in delegates:
        s.send(d, BOND, bonds.Bond(bonds.BondOp.ADD, BOND_ADD).encode())
    _until(node, "bonds added and the first committee formed", lambda v: all(
        (m := plans.get_member(v, d.public_key)) is not None and m.bond == BONDED
        for d in delegates) and plans.current_epoch(v) is not None)  # fmt: skip
    with _state(node) as view:
        c0 = _committee(view)
        assert view.escrow_total(cr.BOND_ESCROW) == 4 * BONDED
    assert (c0.epoch, c0.reason, c0.m, c0.n) == (0, "first", 3, 4)
    assert c0.keys["btc"] == tuple(sorted(keys.values()))
    by_key = {k: _secret(i) for i, k in enumerate(keys.values())}
    policy = scripts.parse_policy(SPEC.vault(c0, CFG).claim_key)

    # the vault on Bitcoin, and a mandate (lp_withdraw) over its output on ETM
    vault = SPEC.vault(c0, CFG)
    outpoint = _fund(bitcoin_node, vault.destination, 150_000)
    source = secrets.token_bytes(32)
    terms = {"amount": 40_000, "claim_key": USER_KEY.hex()}
    payload = {"source": source.hex(), "outpoint": outpoint.hex(), "amount": 150_000,
               "terms": terms}  # fmt: skip
    s.send(reporter, MANDATE_TX, json.dumps(payload, sort_keys=True).encode())
    mid = mandates.mandate_id(cr.MandateKind.LP_WITHDRAW, "btc", source)
    _until(node, "the mandate opened", lambda v: mandate_store.get_mandate(v, mid) is not None)
    with _state(node) as view:
        mandate = mandate_store.get_mandate(view, mid)
    assert mandate is not None
    mandated = build.decode_plan(mandate.revisions[0].spend)

    thief_i = 2
    thief = delegates[thief_i]
    thief_key = keys[thief.public_key]
    script = policy.vault_script()

    def proof(plan: build.SpendPlan, signature: bytes) -> bytes:
        body = encode_body(build.unsigned_tx(plan), 0, script, 150_000, signature)
        return custody_fraud.Fraud("btc", 0, thief_key, body).encode()

    # the member's share over the mandated spend is not fraud
    honest = ecdsa.sign(by_key[thief_key], build.digests(mandated)[0])
    err = s.refused(reporter, FRAUD, proof(mandated, honest), FEE_304)
    assert err.reason == "signature_mandated", err

    # malformed proofs: one reason each, on one line, naming what is wrong
    tx = build.unsigned_tx(mandated)
    good_body = encode_body(tx, 0, script, 150_000, honest)
    other_key = next(k for k in c0.keys["btc"] if k != thief_key)
    other = ecdsa.sign(by_key[other_key], build.digests(mandated)[0])
    cases = [
        (good_body[:-7], "malformed_field", "signature needs"),
        (good_body + b"\x00", "malformed_field", "1 unexpected trailing bytes"),
        (encode_body(tx, 0, script, 150_000, b"\x30" * 72), "malformed_field", "not strict DER"),
        (encode_body(tx, 0, script, 150_000, other), "bad_fraud_signature", "not the key's"),
    ]
    for body, reason, says in cases:
        err = s.refused(reporter, FRAUD, custody_fraud.Fraud("btc", 0, thief_key, body).encode(),
                        FEE_304)  # fmt: skip
        assert (err.reason, "\n" in str(err)) == (reason, False), err
        assert says in str(err) and str(err).count("bitcoin fraud body") <= 1, err
    err = s.refused(reporter, FRAUD, proof(mandated, honest)[:-3], FEE_304)
    assert err.reason == "malformed_field", err
    # a stranger's key; the member's personal use of its key (a P2WPKH spend) is not custody
    stranger = ecdsa.pubkey(bytes([0x99]) * 32)
    err = s.refused(reporter, FRAUD, custody_fraud.Fraud("btc", 0, stranger, good_body).encode(),
                    FEE_304)  # fmt: skip
    assert err.reason == "not_custody_member", err
    personal = bytes.fromhex("76a914") + scripts.p2wpkh(thief_key)[2:] + bytes.fromhex("88ac")
    digest = SignatureHash(CScript(personal), CTransaction.deserialize(tx), 0, 1, 150_000,
                           SIGVERSION_WITNESS_V0)  # fmt: skip
    body = encode_body(tx, 0, personal, 150_000, ecdsa.sign(by_key[thief_key], bytes(digest)))
    err = s.refused(reporter, FRAUD, custody_fraud.Fraud("btc", 0, thief_key, body).encode(),
                    FEE_304)  # fmt: skip
    assert err.reason == "not_custody_script", err
    # the theft: a sweep of the vault output to the member's own P2WPKH
    theft = build.sweep(
        [build.vault_input(outpoint, 150_000, policy)], scripts.p2wpkh(thief_key), 2
    )
    stolen = ecdsa.sign(by_key[thief_key], build.digests(theft)[0])
    with pytest.raises(RPCError) as refused:
        bitcoin_node.rpc.call("sendrawtransaction", build.assemble(theft, {0: [stolen]}).hex())
    assert refused.value.code == -26  # one signature of three moves nothing

    deposit = ChainParams().delegate_deposit
    with _state(node) as view:
        before = view.account(address_hash(reporter.public_key)).balance
        deposits = view.escrow_total(DEPOSIT_ESCROW)
    err = s.refused(reporter, FRAUD, proof(theft, stolen), 9 * ChainParams().fee_base)
    assert err.reason == "fee_too_low", err  # 304 costs 10 x the base fee
    s.send(reporter, FRAUD, proof(theft, stolen), FEE_304)
    _until(node, "the thief slashed", lambda v: (
        (m := plans.get_member(v, thief.public_key)) is not None and m.slashed))  # fmt: skip
    with _state(node) as view:
        member = plans.get_member(view, thief.public_key)
        assert member is not None and member.bond == 0
        assert view.get_json(DELEGATES, thief.public_key)["slashed"] is True
        got = view.account(address_hash(reporter.public_key)).balance - before
        assert got == BONDED // 10 + deposit // 10 - FEE_304  # finder_ppm 10 %, a tenth of it
        assert view.escrow_total(cr.BOND_ESCROW) == 3 * BONDED
        assert view.escrow_total(DEPOSIT_ESCROW) == deposits - deposit

    # replayed in a new tx: already slashed
    err = s.refused(reporter, FRAUD, proof(theft, stolen), FEE_304)
    assert err.reason == "already_slashed", err

    # the next round close forms a committee without the thief; the node keeps forging
    _until(node, "the next committee", lambda v: plans.current_epoch(v) == 1)
    with _state(node) as view:
        c1 = _committee(view)
    assert c1.reason == "slashed_member" and (c1.m, c1.n) == (3, 3)
    assert thief.public_key not in c1.members and thief_key not in c1.keys["btc"]
    height = int(s.client.status()["height"])
    s.client.wait_for_height(height + 1)

    # the mandated spend settles on Bitcoin with the three other members' shares
    spend = build.encode_plan(mandated)
    shares = {k: tuple(ecdsa.sign(by_key[k], d) for d in SPEC.digests(spend))
              for k in c0.keys["btc"] if k != thief_key}  # fmt: skip
    signed = SPEC.assemble(spend, build.select_shares(mandated, shares), {})
    txid = bitcoin_node.rpc.call("sendrawtransaction", signed.hex())
    assert bytes.fromhex(txid)[::-1] == mandate.revisions[0].txid
