"""``etm-bridge stack up|status|down``: the local stack of real nodes (etm_bridge_regtest.stack).

State directory and ports come from ``ETM_STACK_DIR`` / ``ETM_STACK_BASE_PORT`` (defaults:
``./.etm/stack``, bitcoin RPC 18443, bcoin wallet 18445, anvil 8545, ETM node 26657). Errors
(port taken, binary missing, a node that died while starting) are StackError: one line plus
the node's log tail, exit code 3.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click
from etm_bridge_regtest import stack as regtest_stack

#: Info keys shown in the human-readable output, in this order.
_SHOWN = (
    "kind",
    "rpc_url",
    "rpc_user",
    "rpc_password",
    "admin_token",
    "chain_id",
    "faucet_address",
    "log",
)


def _describe(name: str, info: Mapping[str, Any], headline: str) -> list[str]:
    lines = [f"{name}: {headline}"]
    lines += [f"  {key:<15} {info[key]}" for key in _SHOWN if info.get(key) is not None]
    accounts = info.get("accounts") or []
    keys = info.get("private_keys") or []
    if accounts and keys:
        lines.append(f"  {'account[0]':<15} {accounts[0]}")
        lines.append(f"  {'private_key[0]':<15} {keys[0]}  (anvil dev key, public)")
    return lines


@click.group("stack")
def group() -> None:
    """Local stack of real nodes: Bitcoin regtest, anvil and the ETM node."""


@group.command("up")
@click.option("--json", "as_json", is_flag=True, help="Print endpoints as JSON.")
def up_command(as_json: bool) -> None:
    """Start every node not already running, wait until each answers, print endpoints."""
    config = regtest_stack.StackConfig.from_env()
    report = regtest_stack.up(config)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    for name, info in report.items():
        click.echo("\n".join(_describe(name, info, f"{info['action']} (pid {info['pid']})")))
    click.echo(f"state: {config.state_file}")


@group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print status as JSON.")
def status_command(as_json: bool) -> None:
    """Say which nodes run (pidfile) and answer RPC."""
    config = regtest_stack.StackConfig.from_env()
    report = regtest_stack.status(config)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    for name, info in report.items():
        if info["running"]:
            state = "answering" if info["answering"] else "running, NOT answering"
            headline = f"{state} (pid {info['pid']})"
        else:
            headline = "stopped"
        click.echo("\n".join(_describe(name, info, headline)))


@group.command("down")
def down_command() -> None:
    """Stop the nodes this stack started (pidfiles only), cleanly."""
    config = regtest_stack.StackConfig.from_env()
    for name, outcome in regtest_stack.down(config).items():
        click.echo(f"{name}: {outcome}")
