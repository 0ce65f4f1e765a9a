"""How every verb prints: JSON and text, amounts, errors, exit codes (one place).

- :func:`emit` / :func:`echo_json`: ``--json`` output is indented, key-sorted JSON whose keys
  are snake_case (:func:`snake_keys` converts a node API's camelCase answer).
- :func:`amount_json`: an amount under ``--json`` is ``{"base_units": "<integer string>",
  "display": "0.5 <SYMBOL>"}``: base units as a string because 18-decimal amounts exceed
  2**53 (a JavaScript number loses them); :func:`display_amount` rounds to at most
  :data:`etm_bridge.units.DISPLAY_DECIMALS` places for people (``~`` marks a rounded value),
  never for JSON's ``base_units``.
- :func:`report_error`: a library error is one line ``error: ...`` on stderr, or under
  ``--json`` one line ``{"error": {"code", "message", "fix", "exit_code"}}`` on stdout (what
  a script parses; ``fix`` says what to do, or is null); the exit code is the error class's
  (:data:`EXIT_CODES`, shown in ``etm-bridge --help``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import click

from etm_bridge.errors import (
    ConfigError,
    EtmBridgeError,
    KeystoreError,
    NodeUnavailableError,
    StackError,
    ValidationError,
    WatcherLockError,
)

#: the root group stores the raw arguments here (a shared click meta key)
ARGV_META = "etm_bridge.argv"

#: exit code -> what it means (the error classes' ``exit_code``; click's usage errors are 2)
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "the operation failed (a chain, swap or exchange refused it)",
    2: "bad input: options, amounts, config file",
    3: "the local stack could not be started, reached or stopped",
    4: "a node did not answer (down, wrong URL or credentials): safe to retry",
    5: "another watcher holds the swap database",
    6: "keystore: missing, damaged or wrong passphrase",
}

#: what to do about an error, by class (most specific first); an error's own ``fix`` wins
_FIXES: tuple[tuple[type[EtmBridgeError], str], ...] = (
    (NodeUnavailableError, "start the node or correct its URL in config.toml; "
                           "`etm-bridge status` shows every endpoint's health"),
    (WatcherLockError, "stop the other `etm-bridge watch` on this home, or wait for its lease"),
    (KeystoreError, "check --keystore / --home and the passphrase "
                    "(--passphrase-env NAME or $ETM_BRIDGE_PASSPHRASE)"),
    (StackError, "see `etm-bridge stack status`; `etm-bridge stack up` starts it"),
    (ConfigError, "correct the value named above (see docs/config.md)"),
    (ValidationError, "correct the value named above (see the verb's --help)"),
)  # fmt: skip


def exit_codes_epilog() -> str:
    """The exit codes for ``--help`` (``\\b`` keeps click from rewrapping them)."""
    lines = [f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items()]
    return "\b\nExit codes:\n" + "\n".join(lines)


def error_code(exc: BaseException) -> str:
    """``NodeUnavailableError`` -> ``node_unavailable``: a stable name for scripts."""
    name = type(exc).__name__.removesuffix("Error") or "etm_bridge"
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def error_fix(exc: EtmBridgeError) -> str | None:
    """The error's own ``fix`` attribute, else its class's advice, else None."""
    own = getattr(exc, "fix", None)
    if isinstance(own, str) and own:
        return own
    return next((fix for cls, fix in _FIXES if isinstance(exc, cls)), None)


def error_json(exc: EtmBridgeError) -> dict[str, Any]:
    return {"error": {"code": error_code(exc), "message": str(exc), "fix": error_fix(exc),
                      "exit_code": exc.exit_code}}  # fmt: skip


def json_requested(ctx: click.Context | None = None) -> bool:
    """True when ``--json`` is among the command line's arguments (before any ``--``)."""
    ctx = ctx or click.get_current_context(silent=True)
    if ctx is None:
        return False
    args: list[str] = ctx.meta.get(ARGV_META, [])
    head = args[: args.index("--")] if "--" in args else args
    return "--json" in head


def report_error(exc: EtmBridgeError, ctx: click.Context | None = None) -> None:
    """Print ``exc`` the way the command line asked (module docstring)."""
    if json_requested(ctx):
        click.echo(json.dumps(error_json(exc), sort_keys=True))
    else:
        click.echo(f"error: {exc}", err=True)


#: a camelCase field name: lowercase words, each next one capitalised, letters only. Data used as
#: keys (hex public keys, addresses, which carry digits) never matches and is left as it is.
_CAMEL = re.compile(r"^[a-z]+(?:[A-Z][a-z]*)+$")


def snake_case(key: str) -> str:
    """``finalHeight`` -> ``final_height``; anything but a camelCase field name is unchanged."""
    if len(key) > 40 or not _CAMEL.match(key):
        return key
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", key).lower()


def snake_keys(data: Any) -> Any:
    """``data`` with every camelCase mapping key snake_cased, recursively (lists too)."""
    if isinstance(data, Mapping):
        return {snake_case(str(k)): snake_keys(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [snake_keys(v) for v in data]
    return data


def display_amount(value: int, asset: str) -> str:
    """``value`` base units of ``asset`` for people (:func:`etm_bridge.units.display_amount`)."""
    from etm_bridge.units import display_amount as shown

    return shown(value, asset)


def amount_json(value: int, asset: str) -> dict[str, str]:
    """An amount under ``--json``: base units as a string, plus the display string (a token
    without known decimals: its base units)."""
    from etm_bridge.app.liquidity import display as shown_or_base_units
    from etm_bridge.units import known_units

    known = known_units().get(asset.lower()) is not None
    text = display_amount(value, asset) if known else shown_or_base_units(value, asset)
    return {"base_units": str(value), "display": text}


#: A pool or LP field (node views, ``lp`` results) that is an amount -> its unit: ``ROW_ASSET``
#: is the row's own ``asset`` (a pool's, a position's, an obligation's).
ROW_ASSET = "@asset"
LIQUIDITY_AMOUNTS: dict[str, str] = {
    **dict.fromkeys(("asset_reserve", "asset_reserved", "asset_pending_in", "fees_asset",
                     "min_withdrawal", "effective_asset", "value_asset", "fees_earned_asset",
                     "amount"), ROW_ASSET),
    **dict.fromkeys(("etm_reserve", "etm_reserved", "etm_pending_in", "fees_etm",
                     "effective_etm", "value_etm", "fees_earned_etm", "intent_bond_floor",
                     "etm_received", "fee", "value_at_risk_etm", "coalition_bond_etm"), "etm"),
}  # fmt: skip
#: Counts that can exceed 2**53 (pool shares of an 18-decimal asset): decimal strings.
BIG_COUNTS = frozenset({"shares", "total_shares"})


def liquidity_json(data: Any, asset: str | None = None) -> Any:
    """A pool or LP answer under ``--json``: every amount (:data:`LIQUIDITY_AMOUNTS`) as
    :func:`amount_json` in its unit, share counts as decimal strings; recursive (a deposit's
    ``positions``, a withdrawal's ``obligations``)."""
    if isinstance(data, Mapping):
        own = data.get("asset", asset)
        out: dict[str, Any] = {}
        for key, value in data.items():
            unit = LIQUIDITY_AMOUNTS.get(key)
            is_int = isinstance(value, int) and not isinstance(value, bool)
            if unit is not None and is_int and (unit != ROW_ASSET or own is not None):
                out[key] = amount_json(value, str(own) if unit == ROW_ASSET else unit)
            elif key in BIG_COUNTS and is_int:
                out[key] = str(value)
            else:
                out[key] = liquidity_json(value, own)
        return out
    if isinstance(data, list | tuple):
        return [liquidity_json(v, asset) for v in data]
    return data


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def emit(data: Any, as_json: bool, text: str) -> None:
    """``data`` as indented JSON with ``--json``, else ``text``."""
    click.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else text)
