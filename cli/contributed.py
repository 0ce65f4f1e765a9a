"""Verbs that installed plugins contribute to a verb group (entry-point group ``etm_bridge.cli``).

A plugin declares ``[project.entry-points."etm_bridge.cli"] "<group>.<command>" =
"module:click_command"`` (a chain plugin contributes ``spv.verify``, an offline check of its
chain's inclusion proofs). :class:`ContributedGroup` lists those commands beside its own and
imports one only when it is run or its help is shown, so ``etm-bridge`` starts without loading
any plugin.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

import click

from etm_bridge.errors import ConfigError

GROUP = "etm_bridge.cli"


def contributed(group: str) -> dict[str, EntryPoint]:
    """command name -> entry point, for the commands plugins contribute to verb ``group``."""
    found = {}
    for ep in entry_points(group=GROUP):
        parent, _, command = ep.name.partition(".")
        if parent == group and command:
            found.setdefault(command, ep)
    return found


class ContributedGroup(click.Group):
    """A click group that also offers the commands plugins contribute to it."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        own = super().list_commands(ctx)
        return sorted({*own, *contributed(self.name or "")})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        own = super().get_command(ctx, cmd_name)
        if own is not None:
            return own
        ep = contributed(self.name or "").get(cmd_name)
        if ep is None:
            return None
        try:
            command = ep.load()
        except Exception as exc:  # a broken plugin: one line naming it, not a traceback
            raise ConfigError(
                f"the command '{self.name} {cmd_name}' of plugin {ep.value} cannot be loaded: "
                f"{type(exc).__name__}: {exc} (reinstall or remove that plugin)"
            ) from exc
        if not isinstance(command, click.Command):
            raise ConfigError(
                f"entry point {ep.name} = {ep.value} (group {GROUP}) is not a click command"
            )
        return command
