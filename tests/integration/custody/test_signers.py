"""Custody signers as real processes (design-14 section 5, issue 14 WP-S) on one real ETM node
and the session's Bitcoin regtest node (bcoin by default, Core with $BITCOIND).

The genesis has a custody section with a ``btc`` pool (operator ``"committee"``) and the SPV
relay; four delegates register keys made by ``etm-bridge node custody init`` in four signer
directories (the signers' own agent keys, funded: they pay the signers' ETM fees); the round
hook forms a 3-of-4 committee. Four ``etm-bridge node signer`` processes then, with no help from
the test:

* pay an LP withdrawal (tx 207, after the test paid and proved a deposit into the vault, 206):
  sign only the final open mandate, post their shares to their node (one signer's node is a
  second, non-forging node: its share reaches the first by peer gossip, message 10, and the
  others' reach it the same way), assemble it, Bitcoin accepts it with the mandate's txid
  although one signer was killed first; once the test has mined the relay policy's depth they
  relay the headers ETM lacks and prove it (tx 302), taking turns: proven once, books exact;
* the other tests open mandates with the test-only tx 399 (``btc_mandate_plugin``: a vault
  output the test funds directly, no deposit), because each needs a fresh vault output quickly:
  a signer crashed by the test-only switch right after recording (``after_record``) or right
  after posting (``after_gossip``) and restarted re-posts exactly its recorded bytes and signs
  nothing else; with two signers offline nothing moves on Bitcoin and one returning settles it;
  a signer whose node lies (a proxy in front of the real node serving a mandate with another
  spend's digests) refuses and records nothing. (A 399 mandate carries no ``owed``: when a
  later funding block mines its spend, the signers prove it too and the books of this
  throwaway chain stop meaning anything after the first test, which checks them.)
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest
from bitcoin.core import CTransaction
from btc_custody_node import DOMAIN, HERE, Sender
from btc_custody_node import committee as _committee
from btc_custody_node import fund as _fund
from btc_custody_node import state_of as _state
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_regtest import procs
from etm_bridge_regtest.bitcoin import BitcoinNode
from etm_bridge_regtest.custody_signer import SignerProcess, signer_home
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_running
from test_btc_fraud_node import BOND_ADD, MANDATE_TX, PLUGIN, USER_KEY

from etm_bridge.adapter import Payment
from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.state import StateView
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.chains.bitcoin.binding import btc_pubkey_of, sign_btc
from etm_bridge.chains.bitcoin.custody import build, ecdsa, scripts
from etm_bridge.chains.bitcoin.custody.spec import SPEC, BtcCustodyConfig
from etm_bridge.chains.bitcoin.etm.verifier import DEPOSIT_TAG, BtcProof
from etm_bridge.chains.registry import chain_registry
from etm_bridge.custody import bonds, mandate_store, mandates, plans
from etm_bridge.custody import records as cr
from etm_bridge.custody import registration as rg
from etm_bridge.custody.txtypes import BOND, REGISTER
from etm_bridge.etm_client.custody import CustodyClient
from etm_bridge.etm_client.header_feed import relay_missing_headers
from etm_bridge.exchange import binding as bd
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import records as xr
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.pool import Pool
from etm_bridge.node.network_setup import join_node
from etm_bridge.node.setup import init_node
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.spv.relay_policy import RelayPolicy

pytestmark = pytest.mark.bitcoin

CFG = BtcCustodyConfig("regtest")
BOND_IN = 10**9
SECTION = {
    "domain": DOMAIN.hex(), "chains": ["btc"], "min_bond": 1_000, "min_committee": 3,
    "btc": {"network": "regtest"}, "unsafe_test_behaviours": True,
    "pools": [{"asset": "btc", "min_confirmations": 1}],
}  # fmt: skip
PLUGINS = ("etm_bridge.node.spv_plugin", "etm_bridge.custody.txtypes",
           "etm_bridge.exchange.txtypes", PLUGIN)  # fmt: skip
DEPOSIT = 150_000
ETM_IN = 10**8
INVESTOR_SECRET = bytes([0x71]) * 32


def until(node: EtmNodeProcess, what: str, ok: Callable[[StateView], bool], t: float = 60) -> None:
    def check() -> bool:
        with _state(node) as view:
            return ok(view)

    alive = lambda: node.proc is not None and node.proc.poll() is None  # noqa: E731
    procs.wait_until(check, timeout_s=t, what=what, alive=alive, interval_s=0.2)


class Net:
    """One custody chain node, its 4 members' signer homes and processes, and Bitcoin."""

    def __init__(
        self, node: EtmNodeProcess, peer: EtmNodeProcess, s: Sender, homes: list[Path],
        btc: BitcoinNode,
    ):  # fmt: skip
        self.node, self.peer, self.s, self.homes, self.btc = node, peer, s, homes, btc
        assert node.url is not None and peer.url is not None
        # signer 2 talks to the second node: its share reaches the others by gossip only
        urls = [node.url, node.url, peer.url, node.url]
        self.signers = [SignerProcess(h, u) for h, u in zip(homes, urls, strict=True)]
        self.secret = [json.loads((h / "custody_keys.json").read_text()) for h in homes]
        self.keys: list[bytes] = []
        self.committee: cr.Committee | None = None

    def open_mandate(self, amount: int = 150_000) -> cr.Mandate:
        assert self.committee is not None
        vault = SPEC.vault(self.committee, CFG)
        outpoint = _fund(self.btc, vault.destination, amount)
        source = secrets.token_bytes(32)
        payload = {"source": source.hex(), "outpoint": outpoint.hex(), "amount": amount,
                   "terms": {"amount": 40_000, "claim_key": USER_KEY.hex()}}  # fmt: skip
        self.s.send(dev_key("user-1"), MANDATE_TX, json.dumps(payload, sort_keys=True).encode())
        mid = mandates.mandate_id(cr.MandateKind.LP_WITHDRAW, "btc", source)
        until(
            self.node, "the mandate opened", lambda v: mandate_store.get_mandate(v, mid) is not None
        )
        with _state(self.node) as view:
            found = mandate_store.get_mandate(view, mid)
        assert found is not None
        return found

    def shares(self, mid: bytes, node: EtmNodeProcess | None = None) -> list[dict[str, Any]]:
        client = (node or self.node).client
        assert client is not None
        return CustodyClient(client).shares(mid)

    def on_bitcoin(self, txid: bytes) -> bool:
        try:
            self.btc.rpc.call("getrawtransaction", txid[::-1].hex(), 0)
        except Exception:
            return False
        return True


def _investor_adapter(bitcoin_node: BitcoinNode, home: Path) -> BitcoinAdapter:
    return BitcoinAdapter.from_config({
        "rpc_url": bitcoin_node.rpc_url, "rpc_user": bitcoin_node.rpc_user,
        "rpc_password": bitcoin_node.rpc_password, "secret_hex": INVESTOR_SECRET.hex(),
        "data_dir": str(home), "network": "regtest", "birth_height": bitcoin_node.height(),
    })  # fmt: skip


def record_rows(home: Path) -> list[tuple[bytes, int, int, bytes, bytes]]:
    conn = sqlite3.connect(home / "custody_signer.sqlite")
    try:
        sql = ("SELECT mandate_id, revision, input_index, digest, signature FROM signed"
               " ORDER BY mandate_id, revision, input_index")  # fmt: skip
        rows = conn.execute(sql).fetchall()
    finally:
        conn.close()
    return [(bytes(m), int(r), int(i), bytes(d), bytes(s)) for m, r, i, d, s in rows]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, bitcoin_node: BitcoinNode) -> Iterator[Net]:
    tmp = tmp_path_factory.mktemp("signers")
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(HERE) + (os.pathsep + saved if saved else "")
    home = tmp / "etm"
    init_node(home, delegates=5, block_time_s=1, funded_accounts=2, port=0, tx_plugins=PLUGINS,
              spv=SpvSection(allow_dev_pools=True))  # fmt: skip
    genesis = json.loads((home / "genesis.json").read_text())
    genesis.setdefault("plugins", {})["custody"] = SECTION
    (home / "genesis.json").write_text(json.dumps(genesis, indent=2) + "\n")
    homes = [tmp / f"signer-{i}" for i in range(4)]
    for h in homes:
        signer_home(home, h, bitcoin_node)
    try:
        with etm_node_running(home) as node:
            peer = EtmNodeProcess(join_node(tmp / "peer", home / "genesis.json", port=0).data_dir)
            peer.args = ["--peer", f"127.0.0.1:{node.port}"]
            peer.start()
            n = Net(node, peer, Sender(node), homes, bitcoin_node)
            try:
                _form_committee(n)
                yield n
            finally:
                for i, sp in enumerate(n.signers):
                    sp.stop()
                    print(f"--- signer {i}\n" + "\n".join(sp.log().splitlines()[-15:]))
                print(peer.log_tail(15))
                peer.stop()
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def _form_committee(n: Net) -> None:
    s, funder = n.s, dev_key("user-0")
    delegates = [dev_key(f"delegate-{i}") for i in range(4)]
    agents = [SigningKey(bytes.fromhex(n.secret[i]["agent"])) for i in range(4)]
    for d in delegates:
        s.send(funder, TRANSFER, TransferPayload(address_hash(d.public_key), 10**10).encode())
    for a in agents:  # the signers' own agent keys pay their relays' and proofs' fees
        s.send(funder, TRANSFER, TransferPayload(address_hash(a.public_key), 10**9).encode())
    until(n.node, "delegates and agents funded", lambda v: s.settled(v, funder))
    binding = chain_registry().by_ticker("btc").binding
    s.client.set_forging(False)
    for i, d in enumerate(delegates):
        secret = bytes.fromhex(n.secret[i]["btc"])
        agent = agents[i]
        key = ecdsa.pubkey(secret)
        msg = rg.pop_message(s.network, DOMAIN, d.public_key, agent.public_key, {"btc": key})
        signed_key, pop = binding.sign(msg, secret)
        assert signed_key == key
        reg = rg.Register(agent.public_key, agent.sign(rg.agent_pop_digest(msg)), BOND_IN,
                          {"btc": key}, {"btc": pop})  # fmt: skip
        s.send(d, REGISTER, reg.encode())
        n.keys.append(key)
    s.client.set_forging(True)
    until(n.node, "4 members", lambda v: all(plans.get_member(v, d.public_key) for d in delegates))
    for d in delegates:
        s.send(d, BOND, bonds.Bond(bonds.BondOp.ADD, BOND_ADD).encode())
    until(n.node, "the first committee", lambda v: plans.current_epoch(v) is not None)
    with _state(n.node) as view:
        n.committee = _committee(view)
    assert (n.committee.m, n.committee.n) == (3, 4)
    assert set(n.committee.keys["btc"]) == set(n.keys)


def test_three_of_four_signers_pay_and_prove_an_lp_withdrawal_with_no_test_signature(
    net: Net, tmp_path: Path
) -> None:
    """Issue 14 WP-S: an investor's deposit into the committee's vault (paid and proven by the
    test, 206) and its withdrawal (207); then, with member 3's signer killed and no signature
    nor proof from the test: three signers sign the ``lp_withdraw`` mandate (signer 2 through
    the second node: shares cross the peer network both ways), assemble it, Bitcoin accepts
    it with the mandate's txid; the test mines blocks and relays nothing, and the signers, in
    turns (``custody.duties.rank``; a late one's ``outcome_replayed`` is done), relay the
    headers ETM lacks and prove it (302): proven once, the investor's key got ``asset_out -
    fee``, the books balance to the unit, and no signer signed anything twice."""
    s, node, btc = net.s, net.node, net.btc
    relayer, investor = dev_key("user-0"), dev_key("user-1")  # user-0: the deposit's relayer
    me20 = address_hash(investor.public_key)
    assert net.committee is not None
    vault = SPEC.vault(net.committee, CFG)
    for sp in net.signers:
        sp.start()
    net.signers[3].kill9()  # one member offline from the start

    height = int(s.client.status()["height"])
    key = btc_pubkey_of(INVESTOR_SECRET)
    msg = bd.binding_message(f"{s.network:#010x}", encode_address(me20), "btc", 1, height + 500)
    bind = pl.Bind("btc", key, 1, height + 500, sign_btc(msg, INVESTOR_SECRET), False)
    s.send(investor, tt.BIND, pl.encode_payload(bind))
    adapter = _investor_adapter(btc, tmp_path / "investor")
    try:
        btc.fund(adapter.address(), 10 * DEPOSIT)
        good = Payment(vault.destination, DEPOSIT)
        dep_txid = adapter.pay([good, Payment(bytes([0x6A, 24]) + DEPOSIT_TAG + me20, 0)])
        btc.mine(1)
        relay_missing_headers(s.client, relayer, adapter, chain="btc")
        proof = adapter.payment_proof(dep_txid, good)
    finally:
        adapter.close()
    body = BtcProof.from_adapter_proof(proof, proof.item).encode()
    s.send(investor, tt.LP_DEPOSIT, pl.encode_payload(pl.LpDeposit("btc", ETM_IN, 1, body)))
    until(node, "the deposit recorded", lambda v: s.settled(v, investor))
    with _state(node) as view:
        shares = view.get_u64(xr.SHARES, xr.share_key("btc", me20))
    wid = s.send(investor, tt.LP_WITHDRAW, pl.encode_payload(pl.LpWithdraw("btc", shares // 2)))
    mid = mandates.mandate_id(cr.MandateKind.LP_WITHDRAW, "btc", bytes.fromhex(wid))
    until(node, "the withdrawal", lambda v: s.settled(v, investor))
    with _state(node) as view:
        mandate = mandate_store.get_mandate(view, mid)
    assert mandate is not None and mandate.status is cr.MandateStatus.OPEN
    rev = mandate.revisions[0]
    asset_out, fee = int(mandate.terms["amount"]), int(mandate.terms["payout_fee"])

    procs.wait_until(lambda: net.on_bitcoin(rev.txid or b""), timeout_s=60,
                     what="the signers' spend accepted by Bitcoin")  # fmt: skip
    assert {r["key"] for r in net.shares(mid)} == {k.hex() for k in net.keys[:3]}
    procs.wait_until(lambda: net.shares(mid, net.peer) == net.shares(mid), timeout_s=30,
                     what="the shares gossiped to the second node")  # fmt: skip
    policy = RelayPolicy(**s.client.spv_relay("btc")["policy"])
    need = policy.required_depth(sum(o.amount for o in build.decode_plan(rev.spend).outputs))
    relay_before = int(s.client.spv_relay("btc")["tip"]["height"])
    btc.mine(need)  # the test mines; it relays nothing from here on
    spend_block = btc.height() - need + 1
    until(node, "the mandate proven by a signer's 302", lambda v: (
        (p := mandate_store.get_mandate(v, mid)) is not None
        and p.status is cr.MandateStatus.PROVEN), t=90)  # fmt: skip
    relay_after = int(s.client.spv_relay("btc")["tip"]["height"])
    assert relay_before < spend_block <= relay_after - need + 1  # the signers relayed them
    logs = [sp.log() for sp in net.signers[:3]]
    assert any("outcome proof sent" in text for text in logs)
    assert all(sp.alive() for sp in net.signers[:3])

    paid = CTransaction.deserialize(
        bytes.fromhex(btc.rpc.call("getrawtransaction", (rev.txid or b"")[::-1].hex(), 0))
    )
    assert (bytes(paid.vout[0].scriptPubKey), paid.vout[0].nValue) == (
        scripts.p2wpkh(key), asset_out - fee)  # fmt: skip
    with _state(node) as view:
        utxos = [cr.decode(cr.CustodyUtxo, json.loads(v)) for _, v in view.scan(cr.UTXOS)]
        pool = xr.decode(Pool, view.get_json(xr.POOLS, b"btc"))
        acc = cr.decode(cr.CustodyAccount, view.get_json(cr.ACCOUNTS, b"btc"))
    held = sum(u.amount for u in utxos if u.status in (cr.UtxoStatus.UNSPENT,
                                                       cr.UtxoStatus.RESERVED))  # fmt: skip
    assert (held, acc.owed) == (DEPOSIT - asset_out, 0)
    assert held + acc.in_htlc + acc.receivable == pool.asset_reserve + acc.owed + acc.pending_fees
    # one row per signer (one input, one revision), the bytes its node serves; none for 3
    for i in range(3):
        rows = record_rows(net.homes[i])
        assert [(m, r, x, d) for m, r, x, d, _ in rows] == [(mid, 0, 0, rev.digests[0])]
        served = next(r for r in net.shares(mid) if r["key"] == net.keys[i].hex())
        assert served["signatures"] == {"0": rows[0][4].hex()}
    assert record_rows(net.homes[3]) == []


@pytest.mark.parametrize("point", ["after_record", "after_gossip"])
def test_a_signer_crashed_mid_signing_resends_its_record_and_signs_nothing_else(
    net: Net, point: str
) -> None:
    """Design-14 11.1 row 9, at both crash points: killed right after the record's commit
    (nothing posted yet) or right after posting; restarted, its share on the node is
    byte-identical to its one row and it signs nothing else."""
    crashed = net.signers[0]
    crashed.stop()
    crashed.start(env={"ETM_CUSTODY_CRASH_AT": point})
    mandate = net.open_mandate(120_000 if point == "after_record" else 125_000)
    assert crashed.wait_exit(60) == 70  # the test-only crash, right at the point
    rows = [r for r in record_rows(net.homes[0]) if r[0] == mandate.id]
    assert len(rows) == 1
    mine = net.keys[0].hex()
    posted = any(r["key"] == mine for r in net.shares(mandate.id))
    assert posted == (point == "after_gossip")  # after_record: nothing left the process
    crashed.start()
    procs.wait_until(lambda: any(r["key"] == mine for r in net.shares(mandate.id)),
                     timeout_s=60, what="the restarted signer's share")  # fmt: skip
    served = next(r for r in net.shares(mandate.id) if r["key"] == mine)
    assert served == {"revision": 0, "key": mine, "signatures": {"0": rows[0][4].hex()}}
    assert [r for r in record_rows(net.homes[0]) if r[0] == mandate.id] == rows
    txid = mandate.revisions[0].txid or b""
    procs.wait_until(lambda: net.on_bitcoin(txid), timeout_s=60, what="settled")


class LyingProxy:
    """An HTTP proxy in front of the real node that serves every custody mandate with the
    digests of another spend (what a compromised or buggy node could do)."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() in
                           ("content-type", "authorization")}  # fmt: skip
                req = Request(proxy.upstream + self.path, data=body, headers=headers,
                              method=self.command)  # fmt: skip
                try:
                    with urlopen(req, timeout=10) as reply:
                        status, data = reply.status, reply.read()
                except Exception as exc:
                    status = getattr(exc, "code", 502)
                    data = exc.read() if hasattr(exc, "read") else b"{}"
                if self.path.startswith("/api/custody/mandates") and status == 200:
                    data = proxy.tamper(data)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _forward
            do_POST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def tamper(data: bytes) -> bytes:
        doc = json.loads(data)
        for m in doc.get("mandates", [doc]):
            for rev in m.get("revisions", []):
                rev["digests"] = [("ee" * 32) for _ in rev["digests"]]
        return json.dumps(doc).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_lying_node_gets_nothing_signed(net: Net) -> None:
    assert net.node.url is not None
    proxy = LyingProxy(net.node.url)
    liar = SignerProcess(net.homes[3], proxy.url)
    try:
        liar.start()
        mandate = net.open_mandate(110_000)
        procs.wait_until(lambda: "a lying node" in liar.log(), timeout_s=60,
                         what="the signer's refusal")  # fmt: skip
        assert record_rows(net.homes[3]) == []
        assert all(r["key"] != net.keys[3].hex() for r in net.shares(mandate.id))
    finally:
        liar.stop()
        proxy.close()


class ForkingProxy(LyingProxy):
    """Once armed, serves one mandate with an invented revision 1 (final, consistent spend,
    digests and txid) over another vault output than the revision the signer signed."""

    def __init__(self, upstream: str):
        super().__init__(upstream)
        self.extra: tuple[str, dict[str, Any]] | None = None

    def tamper(self, data: bytes) -> bytes:  # type: ignore[override]
        if self.extra is None:
            return data
        mid, rev = self.extra
        doc = json.loads(data)
        for m in doc.get("mandates", [doc]):
            if m.get("id") == mid and len(m.get("revisions", [])) == 1:
                m["revisions"].append(rev)
        return json.dumps(doc).encode()


def test_a_lying_node_cannot_get_a_second_spend_of_a_mandate_over_other_outputs(
    net: Net,
) -> None:
    """Attack (x7c), real node, bcoin/Core and a signer process: the signer signs revision 0
    of a mandate through an honest proxy; then its node starts serving a revision 1 of the
    same mandate spending *another* vault output (funded on Bitcoin, same amount, same payee:
    a second payout that does not conflict with the first). Refused ``inputs_changed``: no
    row for revision 1 in the record, no share of it on the node."""
    assert net.node.url is not None and net.committee is not None
    proxy = ForkingProxy(net.node.url)
    signer = SignerProcess(net.homes[3], proxy.url)
    try:
        signer.start()
        mandate = net.open_mandate(115_000)
        procs.wait_until(lambda: any(r[0] == mandate.id for r in record_rows(net.homes[3])),
                         timeout_s=60, what="revision 0 signed")  # fmt: skip
        vault = SPEC.vault(net.committee, CFG)
        other = _fund(net.btc, vault.destination, 115_000)
        rev0 = mandate.revisions[0]
        plan = build.decode_plan(rev0.spend)
        moved = replace(plan, inputs=(replace(plan.inputs[0], outpoint=other),))
        spend = build.encode_plan(moved)
        served = cr.encode(mandate)["revisions"][0] | {
            "rev": 1, "spend": spend.hex(), "digests": [d.hex() for d in SPEC.digests(spend)],
            "txid": SPEC.txid(spend).hex(),
        }  # fmt: skip
        proxy.extra = (mandate.id.hex(), served)
        procs.wait_until(lambda: "inputs_changed" in signer.log(), timeout_s=60,
                         what="the signer's refusal")  # fmt: skip
        assert {(r[0], r[1]) for r in record_rows(net.homes[3]) if r[0] == mandate.id} == {
            (mandate.id, 0)
        }
        assert all(r["revision"] == 0 for r in net.shares(mandate.id))
    finally:
        signer.stop()
        proxy.close()


def test_two_signers_offline_nothing_moves_then_it_resumes(net: Net) -> None:
    """Design-14 11.1 row 8: with 2 of 4 signers down nothing is signed by 3 and the vault
    output stays unspent on Bitcoin; when one returns, the mandate settles."""
    for i in (1, 2):
        net.signers[i].stop()
    if not net.signers[0].alive():
        net.signers[0].start()
    mandate = net.open_mandate(130_000)
    rev = mandate.revisions[0]
    mine = net.keys[0].hex()
    procs.wait_until(lambda: any(r["key"] == mine for r in net.shares(mandate.id)),
                     timeout_s=60, what="the one live signer's share")  # fmt: skip
    assert net.node.client is not None
    height = int(net.node.client.status()["height"])
    net.node.client.wait_for_height(height + 5)
    assert [r["key"] for r in net.shares(mandate.id)] == [mine]
    assert not net.on_bitcoin(rev.txid or b"")
    outpoint = build.decode_plan(rev.spend).inputs[0].outpoint
    unspent = net.btc.rpc.call("gettxout", outpoint[:32][::-1].hex(),
                               int.from_bytes(outpoint[32:], "little"), True)  # fmt: skip
    assert unspent is not None  # the vault output did not move
    net.signers[1].start()
    procs.wait_until(lambda: len(net.shares(mandate.id)) == 2, timeout_s=60, what="2 shares")
    assert not net.on_bitcoin(rev.txid or b"")
    net.signers[2].start()
    procs.wait_until(lambda: net.on_bitcoin(rev.txid or b""), timeout_s=60,
                     what="settled once a third signer returned")  # fmt: skip
