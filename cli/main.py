"""The ``etm-bridge`` command: the root group, error mapping, and registration of verb groups.

Each verb group lives in its own module of this package and exposes ``group`` (a click group
or command). Library errors become one line on stderr and the error class's exit code.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from etm_bridge import __version__
from etm_bridge.errors import EtmBridgeError

#: Modules of this package that each define ``group``; the order is the order of ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "adapters",
    "chains",
    "stack",
    "node",
    "demo",
    "pool",
    "lp",
    "bind",
    "spv",
    "wallet",
    "swap",
    "watch",
)


class RootGroup(click.Group):
    """Maps library errors to a one-line message and an exit code instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EtmBridgeError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=RootGroup)
@click.version_option(__version__, prog_name="etm-bridge")
def cli() -> None:
    """etm-bridge: swap foreign-chain assets for ETM (and back) with HTLCs, SPV and pools."""


for _name in COMMAND_MODULES:
    _module = importlib.import_module(f"etm_bridge_cli.{_name}")
    cli.add_command(_module.group)
