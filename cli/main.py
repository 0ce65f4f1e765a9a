"""The ``etm-bridge`` command: the root group, error mapping, and lazy registration of verbs.

Each verb group lives in its own module of this package and exposes ``group`` (a click group
or command). The root imports a verb's module only when that verb runs (or its help is asked
for): ``etm-bridge --help`` and ``--version`` load neither the chain libraries, the regtest stack
nor any adapter (``bench/cli_startup.py`` times them). ``--help`` lists each verb with the
summary kept in :data:`COMMANDS` (a unit test checks it is the verb's own first sentence).

A library error becomes one line on stderr, or ``{"error": {...}}`` on stdout when ``--json``
was given (:mod:`.output`), and its class's exit code (:data:`.output.EXIT_CODES`).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from etm_bridge import __version__
from etm_bridge.errors import EtmBridgeError

from .output import ARGV_META, exit_codes_epilog, report_error

#: verb (also the module of this package defining its ``group``) -> its one-line summary, in
#: ``--help`` order
COMMANDS: dict[str, str] = {
    "adapters": "Chain adapters (plugins in the etm_bridge.adapters entry-point group).",
    "chains": "Foreign chains installed (profiles: units, keys, relays, exchange).",
    "stack": "Local stack of real nodes: each chain's development node and the ETM node.",
    "node": "A local ETM chain node: init, run, and read its API.",
    "demo": "Start the local stack, fund, invest, run pool swaps and an abandoned one; "
    "print a table.",
    "pool": "Liquidity pools of the ETM value-exchange contract.",
    "lp": "Liquidity providers (investors) of the exchange pools.",
    "bind": "Prove control of the wallet's CHAIN key and bind it to the wallet's ETM address.",
    "spv": "SPV: confirmation risk and offline inclusion-proof checks.",
    "wallet": "Your keys for ETM and each chain in one passphrase-encrypted keystore file.",
    "swap": "Swap between chains with HTLCs: start, accept, follow, claim, refund.",
    "status": "Open swaps, the next deadline, what needs you, and node health.",
    "watch": "Drive every open swap: confirmations, proofs, claims, refunds (Ctrl-C to stop).",
}

#: kept for callers that iterate the verb modules
COMMAND_MODULES: tuple[str, ...] = tuple(COMMANDS)


class RootGroup(click.Group):
    """Loads verbs lazily and maps library errors to one message and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(f"etm_bridge_cli.{cmd_name}")
        command: click.Command = module.group
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The verb list from :data:`COMMANDS`, without importing any verb."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, click.Command(name, help=summary).get_short_help_str(limit))
            for name, summary in COMMANDS.items()
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[ARGV_META] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EtmBridgeError as exc:
            report_error(exc, ctx)
            sys.exit(exc.exit_code)


@click.group(cls=RootGroup, epilog=exit_codes_epilog())
@click.version_option(__version__, prog_name="etm-bridge")
def cli() -> None:
    """etm-bridge: swap foreign-chain assets for ETM (and back) with HTLCs, SPV and pools.

    \b
    Shell completion (zsh_source / fish_source for zsh / fish):
      eval "$(_ETM_BRIDGE_COMPLETE=bash_source etm-bridge)"
    """
