"""``wallet new`` then ``wallet balance --json`` against real nodes: bitcoin regtest, anvil, ETM.

The wallet's addresses are funded on each chain, the balances read back through the CLI, then
each chain's exported key spends from its address (so the keystore's keys really control the
addresses it shows), and finally a node that goes down shows as unreachable on its row only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli
from etm_bridge_regtest.anvil import AnvilNode
from etm_bridge_regtest.bitcoin import BitcoinNode
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in
from etm_bridge_regtest.ownkey import OwnKey

from etm_bridge.chain.address import decode_address
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.chains.ethereum import ETH
from etm_bridge.node.client import NodeClient
from etm_bridge.units import ETM
from etm_bridge.wallet import load_keystore

FEE = 100_000
PASSPHRASE = "integration passphrase"


@pytest.fixture
def etm_node(tmp_path: Path) -> Iterator[EtmNodeProcess]:
    with etm_node_in(tmp_path / "etm", delegates=3, block_time_s=1, funded_accounts=2) as proc:
        yield proc


def _cli_env(tmp_path: Path, etm: EtmNodeProcess, btc: BitcoinNode, eth: AnvilNode) -> dict:
    assert etm.client is not None
    return {
        "ETM_STACK_DIR": str(tmp_path / "no-stack"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "ETM_BRIDGE_CONFIG": "",
        "ETM_BRIDGE_KEYSTORE": "",
        "ETM_BRIDGE_NETWORK": "regtest",
        "ETM_BRIDGE_DATA_DIR": str(tmp_path / "wallet"),
        "ETM_BRIDGE_KDF_OPSLIMIT": "1",
        "ETM_BRIDGE_KDF_MEMLIMIT": "8192",
        "ETM_BRIDGE_ETM_URL": etm.client.url,
        "ETM_BRIDGE_BITCOIN_RPC_URL": btc.rpc_url,
        "ETM_BRIDGE_BITCOIN_RPC_USER": btc.rpc_user,
        "ETM_BRIDGE_BITCOIN_RPC_PASSWORD": btc.rpc_password,
        "ETM_BRIDGE_ETHEREUM_RPC_URL": eth.rpc_url,
        "WALLET_PW": PASSPHRASE,
    }


def _wallet(env: dict, *args: str, exit_code: int = 0) -> dict[str, Any]:
    result = CliRunner(env=env).invoke(cli, ["wallet", *args, "--json"])
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def _balances(env: dict, exit_code: int = 0) -> dict[str, Any]:
    """The rows of the chains this test configures; every other installed chain's row says it
    is not configured (and the command still answers)."""
    rows = _wallet(env, "balance", exit_code=exit_code)["balances"]
    for chain, row in rows.items():
        if chain not in {"etm", "btc", "eth"}:
            assert row["balance"] is None and row["error"].startswith("not configured"), row
    return {
        chain: int(row["balance"]) if row["error"] is None else row["error"]
        for chain, row in rows.items()
        if chain in {"etm", "btc", "eth"}
    }


def _etm_send(client: NodeClient, key: SigningKey, to_address: str, amount: int) -> None:
    """Sign a transfer, submit it and wait until it is forged into a block."""
    sender = client.account(_address_of(key))
    payload = TransferPayload(decode_address(to_address), amount).encode()
    tx = Tx.create(
        key, network=client.status()["networkId"], type_id=TRANSFER,
        nonce=sender["nonce"], fee=FEE, payload=payload,
    )  # fmt: skip
    tx_id = client.submit_tx(tx.encoded)["id"]
    deadline = time.monotonic() + 20
    while client.transaction(tx_id)["status"] != "confirmed":
        assert time.monotonic() < deadline, f"ETM tx {tx_id} not forged in 20 s"
        time.sleep(0.1)


def _address_of(key: SigningKey) -> str:
    from etm_bridge.chain.address import address_of

    return address_of(key.public_key)


def test_new_wallet_sees_funds_on_all_three_chains_and_its_keys_spend_them(
    tmp_path: Path, etm_node: EtmNodeProcess, bitcoin_node: BitcoinNode, anvil_node: AnvilNode
) -> None:
    env = _cli_env(tmp_path, etm_node, bitcoin_node, anvil_node)
    created = _wallet(env, "new", "--passphrase-env", "WALLET_PW")
    shown = _wallet(env, "show")["addresses"]
    assert shown["etm"] == created["public"]["etm"]["address"]
    assert _balances(env) == {"etm": 0, "btc": 0, "eth": 0}

    # Fund from each chain's faucet.
    client = etm_node.client
    assert client is not None
    _etm_send(client, dev_key("user-0"), shown["etm"], 12 * ETM + 50_000_000)
    btc_txid = bitcoin_node.fund(shown["btc"], 1_234_567)
    anvil_node.send_transaction(
        anvil_node.private_keys[0], shown["eth"], value_wei=3 * ETH + 12_345
    )
    assert _balances(env) == {
        "etm": 12 * ETM + 50_000_000,
        "btc": 1_234_567,
        "eth": 3 * ETH + 12_345,
    }

    # The keystore's keys control those addresses: spend from each one.
    wallet = load_keystore(Path(env["ETM_BRIDGE_DATA_DIR"]) / "keystore.json").unlock(PASSPHRASE)
    _etm_send(client, wallet.etm_signing_key(), _address_of(dev_key("user-1")), ETM)
    own = OwnKey(wallet.unsafe_export_chain_secret("btc"))
    assert own.address == shown["btc"]
    raw = own.spend(
        own.find_output(bitcoin_node.rpc, btc_txid), bitcoin_node.faucet_address(), 1_000
    )
    bitcoin_node.rpc.call("sendrawtransaction", raw)
    bitcoin_node.mine(1)
    receipt = anvil_node.send_transaction(
        "0x" + wallet.unsafe_export_chain_secret("eth").hex(), anvil_node.accounts[1], value_wei=ETH
    )
    gas_paid = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    assert _balances(env) == {
        "etm": 11 * ETM + 50_000_000 - FEE,
        "btc": 0,
        "eth": 2 * ETH + 12_345 - gas_paid,
    }

    # A node that goes down is reported on its own row; the other chains still answer, and the
    # command fails (exit 4): a balance it could not read is not 0 (issue 15)
    etm_node.stop()
    after = _balances(env, exit_code=4)
    assert after["etm"] == f"unreachable: {client.url}"
    assert after["btc"] == 0 and after["eth"] == 2 * ETH + 12_345 - gas_paid
