"""CLI configuration, read ONCE per command from layered sources, and shared click options.

Layers, lowest to highest precedence:

1. built-in defaults (:data:`SETTINGS`);
2. the local stack's ``stack.json`` (``$ETM_STACK_DIR`` or ``./.etm/stack``), when present and the
   network is ``regtest``: node endpoints and credentials written by ``etm-bridge stack up``;
3. a TOML file: ``--config PATH``, else ``$ETM_BRIDGE_CONFIG``, else
   ``$XDG_CONFIG_HOME/etm-bridge/config.toml`` (``~/.config/...``) if it exists;
4. environment variables ``ETM_BRIDGE_<KEY>``
   (``bitcoin.rpc_url`` -> ``ETM_BRIDGE_BITCOIN_RPC_URL``);
5. command-line options (``--network``, ``--keystore``).

TOML example (every key is optional; relative paths are relative to the file)::

    network = "regtest"            # mainnet | testnet | signet | regtest
    data_dir = "~/.local/share/etm-bridge"
    keystore = "keystore.json"     # default: <data_dir>/keystore.json
    [etm]
    url = "http://127.0.0.1:26657"
    [bitcoin]
    rpc_url = "http://127.0.0.1:18443"
    rpc_user = "etm"
    rpc_password = "..."
    birth_height = 0               # first block scanned for the wallet's coins
    [ethereum]
    rpc_url = "http://127.0.0.1:8545"
    [kdf]                          # argon2id cost for NEW keystores
    opslimit = 3
    memlimit = 67108864

An unknown key or a value of the wrong type is a :class:`~etm_bridge.errors.ConfigError` naming
the key and where it came from. To add a setting, add one :class:`Setting` to :data:`SETTINGS`.
Commands get the merged result with :func:`get_config` (cached in the click context).
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from etm_bridge.errors import ConfigError, ValidationError
from etm_bridge.wallet.keystore import DEFAULT_KDF, KdfParams

NETWORKS = ("mainnet", "testnet", "signet", "regtest")
CONFIG_ENV = "ETM_BRIDGE_CONFIG"
ENV_PREFIX = "ETM_BRIDGE_"
_CONFIG_META = "etm_bridge.config"
_OVERRIDES_META = "etm_bridge.config.overrides"
_PASSPHRASE_ENV_META = "etm_bridge.passphrase_env"


@dataclass(frozen=True)
class Setting:
    """One configuration key: its type (str, int or Path) and default (None: unset)."""

    kind: type
    default: Any = None
    choices: tuple[str, ...] = ()

    @property
    def type_name(self) -> str:
        return {str: "a string", int: "an integer", Path: "a path"}[self.kind]


SETTINGS: dict[str, Setting] = {
    "network": Setting(str, "regtest", NETWORKS),
    "data_dir": Setting(Path),
    "keystore": Setting(Path),
    "etm.url": Setting(str),
    "etm.admin_token": Setting(str),
    "bitcoin.rpc_url": Setting(str),
    "bitcoin.rpc_user": Setting(str),
    "bitcoin.rpc_password": Setting(str),
    "bitcoin.birth_height": Setting(int, 0),
    "ethereum.rpc_url": Setting(str),
    "kdf.opslimit": Setting(int, DEFAULT_KDF.opslimit),
    "kdf.memlimit": Setting(int, DEFAULT_KDF.memlimit_bytes),
}

#: stack.json (service, field) -> setting, used on regtest only.
STACK_FIELDS: dict[tuple[str, str], str] = {
    ("bitcoin", "rpc_url"): "bitcoin.rpc_url",
    ("bitcoin", "rpc_user"): "bitcoin.rpc_user",
    ("bitcoin", "rpc_password"): "bitcoin.rpc_password",
    ("anvil", "rpc_url"): "ethereum.rpc_url",
    ("etm", "rpc_url"): "etm.url",
    ("etm", "admin_token"): "etm.admin_token",
}


def env_name(key: str) -> str:
    """The environment variable of a setting: ``bitcoin.rpc_url`` -> ETM_BRIDGE_BITCOIN_RPC_URL."""
    return ENV_PREFIX + key.replace(".", "_").upper()


@dataclass(frozen=True)
class Config:
    """The merged settings. ``sources[key]`` says where each set value came from."""

    values: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        if key not in SETTINGS:
            raise KeyError(f"unknown setting {key!r}")
        return self.values.get(key)

    def require(self, key: str) -> Any:
        """The value of ``key``; ConfigError saying how to set it when it is unset."""
        value = self.get(key)
        if value is None:
            raise ConfigError(
                f"no {key} configured: set it in the config file, or {env_name(key)}, "
                "or start the local stack (`etm-bridge stack up`)"
            )
        return value

    @property
    def network(self) -> str:
        return str(self.values["network"])

    @property
    def data_dir(self) -> Path:
        return Path(self.values["data_dir"])

    @property
    def keystore_path(self) -> Path:
        return Path(self.values["keystore"])

    def kdf(self) -> KdfParams:
        try:
            return KdfParams(self.values["kdf.opslimit"], self.values["kdf.memlimit"])
        except ValidationError as exc:
            where = self.sources.get("kdf.opslimit"), self.sources.get("kdf.memlimit")
            raise ConfigError(
                f"{exc} (kdf.opslimit from {where[0]}, kdf.memlimit from {where[1]})"
            ) from None

    def describe(self) -> dict[str, dict[str, Any]]:
        """key -> {"value", "source"}; secrets (passwords, tokens) masked."""
        masked = {"bitcoin.rpc_password", "etm.admin_token"}
        return {
            key: {
                "value": "***" if key in masked and value is not None else _jsonable(value),
                "source": self.sources.get(key, "default"),
            }
            for key, value in sorted(self.values.items())
        }


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


# --- reading the layers ------------------------------------------------------------------------


def _coerce(key: str, value: Any, source: str, base_dir: Path | None) -> Any:
    """``value`` as the type of setting ``key``; ConfigError naming key and source if not."""
    setting = SETTINGS[key]
    if setting.kind is int:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = int(value.strip())
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{key} in {source} must be an integer, got {value!r}")
        return value
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} in {source} must be a non-empty string, got {value!r}")
    if setting.choices and value not in setting.choices:
        raise ConfigError(
            f"{key} in {source} must be one of {', '.join(setting.choices)}, got {value!r}"
        )
    if setting.kind is Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() or base_dir is None else base_dir / path
    return value


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in data.items():
        key = prefix + name
        if isinstance(value, dict):
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


def read_toml(path: Path) -> dict[str, Any]:
    """The settings in a TOML file, checked; ConfigError naming the bad key and the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    settings = {}
    for key, value in _flatten(data).items():
        if key not in SETTINGS:
            raise ConfigError(
                f"unknown key {key!r} in config file {path}; known keys: {', '.join(SETTINGS)}"
            )
        settings[key] = _coerce(key, value, f"config file {path}", path.parent)
    return settings


def read_env(env: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    """key -> (value, source) for every ``ETM_BRIDGE_<KEY>`` set in ``env``."""
    found = {}
    for key in SETTINGS:
        name = env_name(key)
        if env.get(name):
            found[key] = (_coerce(key, env[name], f"environment variable {name}", None), name)
    return found


def read_stack(env: Mapping[str, str]) -> dict[str, Any]:
    """Endpoints from the local stack's stack.json ({} when there is none)."""
    from etm_bridge_regtest.stack import StackConfig, load_state

    state = load_state(StackConfig.from_env(env))
    found = {}
    for (service, name), key in STACK_FIELDS.items():
        value = state.get(service, {}).get(name) if isinstance(state.get(service), dict) else None
        if isinstance(value, str) and value:
            found[key] = value
    return found


def _config_file(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    if explicit is not None:
        return explicit
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser()
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    default = base / "etm-bridge" / "config.toml"
    return default if default.is_file() else None


def _default_data_dir(env: Mapping[str, str]) -> Path:
    base = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "etm-bridge"


def load_config(
    *,
    config_file: Path | None = None,
    overrides: Mapping[str, tuple[Any, str]] | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Merge the layers (see the module docstring). ``overrides``: key -> (value, source)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {k: s.default for k, s in SETTINGS.items()}
    sources: dict[str, str] = {}
    upper: list[tuple[str, Any, str]] = []
    path = _config_file(config_file, env)
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        upper += [(k, v, f"config file {path}") for k, v in read_toml(path).items()]
    upper += [(k, v, src) for k, (v, src) in read_env(env).items()]
    for key, (value, src) in (overrides or {}).items():
        upper.append((key, _coerce(key, value, src, None), src))
    network = next((v for k, v, _ in reversed(upper) if k == "network"), values["network"])
    if network == "regtest":
        for key, value in read_stack(env).items():
            values[key], sources[key] = value, "stack.json"
    for key, value, src in upper:
        values[key], sources[key] = value, src
    if values["data_dir"] is None:
        values["data_dir"] = _default_data_dir(env)
    if values["keystore"] is None:
        values["keystore"] = Path(values["data_dir"]) / "keystore.json"
    return Config(values, sources)


# --- click integration -------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def _override(key: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            source = f"option --{(param.name or key).replace('_', '-')}"
            ctx.meta.setdefault(_OVERRIDES_META, {})[key] = (str(value), source)
        return value

    return store


def _store_config_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.meta["etm_bridge.config_file"] = value


config_option = click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    expose_value=False,
    callback=_store_config_path,
    help=f"TOML config file (default: ${CONFIG_ENV} or ~/.config/etm-bridge/config.toml).",
)
keystore_option = click.option(
    "--keystore",
    type=click.Path(dir_okay=False, path_type=Path),
    expose_value=False,
    callback=_override("keystore"),
    help="Keystore file (default: <data_dir>/keystore.json; env ETM_BRIDGE_KEYSTORE).",
)
network_option = click.option(
    "--network",
    type=click.Choice(NETWORKS),
    expose_value=False,
    callback=_override("network"),
    help="Bitcoin network the addresses and endpoints are for (default: regtest).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _store_passphrase_env(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta[_PASSPHRASE_ENV_META] = value


passphrase_option = click.option(
    "--passphrase-env",
    metavar="NAME",
    expose_value=False,
    callback=_store_passphrase_env,
    help="Read the keystore passphrase from environment variable NAME instead of prompting.",
)


def common_options(func: F) -> F:
    """``--config``, ``--network`` and ``--keystore`` on one command."""
    return config_option(network_option(keystore_option(func)))


def get_config(ctx: click.Context | None = None) -> Config:
    """The command's configuration, loaded on first use and cached for the invocation."""
    ctx = ctx or click.get_current_context()
    if _CONFIG_META not in ctx.meta:
        ctx.meta[_CONFIG_META] = load_config(
            config_file=ctx.meta.get("etm_bridge.config_file"),
            overrides=ctx.meta.get(_OVERRIDES_META, {}),
        )
    config: Config = ctx.meta[_CONFIG_META]
    return config


def read_passphrase(*, confirm: bool, ctx: click.Context | None = None) -> str:
    """From ``--passphrase-env NAME`` if given, else a hidden prompt (twice if ``confirm``)."""
    ctx = ctx or click.get_current_context()
    name = ctx.meta.get(_PASSPHRASE_ENV_META)
    if name is not None:
        value = os.environ.get(name)
        if not value:
            raise ConfigError(f"environment variable {name} (from --passphrase-env) is not set")
        return value
    value = click.prompt(
        "Keystore passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )
    if not value:
        raise ConfigError("the passphrase must not be empty")
    return str(value)
