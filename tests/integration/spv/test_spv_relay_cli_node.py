"""``etm-bridge spv relay`` and ``spv status`` with a real ETM node and a real regtest node.

The ETM node runs a dev chain whose genesis lists the ``etm_bridge.node.spv_plugin`` plug-in, so
its Bitcoin relay starts at the regtest genesis block. A wallet made by ``etm-bridge wallet new``
and funded by a transfer signs the relay transactions. After ``spv relay --once`` the chain's
relay tip is the Bitcoin node's best block; after more blocks are mined, a second round sends
exactly the new headers.
"""

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

PLUGIN = "etm_bridge.node.spv_plugin"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[EtmNodeProcess]:
    with etm_node_in(
        tmp_path / "node", delegates=3, block_time_s=1, funded_accounts=1, tx_plugins=(PLUGIN,)
    ) as proc:
        yield proc


def _env(node: EtmNodeProcess, bitcoin_node, tmp_path: Path) -> dict[str, str]:
    assert node.client is not None
    return {
        "ETM_BRIDGE_KEYSTORE": str(tmp_path / "keystore.json"),
        "ETM_BRIDGE_ETM_URL": node.client.url,
        "ETM_BRIDGE_BITCOIN_RPC_URL": bitcoin_node.rpc_url,
        "ETM_BRIDGE_BITCOIN_RPC_USER": bitcoin_node.rpc_user,
        "ETM_BRIDGE_BITCOIN_RPC_PASSWORD": bitcoin_node.rpc_password,
        "ETM_BRIDGE_KDF_OPSLIMIT": str(UNSAFE_FAST_KDF.opslimit),
        "ETM_BRIDGE_KDF_MEMLIMIT": str(UNSAFE_FAST_KDF.memlimit_bytes),
        "ETM_STACK_DIR": str(tmp_path / "no-stack"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "PW": "correct horse battery staple",
    }


def _run(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def test_relay_cli_feeds_the_live_chain_to_the_etm_relay(
    node: EtmNodeProcess, bitcoin_node, tmp_path: Path
) -> None:
    env = _env(node, bitcoin_node, tmp_path)
    client = node.client
    assert client is not None
    _run(env, "wallet", "new", "--passphrase-env", "PW")
    address = json.loads(_run(env, "wallet", "show", "--json").output)["public"]["etm"]["address"]
    payload = TransferPayload(decode_address(address), 10 * ETM).encode()
    funding = Tx.create(dev_key("user-0"), network=client.status()["networkId"],
                        type_id=TRANSFER, nonce=0, fee=100_000, payload=payload)  # fmt: skip
    client.submit_tx(funding.encoded)
    bitcoin_node.mine(3)
    data = str(node.data_dir)

    relayed = _run(env, "spv", "relay", "--once", "--data-dir", data, "--batch", "60",
                   "--passphrase-env", "PW")  # fmt: skip
    assert f"relayed {bitcoin_node.height()} header(s)" in relayed.output
    status = json.loads(_run(env, "spv", "status", "--data-dir", data, "--json").output)
    assert status["bitcoin"]["tip"]["height"] == bitcoin_node.height()
    assert status["bitcoin"]["tip"]["hash"] == bitcoin_node.rpc.call("getbestblockhash")

    bitcoin_node.mine(2)
    again = _run(env, "spv", "relay", "--once", "--data-dir", data, "--passphrase-env", "PW")
    assert "relayed 2 header(s)" in again.output
    status = json.loads(_run(env, "spv", "status", "--data-dir", data, "--json").output)
    assert status["bitcoin"]["tip"]["hash"] == bitcoin_node.rpc.call("getbestblockhash")
