"""``etm-bridge spv risk|status|relay`` (and the plugins' ``spv`` verbs): the relays on ETM.

``risk`` prints how many confirmations an attacker hash share ``q`` and a risk tolerance need
by the exact formula of whitepaper section 3.1 (Grunspan and Pérez-Marco), with Nakamoto's
Poisson figure beside it. ``status`` reads the relays' tips, heights, chain work and forks from
an ETM node's API (``--url``, else the configured ``etm.url``: the local stack's node when it is
up), or offline from a node's data directory (``--data-dir``; without any node configured:
``<home>/node``). ``relay`` is a relayer (:func:`etm_bridge.app.relays.feed`): for each
configured chain whose relay anyone may feed, it compares its node's best chain with the ETM
relay (read from the node's API) and sends the missing headers as signed transactions from the
wallet's ETM key, one batch per transaction, waiting for each. Chain plugins add verbs of their
own (entry-point group ``etm_bridge.cli``, e.g. an offline inclusion-proof check ``spv verify``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from etm_bridge.app import relays
from etm_bridge.errors import ValidationError

from .context import app_context
from .contributed import ContributedGroup
from .options import common_options, fee_option, home_option, json_option, passphrase_option

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="ETM_NODE_DIR",
    help="Read this ETM node's data directory (chain.sqlite; read only) instead of its API.",
)


@click.group("spv", cls=ContributedGroup)
def group() -> None:
    """SPV: confirmation risk and offline inclusion-proof checks."""


@group.command("risk")
@click.option("--q", "q", required=True, help="Attacker share of the hash rate, e.g. 0.1.")
@click.option("--risk", "tolerance", required=True, help="Acceptable success chance, e.g. 1e-6.")
@json_option
def risk_command(q: str, tolerance: str, as_json: bool) -> None:
    """Confirmations needed so an attacker with share Q succeeds with chance <= RISK."""
    out = relays.confirmation_rule(q, tolerance)
    exact, nakamoto = out["confirmations"], out["nakamoto_confirmations"]
    probability = out["attacker_success_probability"]
    if as_json:
        click.echo(json.dumps(out))
        return
    click.echo(f"attacker share q = {q}, risk tolerance = {tolerance}")
    click.echo(f"confirmations (exact, whitepaper 3.1):  {exact}  (P = {probability:.3g})")
    click.echo(f"confirmations (Nakamoto's Poisson):     {nakamoto}")


url_option = click.option(
    "--url", default=None, help="The ETM node's API (default: the etm.url setting)."
)


@group.command("status")
@data_dir_option
@url_option
@home_option
@json_option
def status_command(data_dir: Path | None, url: str | None, as_json: bool) -> None:
    """Relay tips, heights, chain work and forks: from the node's API (--url, else the etm.url
    setting), or offline from --data-dir."""
    status = relays.status(app_context(), url=url, data_dir=data_dir)
    if as_json:
        click.echo(json.dumps(status))
        return
    if not status:
        click.echo("no SPV relay is configured in this chain's genesis")
    for name, relay in status.items():
        for line in _status_lines(name, relay):
            click.echo(line)


def _status_lines(name: str, relay: dict[str, Any]) -> list[str]:
    """A relay's status as text: what its status JSON holds (a relay that tracks work and
    forks says so; one fed by trusted relayers counts them)."""
    tip = relay["tip"]
    height = tip.get("height", tip.get("number"))
    lines = [f"{name} {relay.get('network') or relay.get('chain')}: tip {height} {tip['hash']}"]
    if "chain_work" in tip:
        lines.append(f"  chain work {tip['chain_work']}, checkpoint {relay['checkpoint_height']}")
    if "forks" in relay:
        forks = relay["forks"]
        lines.append(f"  confirmations required {relay['min_confirmations']}, forks {len(forks)}")
        lines += [f"  fork tip {fork['height']} {fork['hash']}" for fork in forks]
    if "trusted_relayers" in relay:
        lines.append(f"  trusted relayers {len(relay['trusted_relayers'])}")
    return lines


@group.command("relay")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    hidden=True,
    help="Deprecated, ignored: the relay's chain is read from the node's API.",
)
@url_option
@click.option("--once", is_flag=True, help="Relay what is missing, then exit.")
@click.option("--max-iterations", type=int, default=None, help="Stop after this many rounds.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between polls.")
@click.option("--batch", default=500, show_default=True, help="Headers per transaction (<= 2000).")
@common_options
@passphrase_option
@fee_option
def relay_command(
    data_dir: Path | None,
    url: str | None,
    once: bool,
    max_iterations: int | None,
    interval: float,
    batch: int,
    fee: int | None,
) -> None:
    """Send each chain's headers that the ETM chain's relay lacks (relays anyone may feed).

    The relay's best chain is read from the ETM node's API (--url, else the etm.url setting);
    the chain's node is the configured [chains.<name>] one."""
    if not 1 <= batch <= 2000:
        raise ValidationError("--batch must be between 1 and 2000 headers")
    ctx = app_context()
    rounds = 1 if once else max_iterations
    while rounds is None or rounds > 0:
        for sent in relays.feed(ctx, url=url, batch=batch, fee=fee).values():
            click.echo(f"relayed {sent} header(s)")
        rounds = None if rounds is None else rounds - 1
        if rounds != 0:
            time.sleep(interval)
