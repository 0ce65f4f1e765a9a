"""The ``etm-bridge node`` read verbs against a real node: every one answers, ``--json`` parses,
a block is found by each of its references, and an unknown id is a one-line error."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in

from etm_bridge.chain.address import address_of
from etm_bridge.chain.keys import dev_key
from etm_bridge.errors import NotFoundError


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtmNodeProcess]:
    home = tmp_path_factory.mktemp("node") / "data"
    with etm_node_in(home, delegates=3, block_time_s=1, funded_accounts=1) as proc:
        assert proc.client is not None
        proc.client.wait_for_height(2)
        yield proc


def _read(node: EtmNodeProcess, *args: str) -> dict:
    assert node.client is not None
    result = CliRunner().invoke(cli, ["node", *args, "--url", node.client.url, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_block_by_height_display_id_full_id_and_latest(node: EtmNodeProcess) -> None:
    first = _read(node, "block", "1")
    assert first["height"] == 1 and len(first["full_id"]) == 64
    assert _read(node, "block", first["id"])["full_id"] == first["full_id"]
    assert _read(node, "block", first["full_id"])["id"] == first["id"]
    assert _read(node, "block")["height"] >= 2


def test_status_account_round_and_delegates(node: EtmNodeProcess) -> None:
    assert _read(node, "status")["height"] >= 2
    user = address_of(dev_key("user-0").public_key)
    assert _read(node, "account", user)["balance"] > 0
    order = _read(node, "round")["order"]
    delegates = _read(node, "delegates")["delegates"]
    assert sorted(d["public_key"] for d in order) == sorted(d["public_key"] for d in delegates)


def test_an_unknown_transaction_is_a_one_line_error(node: EtmNodeProcess) -> None:
    assert node.client is not None
    args = ["node", "tx", "ab" * 32, "--url", node.client.url]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == NotFoundError.exit_code and "not found" in result.output
    assert "Traceback" not in result.output
