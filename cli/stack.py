"""``etm-bridge stack up|status|down|faucet|operator``: the local stack of real nodes.

``up``/``status``/``down`` manage the nodes (etm_bridge_regtest.stack); ``faucet`` pays the
wallet's three addresses from the regtest faucets (etm_bridge_regtest.faucet); ``operator`` runs
the demo's pool operator so CLI swaps against the stack have a counterparty
(etm_bridge_regtest.demo.operator).

State directory and ports come from ``ETM_STACK_DIR`` / ``ETM_STACK_BASE_PORT`` (defaults:
``./.etm/stack``; each node's default port, or the base port plus its offset, is listed in
etm_bridge_regtest.stack; the ETM node's is 26657). Errors
(port taken, binary missing, a node that died while starting) are StackError: one line plus
the node's log tail, exit code 3.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click
from etm_bridge_regtest import stack as regtest_stack
from etm_bridge_regtest.faucet import FAUCETS, fund

from etm_bridge.errors import EtmBridgeError
from etm_bridge.units import format_amount, parse_amount

from .context import get_config
from .options import common_options
from .watch import run as run_watch

#: Info keys shown in the human-readable output, in this order.
_SHOWN = (
    "kind",
    "rpc_url",
    "rpc_user",
    "rpc_password",
    "wallet_url",
    "api_key",
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
        lines.append(f"  {'private_key[0]':<15} {keys[0]}  (development key, public)")
    return lines


@click.group("stack")
def group() -> None:
    """Local stack of real nodes: each chain's development node and the ETM node."""


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
        click.echo("\n".join(_describe(name, info, info["headline"])))
        click.echo("\n".join(f"  {n['name']:<15} {n['url']}  pid {n['pid']}  data {n['data_dir']}"
                              for n in info.get("nodes", [])))  # fmt: skip
    click.echo(f"state: {config.state_file}")


def _node_line(node: Mapping[str, Any]) -> str:
    """One ETM node of the network: url, height, final height, peers, forging keys, syncing."""
    head = f"  {node['name']:<7} {node['url']:<24}"
    if not node["running"]:
        return f"{head} stopped"
    if "height" not in node:
        return f"{head} running (pid {node['pid']}), NOT answering {node.get('error', '')}".rstrip()
    return (f"{head} height {node['height']:<6} final {node['final_height']:<6} "
            f"peers {node['peers']}  forging keys {node['forging_keys']}"
            f"{'' if node['forging'] else ' (off)'}  "
            f"{'SYNCING' if node['syncing'] else 'synced'}  (pid {node['pid']})")  # fmt: skip


@group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print status as JSON.")
def status_command(as_json: bool) -> None:
    """Say which nodes run (pidfile) and answer RPC; one line per ETM node of the network."""
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
        nodes = info.get("nodes") or []
        if nodes:
            up = sum(n["running"] for n in nodes)
            headline = f"{up} of {len(nodes)} nodes running"
        click.echo("\n".join(_describe(name, info, headline)))
        click.echo("\n".join(_node_line(n) for n in nodes))
    for name, reason in regtest_stack.unavailable(config).items():
        click.echo(f"{name}: {reason}")


@group.command("down")
def down_command() -> None:
    """Stop the nodes this stack started (pidfiles only), cleanly."""
    config = regtest_stack.StackConfig.from_env()
    for name, outcome in regtest_stack.down(config).items():
        click.echo(f"{name}: {outcome}")


def _faucet_options(func: Any) -> Any:
    """One ``--<asset> AMOUNT`` option per faucet of the stack (etm_bridge_regtest.faucet)."""
    for faucet in reversed(FAUCETS):
        func = click.option(f"--{faucet.asset}", faucet.asset, default=faucet.default,
                            show_default=True, help=faucet.help)(func)  # fmt: skip
    return func


@group.command("faucet")
@_faucet_options
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print what was paid as JSON.")
def faucet_command(as_json: bool, **asked: str) -> None:
    """Pay the wallet's addresses from the regtest stack's faucets (one option per asset).

    Reads only the keystore's public part (no passphrase). Each chain's node of the stack pays
    from its development funds and the payment is confirmed before the command returns."""
    from etm_bridge.wallet import load_keystore

    public = load_keystore(get_config().keystore_path).public
    amounts = {name: 0 if text.strip() in ("0", "0.0") else parse_amount(text, name)
               for name, text in asked.items()}  # fmt: skip
    paid = fund(regtest_stack.StackConfig.from_env(), public, amounts)
    if as_json:
        click.echo(json.dumps(paid, indent=2, sort_keys=True))
        return
    for name, info in paid.items():
        click.echo(f"{name}: paid {format_amount(info['amount'], name)} to {info['address']}"
                   f" (tx {info['txid']})")  # fmt: skip


@group.command("operator")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between ticks.")
@click.option("--ticks", type=int, default=None, help="Stop after this many ticks.")
@click.option(
    "--mine/--no-mine",
    default=True,
    show_default=True,
    help="Mine one block on each development chain after each tick (they have no miners or "
    "mine only on transactions: confirmations and timelocks need blocks).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per tick.")
def operator_command(interval: float, ticks: int | None, mine: bool, as_json: bool) -> None:
    """Run the demo's pool operator (`watch --operator` with its keys) on the local stack.

    After `etm-bridge demo`, the stack's pools are operated by the demo's operator, whose keys
    the demo kept in the stack dir: this drives its side of every pool swap (claims swap-in
    locks, locks swap-out legs) so CLI swaps against the stack finish, and pays the pools'
    withdrawal obligations (LP withdrawals) on their chains (Ctrl-C to stop)."""
    from etm_bridge_regtest.demo import operator

    config = regtest_stack.StackConfig.from_env()
    ctx, watcher = operator.operator_engine(config)
    mine_blocks, close_miner = operator.block_miner(config)
    pay = operator.obligation_payer(ctx, operator.journal_path(config), mine_blocks)

    def after_tick() -> None:
        if mine:
            mine_blocks()
        try:
            paid = pay()
        except EtmBridgeError as exc:  # retried next tick; the journal never pays twice
            click.echo(f"obligation payment: {exc}", err=True)
            return
        for done in paid:
            if as_json:
                click.echo(json.dumps({"obligation_paid": done.to_json()}, sort_keys=True))
            else:
                click.echo(f"paid obligation {done.obligation_id}: "
                           f"{format_amount(done.amount, done.asset)} (tx {done.txid}), "
                           "proven on ETM")  # fmt: skip

    try:
        run_watch(ctx, watcher, True, ticks, interval, 10, as_json, after_tick)
    finally:
        close_miner()
        operator.close_engine(ctx)
