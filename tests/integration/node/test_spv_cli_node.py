"""``etm-bridge spv relay --url`` / ``spv status --url``: the relayer and the status read the
ETM relay through the node's API (no data dir), on a ``node init`` chain and the regtest node."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in

from etm_bridge.chain.address import decode_address
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.units import ETM
from etm_bridge.wallet.keystore import UNSAFE_FAST_KDF


@pytest.fixture
def node(tmp_path: Path) -> Iterator[EtmNodeProcess]:
    with etm_node_in(tmp_path / "node", delegates=3, block_time_s=1, funded_accounts=1) as proc:
        yield proc


def _run(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def test_relay_and_status_through_the_api(
    node: EtmNodeProcess, bitcoin_node: Any, tmp_path: Path
) -> None:
    client = node.client
    assert client is not None
    env = {
        "ETM_BRIDGE_KEYSTORE": str(tmp_path / "keystore.json"),
        "ETM_BRIDGE_BITCOIN_RPC_URL": bitcoin_node.rpc_url,
        "ETM_BRIDGE_BITCOIN_RPC_USER": bitcoin_node.rpc_user,
        "ETM_BRIDGE_BITCOIN_RPC_PASSWORD": bitcoin_node.rpc_password,
        "ETM_BRIDGE_KDF_OPSLIMIT": str(UNSAFE_FAST_KDF.opslimit),
        "ETM_BRIDGE_KDF_MEMLIMIT": str(UNSAFE_FAST_KDF.memlimit_bytes),
        "ETM_STACK_DIR": str(tmp_path / "no-stack"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "PW": "correct horse battery staple",
    }
    _run(env, "wallet", "new", "--passphrase-env", "PW")
    address = json.loads(_run(env, "wallet", "show", "--json").stdout)["public"]["etm"]["address"]
    payload = TransferPayload(decode_address(address), 10 * ETM).encode()
    funding = Tx.create(dev_key("user-0"), network=client.status()["networkId"],
                        type_id=TRANSFER, nonce=0, fee=100_000, payload=payload)  # fmt: skip
    client.submit_tx(funding.encoded)
    assert json.loads(_run(env, "spv", "status", "--url", client.url, "--json").stdout) == {}
    bitcoin_node.mine(2)

    url = ["--url", client.url, "--passphrase-env", "PW"]
    relayed = _run(env, "spv", "relay", *url, "--max-iterations", "2", "--interval", "0")
    height = bitcoin_node.height()
    assert relayed.stdout.splitlines() == [f"relayed {height} header(s)", "relayed 0 header(s)"]
    status = json.loads(_run(env, "spv", "status", "--url", client.url, "--json").stdout)
    assert status["bitcoin"]["tip"]["height"] == height
    assert status["bitcoin"]["tip"]["hash"] == bitcoin_node.rpc.call("getbestblockhash")
    assert status == client.spv_status()
