"""An investor deposits BTC into the BTC pool through the CLI, on real nodes, and withdraws.

The ETM node is a ``node init`` chain (default plug-ins: the SPV relays and the exchange) run
as a subprocess; Bitcoin is the session's regtest node. Two wallets made by ``etm-bridge wallet
new``: the operator creates the BTC pool (its Bitcoin key receives deposits), the investor binds
its Bitcoin key and runs ``lp deposit``, which pays the pool on Bitcoin with the owner tag,
waits for the confirmation (a background thread mines when the mempool is not empty), relays the
missing headers to the ETM relay and submits the deposit with the SPV proof. Every read is
checked through the node's HTTP API and the CLI's ``--json``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli
from etm_bridge_cli.output import liquidity_json
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in

from etm_bridge.chain.address import decode_address
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.jsonrpc import JsonRpcClient
from etm_bridge.node.client import NodeClient
from etm_bridge.units import ETM
from etm_bridge.wallet.keystore import UNSAFE_FAST_KDF

DEPOSIT_SAT = 1_000_000  # 0.01 BTC
DEPOSIT_ETM = 100 * ETM


@pytest.fixture
def node(tmp_path: Path) -> Iterator[EtmNodeProcess]:
    with etm_node_in(tmp_path / "node", delegates=3, block_time_s=1, funded_accounts=1) as proc:
        yield proc


def _env(node: EtmNodeProcess, bitcoin_node: Any, home: Path) -> dict[str, str]:
    assert node.client is not None
    return {
        "ETM_BRIDGE_KEYSTORE": str(home / "keystore.json"),
        "ETM_BRIDGE_ETM_URL": node.client.url,
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


def _wallet(env: dict[str, str], client: NodeClient, nonce: int) -> dict[str, Any]:
    """A new wallet whose ETM address gets 1000 ETM from the funded dev account user-0."""
    _run(env, "wallet", "new", "--passphrase-env", "PW")
    public = json.loads(_run(env, "wallet", "show", "--json").stdout)["public"]
    payload = TransferPayload(decode_address(public["etm"]["address"]), 1_000 * ETM).encode()
    funding = Tx.create(dev_key("user-0"), network=client.status()["networkId"],
                        type_id=TRANSFER, nonce=nonce, fee=100_000, payload=payload)  # fmt: skip
    client.submit_tx(funding.encoded)
    return public


class Miner:
    """Mines a block whenever the Bitcoin mempool holds a transaction (own RPC connection)."""

    def __init__(self, bitcoin_node: Any) -> None:
        self.rpc = JsonRpcClient(
            bitcoin_node.rpc_url, user=bitcoin_node.rpc_user, password=bitcoin_node.rpc_password
        )
        self.address = bitcoin_node.faucet_address()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(0.5):
            if self.rpc.call("getrawmempool"):
                self.rpc.call("generatetoaddress", 1, self.address)

    def __enter__(self) -> Miner:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def _resumed_deposit(
    env: dict[str, str], client: NodeClient, bitcoin_node: Any, home: Path, me: str
) -> dict[str, Any]:
    """The CLI stops after paying (no block within ``--timeout``): run again as typed, it is
    refused, naming the payment, instead of paying twice (attack r12: it paid again);
    ``lp deposit --txid`` proves it; a wrong AMOUNT for that txid is refused before anything
    is submitted; the journal is gone once the deposit is on ETM."""
    journal = home / "xdg-data" / "etm-bridge" / "deposits" / "btc.json"
    rpc = JsonRpcClient(
        bitcoin_node.rpc_url, user=bitcoin_node.rpc_user, password=bitcoin_node.rpc_password
    )
    args = ["--etm", "50", "--passphrase-env", "PW"]
    stopped = CliRunner().invoke(cli, ["lp", "deposit", "btc", "0.005", *args, "--timeout", "1"],
                                 env=env)  # fmt: skip
    assert stopped.exit_code != 0 and "confirmations in time" in stopped.output
    [txid] = set(re.findall(r"bitcoin tx ([0-9a-f]{64})", stopped.output))  # "paid ..."
    mempool = set(rpc.call("getrawmempool"))
    assert txid in mempool
    again = CliRunner().invoke(cli, ["lp", "deposit", "btc", "0.005", *args, "--timeout", "1"],
                               env=env)  # fmt: skip
    assert again.exit_code != 0 and f"--txid {txid}" in again.output
    assert "would pay twice" in again.output and json.loads(journal.read_text())["txid"] == txid
    assert set(rpc.call("getrawmempool")) == mempool  # nothing paid the second time
    before = client.positions(me)[0]["shares"]
    with Miner(bitcoin_node):
        resume = [*args, "--txid", txid]
        wrong = CliRunner().invoke(cli, ["lp", "deposit", "btc", "0.004", *resume], env=env)
        assert wrong.exit_code != 0 and "does not pay 400000 sat" in wrong.output
        _run(env, "lp", "deposit", "btc", "0.005", *resume)
    assert not journal.exists()  # written after paying, removed once the deposit is on ETM
    after = client.positions(me)[0]
    assert after["shares"] > before
    return after


def test_investor_deposits_btc_proven_by_spv_and_withdraws_into_an_obligation(
    node: EtmNodeProcess, bitcoin_node: Any, tmp_path: Path
) -> None:
    client = node.client
    assert client is not None
    operator_env = _env(node, bitcoin_node, tmp_path / "operator")
    investor_env = _env(node, bitcoin_node, tmp_path / "investor")
    operator = _wallet(operator_env, client, 0)
    investor = _wallet(investor_env, client, 1)
    bitcoin_node.fund(investor["btc"]["addresses"]["regtest"], 5 * DEPOSIT_SAT)
    me = investor["etm"]["address"]
    client.wait_for_height(client.status()["height"] + 1)

    early = CliRunner().invoke(cli, ["lp", "deposit", "btc", "0.01", "--etm", "1",
                                     "--passphrase-env", "PW"], env=investor_env)  # fmt: skip
    assert early.exit_code != 0 and early.output.startswith("error: ")
    assert "no pool for asset 'btc'" in early.output and len(early.output.splitlines()) == 1

    _run(operator_env, "pool", "create", "btc", "--min-confirmations", "1",
         "--passphrase-env", "PW")  # fmt: skip
    _run(investor_env, "bind", "--chain", "btc", "--passphrase-env", "PW")
    assert client.bindings(me)["btc"]["key"] == investor["btc"]["public_key"]
    assert client.pool("btc")["claim_key"] == operator["btc"]["public_key"]

    mempool = set(bitcoin_node.rpc.call("getrawmempool"))
    steep = CliRunner().invoke(cli, ["lp", "deposit", "btc", "0.01", "--etm", "100 ETM",
                                     "--fee-rate", "1001", "--passphrase-env", "PW"],
                               env=investor_env)  # fmt: skip
    assert steep.exit_code != 0 and "above the ceiling max_fee_sat_vb (1000)" in steep.output
    assert set(bitcoin_node.rpc.call("getrawmempool")) == mempool  # refused before paying
    with Miner(bitcoin_node):
        result = _run(investor_env, "lp", "deposit", "btc", "0.01", "--etm", "100 ETM",
                      "--fee-rate", "7", "--passphrase-env", "PW", "--json")  # fmt: skip
    deposit = json.loads(result.stdout)  # paid at the user's rate (the paying() of swap locks)
    assert deposit["status"] == "confirmed" and deposit["amount"]["base_units"] == str(DEPOSIT_SAT)
    assert "relayed" in result.stderr and "confirmations 1/1" in result.stderr

    relay = client.spv_relay("btc")
    assert relay["tip"]["hash"] == bitcoin_node.rpc.call("getbestblockhash")
    pool = client.pool("btc")
    assert (pool["asset_reserve"], pool["etm_reserve"]) == (DEPOSIT_SAT, DEPOSIT_ETM)
    shown = json.loads(_run(investor_env, "pool", "show", "btc", "--json").stdout)
    assert shown == liquidity_json(pool)  # amounts as base-unit strings + display

    positions = json.loads(_run(investor_env, "lp", "positions", me, "--json").stdout)
    assert [p["asset"] for p in positions] == ["btc"]
    mine = positions[0]
    assert 0 < int(mine["shares"]) < pool["total_shares"]  # the locked minimum stays in the pool
    assert DEPOSIT_SAT * 0.99 < int(mine["value_asset"]["base_units"]) <= DEPOSIT_SAT
    assert DEPOSIT_ETM * 0.99 < int(mine["value_etm"]["base_units"]) <= DEPOSIT_ETM
    assert deposit["positions"] == positions

    replay = CliRunner().invoke(cli, ["lp", "deposit", "btc", "0.01", "--etm", "100",
                                      "--txid", deposit["bitcoin_txid"], "--passphrase-env", "PW"],
                                env=investor_env)  # fmt: skip
    assert replay.exit_code != 0 and "deposit_replayed" in replay.output
    assert client.pool("btc")["asset_reserve"] == DEPOSIT_SAT
    mine = _resumed_deposit(investor_env, client, bitcoin_node, tmp_path / "investor", me)
    pool = client.pool("btc")
    assert pool["asset_reserve"] == DEPOSIT_SAT + DEPOSIT_SAT // 2

    half = mine["shares"] // 2
    withdrawn = json.loads(
        _run(investor_env, "lp", "withdraw", "btc", str(half), "--passphrase-env", "PW",
             "--json").stdout
    )  # fmt: skip
    assert withdrawn["status"] == "confirmed"
    owed = client.obligations(me)
    assert len(owed) == 1 and withdrawn["obligations"] == liquidity_json(owed)
    assert owed[0]["asset"] == "btc" and owed[0]["investor"] == me
    assert owed[0]["amount"] == half * pool["asset_reserve"] // pool["total_shares"]
    assert owed[0]["destination"] == investor["btc"]["public_key"]
    listed = json.loads(_run(investor_env, "lp", "obligations", me, "--json").stdout)
    assert listed == liquidity_json(owed)
    after = client.positions(me)[0]
    assert after["shares"] == mine["shares"] - half
    assert client.pool("btc")["asset_reserve"] == pool["asset_reserve"] - owed[0]["amount"]
