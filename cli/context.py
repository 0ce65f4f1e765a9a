"""What a verb reads once per invocation: its config, the passphrase, its use-case context.

:func:`get_config` loads :mod:`etm_bridge.config` with the command's options the first time it
is asked, caches it in the click context and prints the config's deprecation notes on stderr.
:func:`read_passphrase` is the one passphrase mechanism (``--passphrase-env NAME``, else
``$ETM_BRIDGE_PASSPHRASE``, else a prompt) for every command.
"""

from __future__ import annotations

import os

import click

from etm_bridge.app.context import AppContext
from etm_bridge.config import Config, load_config, resolve_passphrase

from .options import CONFIG_FILE_META, HOME_META, OVERRIDES_META, PASSPHRASE_ENV_META

_CONFIG_META = "etm_bridge.config"
_NOTED_META = "etm_bridge.old_swaps_noted"


def get_config(ctx: click.Context | None = None) -> Config:
    """The command's configuration, loaded on first use and cached for the invocation."""
    ctx = ctx or click.get_current_context()
    if _CONFIG_META not in ctx.meta:
        config = load_config(
            home=ctx.meta.get(HOME_META),
            config_file=ctx.meta.get(CONFIG_FILE_META),
            options=ctx.meta.get(OVERRIDES_META, {}),
        )
        for note in config.notes:
            click.echo(f"note: {note}", err=True)
        ctx.meta[_CONFIG_META] = config
    found: Config = ctx.meta[_CONFIG_META]
    return found


def swaps_db_note(config: Config, ctx: click.Context | None = None) -> None:
    """Say on stderr (once per command) when the old default home (./.etm/swaps) holds a swap
    database the home does not: nothing watches it unless the user says where it is."""
    ctx = ctx or click.get_current_context()
    note = config.home.old_swaps_note()
    if note is not None and not ctx.meta.get(_NOTED_META):
        ctx.meta[_NOTED_META] = True
        click.echo(f"note: {note}", err=True)


def _prompt(confirm: bool) -> str:
    value = click.prompt(
        "Keystore passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )
    return str(value)


def read_passphrase(*, confirm: bool, ctx: click.Context | None = None) -> str:
    """``--passphrase-env NAME``, else ``$ETM_BRIDGE_PASSPHRASE``, else a hidden prompt (twice
    if ``confirm``)."""
    ctx = ctx or click.get_current_context()
    name = ctx.meta.get(PASSPHRASE_ENV_META)
    return resolve_passphrase(name, os.environ, _prompt, confirm=confirm)


def app_context(*, engine: bool = False, ctx: click.Context | None = None) -> AppContext:
    """The use cases' context of this command: its config, and the passphrase read the one
    way (asked only when a key is first needed). ``engine``: a swap-engine verb, which points
    out swaps left in the old default home."""
    ctx = ctx or click.get_current_context()
    config = get_config(ctx)
    if engine:
        swaps_db_note(config, ctx)
    click_ctx = ctx
    return AppContext(config, lambda confirm: read_passphrase(confirm=confirm, ctx=click_ctx))
