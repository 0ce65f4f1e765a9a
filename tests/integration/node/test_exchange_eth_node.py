"""An investor deposits ETH into the ETH pool through the CLI, on real nodes (anvil + ETM).

The operator's PoolVault is deployed on anvil first, so the ETM chain's genesis can name it
(``node init --eth-rpc ... --eth-vault OPERATOR=VAULT``; no HTLC contract: deposits are vault
events and must be provable without one); the investor's ETM key is made a
trusted Ethereum relayer at init, so ``lp deposit eth --relay`` relays the headers itself.
The deposit is proven by the vault's ``Deposited`` event (receipt + transaction proofs against
the relayed header); the ether reaches the operator in the same transaction. The vault is
found from the ETM chain's relay (``pool_vaults``), with no ``--vault`` flag.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli
from etm_bridge_ethereum.deploy import deploy_contract
from etm_bridge_ethereum.vault import VAULT
from etm_bridge_regtest.etm_process import etm_node_running

from etm_bridge.chain.address import decode_address
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.units import ETM
from etm_bridge.wallet import load_keystore
from etm_bridge.wallet.keystore import UNSAFE_FAST_KDF

DEPOSIT_WEI = 10**18
DEPOSIT_ETM = 100 * ETM
PW = "correct horse battery staple"


def _env(home: Path, anvil_node: Any) -> dict[str, str]:
    return {
        "ETM_BRIDGE_KEYSTORE": str(home / "keystore.json"),
        "ETM_BRIDGE_ETHEREUM_RPC_URL": anvil_node.rpc_url,
        "ETM_BRIDGE_KDF_OPSLIMIT": str(UNSAFE_FAST_KDF.opslimit),
        "ETM_BRIDGE_KDF_MEMLIMIT": str(UNSAFE_FAST_KDF.memlimit_bytes),
        "ETM_STACK_DIR": str(home / "no-stack"),
        "XDG_CONFIG_HOME": str(home / "xdg-config"),
        "XDG_DATA_HOME": str(home / "xdg-data"),
        "PW": PW,
    }


def _run(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def _wallet(env: dict[str, str], anvil_node: Any) -> dict[str, Any]:
    """A new wallet whose Ethereum address gets 5 ETH from anvil's first account."""
    _run(env, "wallet", "new", "--passphrase-env", "PW")
    public = json.loads(_run(env, "wallet", "show", "--json").stdout)["public"]
    anvil_node.send_transaction(
        anvil_node.private_keys[0], public["eth"]["address"], value_wei=5 * 10**18, gas=21_000
    )
    return public


@pytest.fixture
def world(tmp_path: Path, anvil_node: Any) -> Iterator[dict[str, Any]]:
    operator_env = _env(tmp_path / "operator", anvil_node)
    investor_env = _env(tmp_path / "investor", anvil_node)
    operator, investor = _wallet(operator_env, anvil_node), _wallet(investor_env, anvil_node)
    secret = load_keystore(tmp_path / "operator" / "keystore.json").unlock(PW)
    key = "0x" + secret.unsafe_export_chain_secret("eth").hex()
    vault = deploy_contract(anvil_node.rpc_url, key, tmp_path / "deploy", VAULT,
                            (operator["eth"]["address"],))  # fmt: skip
    data = tmp_path / "node"
    _run(operator_env, "node", "init", "--data-dir", str(data), "--delegates", "3",
         "--block-time", "1", "--funded", "1", "--port", "0", "--dev-pools",
         "--eth-rpc", anvil_node.rpc_url,
         "--eth-relayer", investor["etm"]["public_key"],
         "--eth-vault", f"{operator['eth']['address']}={vault.address}")  # fmt: skip
    with etm_node_running(data) as node:
        client = node.client
        assert client is not None
        for env in (operator_env, investor_env):
            env["ETM_BRIDGE_ETM_URL"] = client.url
        for nonce, who in enumerate((operator, investor)):
            payload = TransferPayload(decode_address(who["etm"]["address"]), 1_000 * ETM).encode()
            tx = Tx.create(dev_key("user-0"), network=client.status()["networkId"],
                           type_id=TRANSFER, nonce=nonce, fee=100_000, payload=payload)  # fmt: skip
            client.submit_tx(tx.encoded)
        client.wait_for_height(client.status()["height"] + 1)
        yield {"client": client, "operator": operator, "investor": investor,
               "vault": vault.address, "operator_env": operator_env,
               "investor_env": investor_env}  # fmt: skip


def test_investor_deposits_eth_through_the_vault_proven_by_spv(
    world: dict[str, Any], anvil_node: Any
) -> None:
    client, investor, operator = world["client"], world["investor"], world["operator"]
    _run(world["operator_env"], "pool", "create", "eth", "--min-confirmations", "1",
         "--passphrase-env", "PW")  # fmt: skip
    me = investor["etm"]["address"]
    args = ["lp", "deposit", "eth", "1", "--etm", "100", "--passphrase-env", "PW"]
    # issue 15: the vault is the one the ETM chain names (no flag); another one is refused
    # before anything is paid (a deposit into it could never be proven)
    wrong = CliRunner().invoke(cli, [*args, "--vault", "0x" + "11" * 20], env=world["investor_env"])
    assert wrong.exit_code != 0 and "is not the eth pool's vault" in wrong.output, wrong.output
    assert world["vault"].lower() in wrong.output.lower()
    operator_wei = anvil_node.balance_wei(operator["eth"]["address"])

    flags = ["--relay", "--passphrase-env", "PW", "--json"]
    result = _run(world["investor_env"], "lp", "deposit", "eth", "1 ETH", "--etm", "100", *flags)
    deposit = json.loads(result.stdout)
    assert deposit["status"] == "confirmed" and deposit["amount"]["base_units"] == str(DEPOSIT_WEI)
    assert "ETM relay confirmations" in result.stderr

    assert anvil_node.balance_wei(operator["eth"]["address"]) == operator_wei + DEPOSIT_WEI
    pool = client.pool("eth")
    assert (pool["asset_reserve"], pool["etm_reserve"]) == (DEPOSIT_WEI, DEPOSIT_ETM)
    positions = json.loads(_run(world["investor_env"], "lp", "positions", me, "--json").stdout)
    assert [p["asset"] for p in positions] == ["eth"] and int(positions[0]["shares"]) > 0
    head = int(anvil_node.rpc.call("eth_blockNumber"), 16)
    assert client.spv_relay("eth")["tip"]["number"] == head  # relayed by the investor's trusted key
