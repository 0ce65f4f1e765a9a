"""The exchange on a real ETM node process, driven by the CLI with a real wallet keystore.

The node is ``etm-bridge node run`` on a dev chain whose genesis lists the exchange plug-in in
``tx_plugins``. A wallet is created with ``etm-bridge wallet new``, funded with a transfer, and
then: ``bind --chain btc`` (state shows the wallet's BTC pubkey), ``pool create btc`` (the pool
lists the wallet as operator), ``lp withdraw`` without shares (a one-line refusal naming
the reason), ``bind`` twice (the refusal names ``--rebind``), ``bind --unbind``. Binds in a
row (within one second) take the node's last nonce + 1, so none is ``nonce_replayed``, even
after an unbind; ``lp positions`` without ADDRESS reads the wallet's.
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
from etm_bridge.chain.state import State
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.exchange import plans
from etm_bridge.node.config import CHAIN_DB
from etm_bridge.store import ChainStore
from etm_bridge.units import ETM
from etm_bridge.wallet.keystore import UNSAFE_FAST_KDF

PLUGIN = "etm_bridge.exchange.txtypes"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[EtmNodeProcess]:
    init = {"delegates": 3, "block_time_s": 1, "funded_accounts": 1, "tx_plugins": (PLUGIN,)}
    with etm_node_in(tmp_path / "node", **init) as proc:
        yield proc


@pytest.fixture
def env(node: EtmNodeProcess, tmp_path: Path) -> dict[str, str]:
    assert node.client is not None
    return {
        "ETM_BRIDGE_KEYSTORE": str(tmp_path / "keystore.json"),
        "ETM_BRIDGE_ETM_URL": node.client.url,
        "ETM_BRIDGE_KDF_OPSLIMIT": str(UNSAFE_FAST_KDF.opslimit),
        "ETM_BRIDGE_KDF_MEMLIMIT": str(UNSAFE_FAST_KDF.memlimit_bytes),
        "ETM_STACK_DIR": str(tmp_path / "no-stack"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "PW": "correct horse battery staple",
    }


def run(env: dict[str, str], *args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert (result.exit_code == 0) is ok, result.output
    return result


def test_bind_pool_create_and_rejection_through_a_real_node(
    node: EtmNodeProcess, env: dict[str, str], tmp_path: Path
) -> None:
    client = node.client
    assert client is not None
    run(env, "wallet", "new", "--passphrase-env", "PW")
    shown = json.loads(run(env, "wallet", "show", "--json").output)["public"]
    etm_address, btc_pub = shown["etm"]["address"], shown["btc"]["public_key"]
    funder = dev_key("user-0")
    payload = TransferPayload(decode_address(etm_address), 10 * ETM).encode()
    network = client.status()["networkId"]
    tx = Tx.create(funder, network=network, type_id=TRANSFER, nonce=0, fee=100_000, payload=payload)
    client.submit_tx(tx.encoded)

    bound = json.loads(
        run(env, "bind", "--chain", "btc", "--passphrase-env", "PW", "--json").output
    )
    assert bound["status"] == "confirmed" and bound["key"] == btc_pub
    rebound = run(env, "bind", "--chain", "btc", "--rebind", "--passphrase-env", "PW", "--json")
    assert json.loads(rebound.output)["status"] == "confirmed"
    twice = run(env, "bind", "--chain", "btc", "--passphrase-env", "PW", ok=False).output
    assert "already_bound" in twice and "bind --chain btc --rebind" in twice, twice  # issue 15
    assert client.last_binding_nonce(etm_address, "btc") == 2  # the refused bind used none
    assert client.last_binding_nonce(etm_address, "eth") is None
    store = ChainStore.open(node.data_dir / CHAIN_DB)
    try:
        binding = plans.get_binding(State(store, ()), decode_address(etm_address), "btc")
        assert binding is not None and binding.key.hex() == btc_pub
    finally:
        store.close()

    run(env, "pool", "create", "btc", "--min-confirmations", "1", "--min-withdrawal", "0.001",
        "--passphrase-env", "PW")  # fmt: skip
    pools = json.loads(run(env, "pool", "list", "--json").output)
    assert [(p["asset"], p["operator"], p["claim_key"]) for p in pools] == [
        ("btc", etm_address, btc_pub)
    ]
    assert pools[0]["min_withdrawal"]["base_units"] == "100000"  # 0.001 BTC, over the floor
    assert "least withdrawal 0.001" in run(env, "pool", "show", "btc").output
    assert json.loads(run(env, "lp", "positions", "--json").output) == []
    refused = run(env, "lp", "withdraw", "btc", "1", "--min-asset", "0.5", "--passphrase-env",
                  "PW", ok=False)  # fmt: skip
    assert refused.output.startswith("error: ") and "holds no btc pool shares" in refused.output
    assert len(refused.output.strip().splitlines()) == 1

    run(env, "bind", "--chain", "btc", "--unbind", "--passphrase-env", "PW")
    store = ChainStore.open(node.data_dir / CHAIN_DB)
    try:
        assert plans.get_binding(State(store, ()), decode_address(etm_address), "btc") is None
    finally:
        store.close()
    again = run(env, "bind", "--chain", "btc", "--passphrase-env", "PW", "--json")
    assert json.loads(again.output)["status"] == "confirmed"
    assert client.last_binding_nonce(etm_address, "btc") == 3
