"""The command line's one output module (etm_bridge_cli.output) and its lazy root: errors as
JSON under --json with a stable code and a fix, exit codes in --help, amounts as base-unit
strings plus display strings, snake_case keys, and a --help / --version that import no verb."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from etm_bridge_cli import output
from etm_bridge_cli.main import COMMANDS, cli

from etm_bridge.errors import NodeUnavailableError, SwapNotFoundError


def _run(tmp_path: Path, *args: str):
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "ETM_STACK_DIR": str(tmp_path / "no-stack")}
    return CliRunner(env=env).invoke(cli, list(args))


def test_each_verb_summary_in_the_root_help_is_the_verbs_own() -> None:
    for name, summary in COMMANDS.items():
        command = cli.get_command(click.Context(cli), name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=10**4) == summary, name


def test_help_and_version_import_no_verb_nor_web3() -> None:
    code = (
        "import sys; from etm_bridge_cli.main import cli\n"
        "try: cli(['--help'])\nexcept SystemExit: pass\n"
        "try: cli(['--version'])\nexcept SystemExit: pass\n"
        "heavy = [m for m in ('web3', 'eth_account', 'etm_bridge_regtest', 'etm_bridge_bitcoin',"
        " 'etm_bridge_ethereum', 'etm_bridge_cli.swap', 'etm_bridge.app.context')"
        " if m in sys.modules]\n"
        "print(heavy)"
    )  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_help_documents_exit_codes_and_completion(tmp_path: Path) -> None:
    text = _run(tmp_path, "--help").output
    assert "Exit codes:" in text and "4  a node did not answer" in text
    assert "_ETM_BRIDGE_COMPLETE=bash_source etm-bridge" in text
    for name in COMMANDS:
        assert f"  {name} " in text


def test_an_error_under_json_is_a_json_object_with_code_message_and_fix(tmp_path: Path) -> None:
    result = _run(tmp_path, "swap", "status", "nope", "--home", str(tmp_path / "h"), "--json")
    assert result.exit_code == SwapNotFoundError.exit_code == 1
    body = json.loads(result.stdout)
    assert set(body) == {"error"}
    assert body["error"]["code"] == "swap_not_found"
    assert "nope" in body["error"]["message"] and body["error"]["exit_code"] == 1
    assert result.stderr == "" and len(result.stdout.splitlines()) == 1


def test_an_error_without_json_is_one_line_on_stderr(tmp_path: Path) -> None:
    result = _run(tmp_path, "swap", "status", "nope", "--home", str(tmp_path / "h"))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1


def test_error_codes_and_fixes() -> None:
    exc = NodeUnavailableError("bitcoin node at http://x unreachable")
    assert output.error_code(exc) == "node_unavailable"
    assert "start the node" in (output.error_fix(exc) or "")
    exc.fix = "run `etm-bridge stack up`"  # type: ignore[attr-defined]
    assert output.error_json(exc)["error"]["fix"] == "run `etm-bridge stack up`"


@pytest.mark.parametrize(
    ("wei", "display"),
    [
        (5 * 10**17, "0.5 ETH"),
        (123_456_789_012_345_678, "~0.12345679 ETH"),
        (10**18 + 10**10, "1.00000001 ETH"),
        (1, "~0 ETH"),
    ],
)
def test_eth_is_displayed_at_eight_decimals_and_json_keeps_every_wei(wei: int, display: str):
    assert output.display_amount(wei, "eth") == display
    assert output.amount_json(wei, "eth") == {"base_units": str(wei), "display": display}
    assert int(output.amount_json(wei, "eth")["base_units"]) == wei  # beyond 2**53 too


def test_snake_keys_converts_a_node_answer_recursively() -> None:
    node = {"finalHeight": 3, "peers": [{"nodeId": "a", "lastSeen": 1}], "already_snake": 1,
            "blockTimeS": 1}  # fmt: skip
    assert output.snake_keys(node) == {
        "final_height": 3, "peers": [{"node_id": "a", "last_seen": 1}], "already_snake": 1,
        "block_time_s": 1,
    }  # fmt: skip


def test_snake_keys_leaves_data_used_as_keys_alone() -> None:
    """Hex public keys and addresses are data, not field names: never rewritten."""
    keyed = {"highestSlots": {"ab" * 32: 5, "E9Kx3bQ2": 1, "0xAbCd12": 2}}
    assert output.snake_keys(keyed) == {"highest_slots": {"ab" * 32: 5, "E9Kx3bQ2": 1,
                                                          "0xAbCd12": 2}}  # fmt: skip
