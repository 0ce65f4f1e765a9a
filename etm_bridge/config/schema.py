"""What a config may say: the known keys, their types and defaults, and the environment names.

Keys are dotted paths into the TOML file: ``network``, ``keystore``, ``etm.url``,
``etm.urls`` (a list of ETM node URLs; ``etm.url`` is one),
``etm.admin_token``, ``kdf.opslimit``, ``kdf.memlimit``, ``policy.<field>`` (every field of
:class:`~etm_bridge.swaps.core.policy.PolicyConfig`), and ``chains.<name>.<key>`` for any chain
name.
A chain table's own keys belong to its adapter (its ``from_config`` options, checked against
the adapter's ``CONFIG_KEYS`` when it declares them); four are read by the config itself
(:data:`CHAIN_META`). The set of chains is open: this module names none.

Environment names: ``ETM_BRIDGE_`` + the key with dots as underscores, upper case
(``chains.<name>.rpc_url`` -> ``ETM_BRIDGE_<NAME>_RPC_URL``, ``etm.url`` -> ``ETM_BRIDGE_ETM_URL``).
A list key given as text (environment, options) is comma-separated
(``ETM_BRIDGE_ETM_URLS=http://a:26657,http://b:26657``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..swaps.core.policy import PolicyConfig
from ..wallet.keystore import DEFAULT_KDF

ENV_PREFIX = "ETM_BRIDGE_"
NETWORKS = ("mainnet", "testnet", "signet", "regtest")
#: Tables of the file that are not chains.
TABLES = ("etm", "kdf", "policy", "chains")
#: Names a ``[chains.<name>]`` table may not take: the config's own tables, and entries of the
#: home a chain's default data dir (``<home>/<name>``) would collide with.
RESERVED_CHAIN_NAMES = frozenset(
    {"etm", "kdf", "policy", "node", "logs", "wallet-cache", "deposits"}
)
CHAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               Path: "a path", tuple: "a list of non-empty strings"}  # fmt: skip


@dataclass(frozen=True)
class Setting:
    """One key: its type (str, int, float, bool or Path), default (None: unset) and choices."""

    kind: type
    default: Any = None
    choices: tuple[str, ...] = ()
    secret: bool = False  # masked by Config.describe()

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES[self.kind]


def _policy_settings() -> dict[str, Setting]:
    hints = typing.get_type_hints(PolicyConfig)
    return {
        f"policy.{f.name}": Setting(hints[f.name], f.default)
        for f in dataclasses.fields(PolicyConfig)
    }


#: Every fixed key, with its default.
SETTINGS: dict[str, Setting] = {
    "network": Setting(str, "regtest", NETWORKS),
    "keystore": Setting(Path),
    "etm.url": Setting(str),
    "etm.urls": Setting(tuple),
    "etm.admin_token": Setting(str, secret=True),
    "kdf.opslimit": Setting(int, DEFAULT_KDF.opslimit),
    "kdf.memlimit": Setting(int, DEFAULT_KDF.memlimit_bytes),
    **_policy_settings(),
}

#: Keys of a ``[chains.<name>]`` table the config reads itself (never passed to the adapter
#: as such): the adapter entry point (default: the chain's name), the wallet key that signs for
#: it (default: the adapter's ``WALLET_KEY``), the option the secret is injected under (default:
#: the adapter's ``SECRET_FIELD``), and its data dir (default ``<home>/<name>``, passed on).
CHAIN_META: dict[str, Setting] = {
    "adapter": Setting(str),
    "key": Setting(str),
    "secret_field": Setting(str),
    "data_dir": Setting(Path),
}

#: Chain option names that are masked by Config.describe().
SECRET_WORDS = ("password", "token", "secret", "private_key")


def env_name(key: str) -> str:
    """The environment variable of a key: ``chains.x.rpc_url`` -> ETM_BRIDGE_X_RPC_URL."""
    parts = key.split(".")
    if parts[0] == "chains":
        parts = parts[1:]
    return ENV_PREFIX + "_".join(parts).replace("-", "_").upper()


def check_chain_name(name: str, source: str) -> None:
    """ConfigError unless ``name`` may name a ``[chains.<name>]`` table."""
    if name in RESERVED_CHAIN_NAMES:
        raise ConfigError(
            f"[chains.{name}] in {source}: {name!r} is reserved "
            f"({', '.join(sorted(RESERVED_CHAIN_NAMES))}); name the chain otherwise"
        )
    if not CHAIN_NAME.fullmatch(name):
        raise ConfigError(
            f"[chains.{name}] in {source}: a chain name is letters, digits, '_' and '-'"
        )


def coerce(key: str, value: Any, setting: Setting, source: str, base_dir: Path | None) -> Any:
    """``value`` as the setting's type; ConfigError naming ``key`` and ``source`` if it is not.

    Text (environment variables, options) is parsed; TOML values must have the type already.
    A relative path is relative to ``base_dir`` (the config file's directory) when there is one.
    """
    kind, text = setting.kind, isinstance(value, str)
    if kind is object:
        return value
    if kind is int or kind is float:
        if text:
            with contextlib.suppress(ValueError):
                value = kind(value.strip())
        ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
        if not ok or isinstance(value, bool):
            raise ConfigError(f"{key} in {source} must be {setting.type_name}, got {value!r}")
        return value
    if kind is tuple:
        return _string_list(key, value, setting, source)
    if kind is bool:
        if text and value.strip().lower() in ("true", "1", "yes", "false", "0", "no"):
            value = value.strip().lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise ConfigError(f"{key} in {source} must be true or false, got {value!r}")
        return value
    if not text or not value:
        raise ConfigError(f"{key} in {source} must be a non-empty string, got {value!r}")
    if setting.choices and value not in setting.choices:
        raise ConfigError(
            f"{key} in {source} must be one of {', '.join(setting.choices)}, got {value!r}"
        )
    if kind is Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() or base_dir is None else base_dir / path
    return value


def _string_list(key: str, value: Any, setting: Setting, source: str) -> tuple[str, ...]:
    """A list of non-empty strings, or text with comma-separated items."""
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
    ok = isinstance(items, list | tuple) and items and all(isinstance(v, str) and v for v in items)
    if not ok:
        raise ConfigError(f"{key} in {source} must be {setting.type_name}, got {value!r}")
    if len(set(items)) != len(items):
        raise ConfigError(f"{key} in {source} lists an entry twice: {value!r}")
    return tuple(items)


def setting_for(kind: Any) -> Setting:
    """A Setting for an adapter's declared option type (unknown types: passed through)."""
    return Setting(kind if kind in _TYPE_NAMES else object)


def is_secret(key: str) -> bool:
    """Whether ``describe()`` masks the value of ``key``."""
    setting = SETTINGS.get(key)
    if setting is not None:
        return setting.secret
    return any(word in key.rsplit(".", 1)[-1] for word in SECRET_WORDS)
