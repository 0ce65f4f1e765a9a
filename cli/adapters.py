"""``etm-bridge adapters``: which chain-adapter plugins are installed and whether they load."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from etm_bridge.adapters_registry import GROUP, list_adapters


@click.group("adapters")
def group() -> None:
    """Chain adapters (plugins in the etm_bridge.adapters entry-point group)."""


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """List installed adapters: name, distribution, version, module, ok/error, location."""
    entries = list_adapters()
    if as_json:
        rows = [{**asdict(e), "ok": e.ok} for e in entries]
        click.echo(json.dumps(rows, indent=2))
        return
    if not entries:
        click.echo(f"no adapters installed in entry-point group {GROUP}")
        return
    for e in entries:
        status = f"ok  {e.location or ''}".rstrip() if e.ok else f"error: {e.error}"
        click.echo(f"{e.name:<10} {e.distribution} {e.version}  {e.module}  {status}")
