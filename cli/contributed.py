"""Verbs that installed plugins contribute to a verb group (entry-point group ``etm_bridge.cli``).

A plugin declares ``[project.entry-points."etm_bridge.cli"] "<group>.<command>" =
"module:click_command"`` (a chain plugin contributes ``spv.verify``, an offline check of its
chain's inclusion proofs). :class:`ContributedGroup` lists those commands beside its own and
imports one only when it is run or the group's help is shown, so ``etm-bridge`` starts without
loading any plugin; one that cannot be loaded is listed with the reason and fails in one line.
A built-in command always wins; a command two plugins contribute runs neither (which one ran
would depend on the install order: a second plugin could silently replace e.g. a chain's offline
proof check) and fails in one line naming both.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

import click

from etm_bridge.errors import ConfigError

GROUP = "etm_bridge.cli"


def contributed(group: str) -> dict[str, list[EntryPoint]]:
    """command name -> the entry points contributing it to verb ``group`` (more than one: a
    clash, refused when run)."""
    found: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=GROUP):
        parent, _, command = ep.name.partition(".")
        if parent == group and command:
            found.setdefault(command, []).append(ep)
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
        eps = contributed(self.name or "").get(cmd_name)
        if not eps:
            return None
        ep = eps[0]
        if len(eps) > 1:  # which one runs would depend on the install order: run neither
            who = " and ".join(_plugin(e) for e in eps)
            return _broken(cmd_name, ep, f"{who} both contribute it; uninstall one")
        try:
            command = ep.load()
        except Exception as exc:  # a broken plugin: one line naming it, not a traceback
            return _broken(cmd_name, ep, f"{type(exc).__name__}: {exc}")
        if not isinstance(command, click.Command):
            return _broken(cmd_name, ep, f"it is not a click command (group {GROUP})")
        return command


def _plugin(ep: EntryPoint) -> str:
    dist = ep.dist
    return f"{ep.value} ({dist.metadata['Name']} {dist.version})" if dist is not None else ep.value


def _broken(name: str, ep: EntryPoint, why: str) -> click.Command:
    """A stand-in for a contributed command that cannot be loaded: ``--help`` still lists it
    (with the reason), running it is one error line naming the plugin."""
    problem = f"the command '{ep.name.replace('.', ' ')}' of plugin {ep.value} cannot be loaded"

    def fail(**_: object) -> None:
        raise ConfigError(f"{problem}: {why} (reinstall or remove that plugin)")

    return click.Command(
        name,
        callback=fail,
        help=f"(cannot be loaded: {why})",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
