"""Reading the layers of a config: the local stack's file, the config file, the environment.

Each layer becomes a list of :class:`Entry` (dotted key, value, where it came from, the
directory relative paths are relative to). Fixed keys are checked as they are read, so a bad
value is named with its source even when a higher layer overrides it; a chain table's own keys
are kept as read and checked against the adapter when the chain is used
(:meth:`etm_bridge.config.Config.chain_options`).

Legacy forms are still read, each with a one-line note: a top-level table named after an
installed adapter (``[<name>]``) is ``[chains.<name>]``; ``[chains.etm] url`` is ``[etm] url``;
a top-level ``data_dir`` names the home.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import platformdirs

from ..adapters_registry import GROUP as ADAPTER_GROUP
from ..errors import ConfigError, PrivateFileError
from ..private_files import read_private
from .home import APP_NAME, HOME_ENV, LEGACY_HOME_ENV, Home
from .schema import CHAIN_META, ENV_PREFIX, SETTINGS, check_chain_name, coerce, env_name

CONFIG_ENV = "ETM_BRIDGE_CONFIG"
PASSPHRASE_ENV = "ETM_BRIDGE_PASSPHRASE"
#: ETM_BRIDGE_* variables that are not config keys.
NOT_KEYS = frozenset({HOME_ENV, LEGACY_HOME_ENV, CONFIG_ENV, PASSPHRASE_ENV})
STACK_DIR_ENV = "ETM_STACK_DIR"
#: The file ``etm-bridge stack up`` writes into the stack's directory: its endpoints as config.
STACK_CLIENT_FILE = "client.toml"
#: ``[chains.etm]`` keys the ETM table takes over (the rest of such a table is dropped).
_LEGACY_ETM = {"url": "etm.url", "admin_token": "etm.admin_token"}


@dataclass(frozen=True)
class Entry:
    """One value of one layer."""

    key: str
    value: Any
    source: str
    base_dir: Path | None = None


@dataclass
class FileLayer:
    """What one TOML file says: its entries, its deprecation notes, a legacy ``data_dir``."""

    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data_dir: Path | None = None

    @property
    def chain_names(self) -> set[str]:
        return {e.key.split(".")[1] for e in self.entries if e.key.startswith("chains.")}


def known_keys() -> str:
    return ", ".join([*SETTINGS, "chains.<name>.<key>"])


def installed_adapter_names() -> set[str]:
    """Entry-point names of the installed chain adapters (metadata only, nothing imported)."""
    return {ep.name for ep in entry_points(group=ADAPTER_GROUP)}


def read_toml(path: Path, *, private: bool = False) -> dict[str, Any]:
    """The parsed file; ConfigError naming the file if it cannot be read or parsed.

    ``private``: the file must be a plain file of ours (no symlink, not another user's), as
    the stack's layer: it chooses the nodes every command talks to, and its default place is
    under the current directory, which may be shared (``/tmp``)."""
    try:
        text = read_private(path) if private else path.read_text(encoding="utf-8")
    except PrivateFileError as exc:
        raise ConfigError(f"refusing config file {path}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    try:
        return tomllib.loads(text or "")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _unknown(key: str, source: str) -> ConfigError:
    return ConfigError(f"unknown key {key!r} in {source}; known keys: {known_keys()}")


def file_layer(
    path: Path, source: str, legacy_chains: Iterable[str], *, private: bool = False
) -> FileLayer:
    """Every key of the TOML file ``path``, checked (fixed keys) or kept (chain keys)."""
    data, base = read_toml(path, private=private), path.parent
    layer, legacy = FileLayer(), set(legacy_chains)
    for name, value in data.items():
        if name == "data_dir" and not isinstance(value, dict):
            layer.data_dir = coerce("data_dir", value, CHAIN_META["data_dir"], source, base)
            layer.notes.append(
                f"data_dir in {source} is deprecated: it names the home now "
                f"(--home or ${HOME_ENV}); remove it"
            )
        elif name == "chains":
            _chains(value, source, base, layer)
        elif name in ("etm", "kdf", "policy"):
            _table(name, value, source, base, layer)
        elif not isinstance(value, dict):
            layer.entries.append(_fixed(name, value, source, base))
        elif name in legacy:
            layer.notes.append(f"[{name}] in {source} is deprecated: rename it [chains.{name}]")
            _chain(name, value, source, base, layer)
        else:
            raise _unknown(name, source)
    return layer


def _fixed(key: str, value: Any, source: str, base: Path | None) -> Entry:
    if key not in SETTINGS or isinstance(value, dict):
        raise _unknown(key, source)
    return Entry(key, coerce(key, value, SETTINGS[key], source, base), source, base)


def _table(name: str, value: Any, source: str, base: Path, layer: FileLayer) -> None:
    if not isinstance(value, dict):
        raise ConfigError(f"{name} in {source} must be a table ([{name}])")
    layer.entries += [_fixed(f"{name}.{k}", v, source, base) for k, v in value.items()]


def _chains(value: Any, source: str, base: Path, layer: FileLayer) -> None:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ConfigError(f"{source}: [chains.<name>] must be tables")
    for name, table in value.items():
        if name == "etm":
            _legacy_etm(table, source, base, layer)
        else:
            _chain(name, table, source, base, layer)


def _chain(name: str, table: Mapping[str, Any], source: str, base: Path, layer: FileLayer) -> None:
    check_chain_name(name, source)
    for key, value in table.items():
        dotted = f"chains.{name}.{key}"
        if isinstance(value, dict):
            raise ConfigError(f"{dotted} in {source} must be a value, not a table")
        meta = CHAIN_META.get(key)
        value = value if meta is None else coerce(dotted, value, meta, source, base)
        layer.entries.append(Entry(dotted, value, source, base))


def _legacy_etm(table: Mapping[str, Any], source: str, base: Path, layer: FileLayer) -> None:
    layer.notes.append(f"[chains.etm] in {source} is deprecated: write [etm] url = ...")
    for key, value in table.items():
        if key in _LEGACY_ETM:
            layer.entries.append(_fixed(_LEGACY_ETM[key], value, source, base))
        elif key not in CHAIN_META:  # adapter/key/secret_field/data_dir: the ETM leg's own
            raise ConfigError(
                f"unknown key 'chains.etm.{key}' in {source}: [chains.etm] is read as [etm], "
                f"whose keys are {', '.join(_LEGACY_ETM)}"
            )


def env_entries(env: Mapping[str, str], chain_names: Iterable[str]) -> list[Entry]:
    """Entries for every ``ETM_BRIDGE_<KEY>`` set (non-empty) in ``env``.

    A fixed key's variable is its :func:`~.schema.env_name`; ``ETM_BRIDGE_<CHAIN>_<KEY>`` sets
    ``chains.<chain>.<key>`` for any of ``chain_names`` (the longest matching name wins; two
    names with one variable prefix, ``a-b`` and ``a_b``, are an error); a variable inside the
    ``etm``, ``kdf`` or ``policy`` table that names no key is an error.
    """
    fixed = {env_name(key): key for key in SETTINGS}
    prefixes = sorted(
        ((env_name(f"chains.{n}") + "_", n) for n in chain_names), key=lambda p: -len(p[0])
    )
    found: list[Entry] = []
    for var, text in sorted(env.items()):
        if not var.startswith(ENV_PREFIX) or not text or var in NOT_KEYS:
            continue
        source = f"environment variable {var}"
        if var in fixed:
            key = fixed[var]
            found.append(Entry(key, coerce(key, text, SETTINGS[key], source, None), source))
            continue
        chain = _chain_of(var, prefixes)
        if chain is not None:
            key = var[len(env_name(f"chains.{chain}")) + 1 :].lower()
            dotted, meta = f"chains.{chain}.{key}", CHAIN_META.get(key)
            value = text if meta is None else coerce(dotted, text, meta, source, None)
            found.append(Entry(dotted, value, source))
        elif any(var.startswith(f"{ENV_PREFIX}{t.upper()}_") for t in ("etm", "kdf", "policy")):
            raise ConfigError(f"{var} names no config key; known keys: {known_keys()}")
    return found


def _chain_of(var: str, prefixes: list[tuple[str, str]]) -> str | None:
    """The chain ``var`` sets a key of (the longest matching prefix); ConfigError when two
    chains share that prefix (``a-b`` and ``a_b``): which one got it would be chance."""
    matches = [(p, n) for p, n in prefixes if var.startswith(p) and len(var) > len(p)]
    if not matches:
        return None
    longest = [n for p, n in matches if len(p) == len(matches[0][0])]
    if len(longest) > 1:
        both = " and ".join(f"[chains.{n}]" for n in sorted(longest))
        raise ConfigError(f"{var} could set a key of {both}: rename one of them")
    return longest[0]


def stack_client_path(env: Mapping[str, str], cwd: Path) -> Path:
    """``<stack dir>/client.toml``: ``$ETM_STACK_DIR``, else ``./.etm/stack`` (the stack's own
    default, etm_bridge_regtest.stack)."""
    stack_dir = Path(env.get(STACK_DIR_ENV) or cwd / ".etm" / "stack")
    return stack_dir / STACK_CLIENT_FILE


def legacy_config_path() -> Path:
    """Where the config file was before the home held it: ``$XDG_CONFIG_HOME/etm-bridge``."""
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "config.toml"


def find_config_file(
    explicit: Path | None, env: Mapping[str, str], home: Home
) -> tuple[Path | None, str | None]:
    """(the config file to read or None, a note): ``--config``, ``$ETM_BRIDGE_CONFIG``,
    ``<home>/config.toml``, else the legacy location if a file is there."""
    if explicit is not None:
        return Path(explicit).expanduser(), None
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser(), None
    if home.config_path.is_file():
        return home.config_path, None
    legacy = legacy_config_path()
    if legacy.is_file():
        return legacy, f"reading {legacy} (the old config location): move it to {home.config_path}"
    return None, None
