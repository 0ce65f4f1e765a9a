"""An investor uses a committee pool through the CLI (issue 14; docs/custody.md 2.10), on the
session's regtest node (bcoin by default, Core with $BITCOIND) and one ``etm-bridge node run``
process on a custody chain (the setup of ``btc_custody_node.py``: four delegates register, the
round hook forms the 3-of-4 committee, the genesis ``btc`` pool has no claim key).

A wallet made by ``etm-bridge wallet new`` binds its Bitcoin key, then:

* ``lp deposit btc 0.2`` through a node that lies about the vault (a tampering proxy naming the
  investor's own key as the vault) is refused with one line before anything is paid;
* ``lp deposit btc 0.2`` through the node pays the vault the client derived from the committee,
  waits, relays and proves it (206): shares are minted and the vault output ETM records is the
  Bitcoin output;
* ``pool show btc [--json]`` shows the custody block with that vault, the 3-of-4 committee and
  open inflows;
* ``lp withdraw btc all`` names the ``lp_withdraw`` mandate the committee pays, open on ETM;
  the test signs it with 3 of the 4 members' keys, Bitcoin takes it, a 302 proves it, and the
  wallet's bound key got ``amount - payout_fee``.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from bitcoin.core import CTransaction
from btc_custody_node import (
    Sender,
    custody_chain,
    seat_committee,
    state_of,
    until,
)
from click.testing import CliRunner
from etm_bridge_cli.main import cli
from etm_bridge_regtest.bitcoin import BitcoinNode
from etm_bridge_regtest.etm_process import EtmNodeProcess
from test_btc_lp_vault import CFG, PLUGINS, SECTION, _adapter, _tx_proof

from etm_bridge.chain.address import decode_address
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.chains.bitcoin.custody import build, ecdsa, scripts
from etm_bridge.chains.bitcoin.custody.spec import SPEC
from etm_bridge.custody import mandate_store, outcome
from etm_bridge.custody import records as cr
from etm_bridge.custody.txtypes import OUTCOME
from etm_bridge.errors import NotFoundError
from etm_bridge.etm_client.header_feed import relay_missing_headers
from etm_bridge.exchange import records as xr
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.units import ETM
from etm_bridge.wallet.keystore import UNSAFE_FAST_KDF

DEPOSIT_SAT = 20_000_000  # 0.2 BTC


Rewrite = Callable[[dict[str, Any]], None]


class _Lying(BaseHTTPRequestHandler):
    """Forwards every request to the node; ``rewrite`` changes the committee pool's custody
    block in the pool answers."""

    upstream = ""
    rewrite: Rewrite = staticmethod(lambda block: None)  # type: ignore[assignment]

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
        kept = {
            k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")
        }
        req = urllib.request.Request(self.upstream + self.path, body, kept, method=self.command)
        try:
            with urllib.request.urlopen(req, timeout=30) as reply:
                status, data = reply.status, reply.read()
        except urllib.error.HTTPError as err:
            status, data = err.code, err.read()
        if self.path.startswith("/api/exchange/pools/btc") and status == 200:
            pool = json.loads(data)
            if (pool.get("custody") or {}).get("vault"):
                type(self).rewrite(pool["custody"])
                data = json.dumps(pool).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _forward

    def log_message(self, *args: Any) -> None:
        pass


class _Proxy:
    def __init__(self, upstream: str, rewrite: Rewrite) -> None:
        fields = {"upstream": upstream.rstrip("/"), "rewrite": staticmethod(rewrite)}
        handler = type("Lying", (_Lying,), fields)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Proxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _serves_custody_routes(node: EtmNodeProcess) -> bool:
    assert node.client is not None
    try:
        node.client._request("GET", "/api/custody")
    except NotFoundError:
        return False
    return True


@pytest.fixture
def custody_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[EtmNodeProcess, Sender]]:
    spv = SpvSection(allow_dev_pools=True)
    with custody_chain(tmp_path / "etm", monkeypatch, SECTION, PLUGINS, spv) as running:
        yield running


def _env(url: str, bitcoin_node: BitcoinNode, home: Path) -> dict[str, str]:
    return {
        "ETM_BRIDGE_KEYSTORE": str(home / "keystore.json"),
        "ETM_BRIDGE_ETM_URL": url,
        "ETM_BRIDGE_BITCOIN_RPC_URL": bitcoin_node.rpc_url,
        "ETM_BRIDGE_BITCOIN_RPC_USER": bitcoin_node.rpc_user,
        "ETM_BRIDGE_BITCOIN_RPC_PASSWORD": bitcoin_node.rpc_password,
        "ETM_BRIDGE_BITCOIN_BIRTH_HEIGHT": str(bitcoin_node.height()),
        "ETM_BRIDGE_KDF_OPSLIMIT": str(UNSAFE_FAST_KDF.opslimit),
        "ETM_BRIDGE_KDF_MEMLIMIT": str(UNSAFE_FAST_KDF.memlimit_bytes),
        "ETM_STACK_DIR": str(home / "no-stack"),
        "XDG_CONFIG_HOME": str(home / "xdg-config"),
        "XDG_DATA_HOME": str(home / "xdg-data"),
        "PW": "correct horse battery staple",
    }


def _run(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


class _Miner:
    """Mines a block whenever the Bitcoin mempool holds a transaction (its own RPC client)."""

    def __init__(self, bitcoin_node: BitcoinNode) -> None:
        from etm_bridge.jsonrpc import JsonRpcClient

        self.rpc = JsonRpcClient(bitcoin_node.rpc_url, user=bitcoin_node.rpc_user,
                                 password=bitcoin_node.rpc_password)  # fmt: skip
        self.address = bitcoin_node.faucet_address()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(0.3):
            if self.rpc.call("getrawmempool"):
                self.rpc.call("generatetoaddress", 1, self.address)

    def __enter__(self) -> _Miner:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def test_an_investor_deposits_into_and_withdraws_from_a_committee_pool_with_the_cli(
    custody_node: tuple[EtmNodeProcess, Sender], bitcoin_node: BitcoinNode, tmp_path: Path
) -> None:
    node, s = custody_node
    assert node.client is not None
    _, vault, by_key = seat_committee(node, s)

    env = _env(node.client.url, bitcoin_node, tmp_path / "investor")
    _run(env, "wallet", "new", "--passphrase-env", "PW")
    public = json.loads(_run(env, "wallet", "show", "--json").stdout)["public"]
    me20 = decode_address(public["etm"]["address"])
    s.send(dev_key("user-0"), TRANSFER, TransferPayload(me20, 100 * ETM).encode())
    bitcoin_node.fund(public["btc"]["addresses"]["regtest"], 2 * DEPOSIT_SAT)
    until(node, "the investor funded", lambda v: s.settled(v, dev_key("user-0")))
    _run(env, "bind", "--chain", "btc", "--passphrase-env", "PW")
    own = scripts.p2wpkh(bytes.fromhex(public["btc"]["public_key"]))

    # a node naming another script (the investor's own key) as the vault; one lying
    # consistently (a 1-of-1 committee of that key and its vault) next to an honest endpoint:
    # each refused with one line, nothing paid
    mine = cr.Committee(0, (), 1, 1, {"btc": (bytes.fromhex(public["btc"]["public_key"]),)},
                        0, "lie")  # fmt: skip
    theirs = SPEC.vault(mine, CFG)

    def own_key(block: dict[str, Any]) -> None:
        block["vault"]["destination"] = own.hex()

    def own_committee(block: dict[str, Any]) -> None:
        block["committee"].update(m=1, n=1, keys=[k.hex() for k in mine.keys["btc"]])
        block["vault"].update(destination=theirs.destination.hex(), address=theirs.address)

    mempool = set(bitcoin_node.rpc.call("getrawmempool"))
    deposit_args = ["lp", "deposit", "btc", "0.2", "--etm", "1", "--passphrase-env", "PW"]
    for lie, urls, why in (
        (own_key, "{proxy}", "is not the vault of the 3-of-4 committee"),
        (own_committee, "{proxy},{node}", "the ETM endpoints disagree about its vault"),
    ):
        with _Proxy(node.client.url, lie) as proxy:
            where = urls.format(proxy=proxy.url, node=node.client.url)
            lying_env = {k: v for k, v in env.items() if k != "ETM_BRIDGE_ETM_URL"}
            lied = CliRunner().invoke(cli, deposit_args,
                                      env={**lying_env, "ETM_BRIDGE_ETM_URLS": where})  # fmt: skip
        assert lied.exit_code != 0 and lied.output.startswith("error: "), lied.output
        assert len(lied.output.splitlines()) == 1 and why in lied.output, lied.output
        assert lie is own_key or (theirs.address in lied.output and vault.address in lied.output)
        assert set(bitcoin_node.rpc.call("getrawmempool")) == mempool

    with _Miner(bitcoin_node):
        paid = _run(env, "lp", "deposit", "btc", "0.2", "--etm", "1", "--fee-rate", "3",
                    "--passphrase-env", "PW", "--json")  # fmt: skip
    deposit = json.loads(paid.stdout)
    assert deposit["status"] == "confirmed" and vault.address in paid.stderr
    assert int(deposit["positions"][0]["shares"]) > 0
    txid = deposit["bitcoin_txid"]
    raw = bytes.fromhex(bitcoin_node.rpc.call("getrawtransaction", txid, 0))
    out0 = CTransaction.deserialize(raw).vout[0]
    outpoint = bytes.fromhex(txid)[::-1] + (0).to_bytes(4, "little")
    with state_of(node) as view:
        utxo = mandate_store.get_utxo(view, "btc", outpoint)
        shares = view.get_u64(xr.SHARES, xr.share_key("btc", me20))
    assert (bytes(out0.scriptPubKey), out0.nValue) == (vault.destination, DEPOSIT_SAT)
    assert utxo is not None and (utxo.amount, utxo.status) == (DEPOSIT_SAT, cr.UtxoStatus.UNSPENT)
    assert shares == int(deposit["positions"][0]["shares"])

    shown = json.loads(_run(env, "pool", "show", "btc", "--json").stdout)
    block = shown["custody"]
    assert block["vault"] == {"ticker": "btc", "epoch": 0, "address": vault.address,
                              "destination": vault.destination.hex()}  # fmt: skip
    assert (block["committee"]["m"], block["committee"]["n"], block["inflows"]) == (3, 4, "open")
    text = _run(env, "pool", "show", "btc").stdout
    assert "epoch 0, 3-of-4; inflows open" in text and vault.address in text

    out = json.loads(_run(env, "lp", "withdraw", "btc", "all", "--passphrase-env", "PW",
                          "--json").stdout)  # fmt: skip
    assert out["status"] == "confirmed" and out["obligations"] == []
    mandate_id = bytes.fromhex(out["mandate"]["mandate_id"])
    with state_of(node) as view:
        m = mandate_store.get_mandate(view, mandate_id)
    assert m is not None and m.kind is cr.MandateKind.LP_WITHDRAW
    assert m.status is cr.MandateStatus.OPEN and m.terms["claim_key"] == public["btc"]["public_key"]
    # its status and the pool's open mandates, where the node serves the custody routes
    served = _serves_custody_routes(node)
    assert out["mandate"]["status"] == ("open" if served else None)
    listed = json.loads(_run(env, "pool", "show", "btc", "--json").stdout).get("mandates")
    assert [r["id"] for r in listed or []] == ([mandate_id.hex()] if served else [])
    assert served == (listed is not None)
    if served:
        assert f"{mandate_id.hex()} lp_withdraw open" in _run(env, "pool", "show", "btc").stdout

    # the loop closed: 3 of the 4 members sign, Bitcoin takes it, anyone proves it (302)
    spend = m.revisions[0].spend
    signed = SPEC.assemble(spend, build.select_shares(build.decode_plan(spend), {
        k: tuple(ecdsa.sign(by_key[k], d) for d in SPEC.digests(spend))
        for k in sorted(by_key)[1:]}), {})  # fmt: skip
    payout = bitcoin_node.rpc.call("sendrawtransaction", signed.hex())
    bitcoin_node.mine(1)
    adapter = _adapter(bitcoin_node, tmp_path / "headers")
    try:
        relay_missing_headers(s.client, dev_key("user-1"), adapter, chain="btc")
        proof = _tx_proof(adapter.transaction_proof(payout, bitcoin_node.height()))
    finally:
        adapter.close()
    s.send(dev_key("delegate-3"), OUTCOME,
           outcome.OutcomeProof("btc", mandate_id, proof.encode()).encode())  # fmt: skip
    until(node, "the payout proven", lambda v: (
        (p := mandate_store.get_mandate(v, mandate_id)) is not None
        and p.status is cr.MandateStatus.PROVEN))  # fmt: skip
    got = CTransaction.deserialize(
        bytes.fromhex(bitcoin_node.rpc.call("getrawtransaction", payout, 0))
    ).vout[0]
    assert (bytes(got.scriptPubKey), got.nValue) == (
        own, int(m.terms["amount"]) - int(m.terms["payout_fee"]))  # fmt: skip
    if served:
        assert "mandates   none open" in _run(env, "pool", "show", "btc").stdout
