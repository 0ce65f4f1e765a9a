"""``etm-bridge pool`` / ``lp`` reads: they ask the ETM node's API, never its database.

The reads themselves run against a real node in
``tests/integration/node/test_exchange_node.py``; here, what needs no node: a node that does
not answer and bad arguments are one-line errors naming what was wrong.
"""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner
from etm_bridge_cli.main import cli

from etm_bridge.chain.address import encode_address


def _dead_url() -> str:
    """A loopback URL nothing listens on (a port just released by the OS)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    "args",
    [
        ["pool", "list"],
        ["pool", "show", "btc"],
        ["pool", "quote", "btc", "0.001 BTC"],
        ["lp", "positions", encode_address(bytes(20))],
        ["lp", "obligations"],
    ],
)
def test_reads_without_a_node_are_a_one_line_error(args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--url", _dead_url()])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "did not answer" in lines[0]


def test_bad_amounts_and_addresses_are_named() -> None:
    url = _dead_url()
    quote = CliRunner().invoke(cli, ["pool", "quote", "btc", "0.000000001", "--url", url])
    assert quote.exit_code != 0 and quote.output.startswith("error: ")
    token = CliRunner().invoke(cli, ["pool", "quote", "erc20:ab", "1.5", "--url", url])
    assert token.exit_code != 0 and "whole number of base units" in token.output
    who = CliRunner().invoke(cli, ["lp", "positions", "nobody", "--url", url])
    assert who.exit_code != 0 and who.output.startswith("error: ")


def test_a_node_that_does_not_answer_is_named_without_library_text() -> None:
    """Issue 15: the error was urllib3's "HTTPConnectionPool(...): Max retries exceeded ..."."""
    result = CliRunner().invoke(cli, ["pool", "list", "--url", _dead_url()])
    line = result.output.strip()
    assert "is it running?" in line, line
    for library in ("HTTPConnectionPool", "Max retries", "urllib3", "NewConnectionError"):
        assert library not in line, line
