"""Click options shared by the verbs: where the config and home are, and how output looks.

The config options do not reach the command function (``expose_value=False``): they are stored
in the click context, and :func:`etm_bridge_cli.context.get_config` reads them when the command
first asks for its configuration (:mod:`etm_bridge.config`, docs/config.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from etm_bridge.config import CONFIG_ENV, NETWORKS

from .output import echo_json as echo_json  # re-exported: output lives in .output
from .output import emit as emit

HOME_META = "etm_bridge.home"
CONFIG_FILE_META = "etm_bridge.config_file"
OVERRIDES_META = "etm_bridge.config.overrides"
PASSPHRASE_ENV_META = "etm_bridge.passphrase_env"

F = TypeVar("F", bound=Callable[..., Any])


def _store(meta: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None:
            ctx.meta[meta] = value

    return store


def _override(key: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None:
            source = f"option --{(param.name or key).replace('_', '-')}"
            ctx.meta.setdefault(OVERRIDES_META, {})[key] = (str(value), source)

    return store


home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    expose_value=False,
    callback=_store(HOME_META),
    help="Home directory: config.toml, keystore.json, swaps.db, chain data. Default: "
    "$ETM_BRIDGE_HOME, else the per-user data directory (~/.local/share/etm-bridge).",
)
config_option = click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    expose_value=False,
    callback=_store(CONFIG_FILE_META),
    help=f"TOML config file (default: ${CONFIG_ENV}, else <home>/config.toml).",
)
keystore_option = click.option(
    "--keystore",
    type=click.Path(dir_okay=False, path_type=Path),
    expose_value=False,
    callback=_override("keystore"),
    help="Keystore file (default: <home>/keystore.json; env ETM_BRIDGE_KEYSTORE).",
)
network_option = click.option(
    "--network",
    type=click.Choice(NETWORKS),
    expose_value=False,
    callback=_override("network"),
    help="Network the addresses and endpoints are for (default: regtest).",
)
passphrase_option = click.option(
    "--passphrase-env",
    metavar="NAME",
    expose_value=False,
    callback=_store(PASSPHRASE_ENV_META),
    help="Read the keystore passphrase from environment variable NAME (default: "
    "$ETM_BRIDGE_PASSPHRASE, else a prompt).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _store_urls(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> None:
    if value:
        ctx.meta.setdefault(OVERRIDES_META, {})["etm.urls"] = (",".join(value), "option --etm-url")


etm_url_option = click.option(
    "--etm-url",
    multiple=True,
    expose_value=False,
    callback=_store_urls,
    help="ETM node API URL (repeatable: writes go to every one, reads to those the majority "
    "backs; default: [etm] urls / url, env ETM_BRIDGE_ETM_URLS).",
)


def common_options(func: F) -> F:
    """``--home``, ``--config``, ``--network``, ``--keystore`` and ``--etm-url`` on one
    command."""
    return home_option(config_option(network_option(keystore_option(etm_url_option(func)))))


fee_option = click.option(
    "--fee", type=int, default=None, help="Fee in ETM base units (default: the chain's rule)."
)
wait_option = click.option(
    "--wait/--no-wait", default=True, show_default=True, help="Wait until the tx is in a block."
)
url_option = click.option(
    "--url", default=None, help="ETM node API URL (default: the etm.url setting)."
)


def hex_bytes(text: str, what: str) -> bytes:
    """Hex (with or without ``0x``) as bytes; a ValidationError naming the option."""
    from etm_bridge.errors import ValidationError

    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise ValidationError(f"{what} must be hex, got {text!r}") from None
