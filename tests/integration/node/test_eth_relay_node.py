"""``node init --eth-rpc``: an ETM node whose Ethereum relay starts at anvil's head, fed by a
trusted relayer through the node API (``header_feed.relay_missing_headers``), on real nodes.

The relay's checkpoint is genesis state (``genesis.json`` -> ``plugins.spv``), read from anvil
at init; the default trusted relayer is the development key ``user-0``. Another key's headers
are rejected as ``spv_untrusted_relayer``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_running

from etm_bridge.adapter import Tip
from etm_bridge.chain.keys import dev_key
from etm_bridge.chains.ethereum.spv.rlp import encode_checked_header, header_hash
from etm_bridge.errors import TxRejectedError
from etm_bridge.etm_client import header_feed
from etm_bridge.jsonrpc import JsonRpcClient

OPERATOR, VAULT = "0x" + "11" * 20, "0x" + "22" * 20


class AnvilHeaders:
    """Headers of anvil's chain as the Ethereum adapter reads them (eth_getBlockByNumber)."""

    def __init__(self, rpc: JsonRpcClient) -> None:
        self.rpc = rpc

    def tip(self) -> Tip:
        block = self.rpc.call("eth_getBlockByNumber", "latest", False)
        return Tip(int(block["number"], 16), block["hash"][2:])

    def headers(self, start_height: int, count: int) -> list[bytes]:
        out = []
        for number in range(start_height, min(start_height + count, self.tip().height + 1)):
            out.append(encode_checked_header(self.rpc.call("eth_getBlockByNumber", hex(number),
                                                           False)))  # fmt: skip
        return out


@pytest.fixture
def node(tmp_path: Path, anvil_node: Any) -> Iterator[EtmNodeProcess]:
    data = tmp_path / "node"
    args = ["node", "init", "--data-dir", str(data), "--delegates", "3", "--block-time", "1",
            "--funded", "2", "--port", "0", "--eth-rpc", anvil_node.rpc_url,
            "--eth-vault", f"{OPERATOR}={VAULT}", "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["eth_relay"] is True
    with etm_node_running(data) as proc:
        yield proc


def test_the_eth_relay_starts_at_anvils_head_and_follows_it(
    node: EtmNodeProcess, anvil_node: Any
) -> None:
    client = node.client
    assert client is not None
    genesis = json.loads((node.data_dir / "genesis.json").read_text())
    checkpoint = client.spv_relay("eth")
    assert checkpoint["chain"] == "anvil"
    assert checkpoint["tip"]["number"] == checkpoint["checkpoint_number"]
    assert checkpoint["trusted_relayers"] == [dev_key("user-0").public_key.hex()]
    assert genesis["plugins"]["spv"]["eth_relayers"] == checkpoint["trusted_relayers"]
    assert genesis["plugins"]["spv"]["eth_pool_vaults"] == {OPERATOR[2:]: VAULT[2:]}
    anvil = AnvilHeaders(anvil_node.rpc)
    number = checkpoint["tip"]["number"]
    assert client.spv_best_hash("eth", number) == checkpoint["tip"]["hash"]
    assert checkpoint["tip"]["hash"] == "0x" + header_hash(anvil.headers(number, 1)[0]).hex()

    anvil_node.rpc.call("anvil_mine", 3)
    with pytest.raises(TxRejectedError) as refused:
        header_feed.relay_missing_headers(client, dev_key("user-1"), anvil, chain="eth")
    assert refused.value.reason == "spv_untrusted_relayer"

    sent = header_feed.relay_missing_headers(client, dev_key("user-0"), anvil, chain="eth", batch=2)
    tip = anvil.tip()
    assert sent == tip.height - checkpoint["tip"]["number"]
    assert client.spv_relay("eth")["tip"]["hash"] == "0x" + tip.block_hash_hex
    assert header_feed.relay_missing_headers(client, dev_key("user-0"), anvil, chain="eth") == 0
