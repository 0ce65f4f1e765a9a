"""load_config: the layers merged in one pass, lowest first.

1. the built-in defaults (:data:`~.schema.SETTINGS`);
2. the local stack's ``<ETM_STACK_DIR or ./.etm/stack>/client.toml`` (written by ``etm-bridge
   stack up``), only when the network is ``regtest``;
3. the config file: ``--config``, else ``$ETM_BRIDGE_CONFIG``, else ``<home>/config.toml``, else
   the legacy ``$XDG_CONFIG_HOME/etm-bridge/config.toml``;
4. the environment: ``ETM_BRIDGE_<KEY>`` (:func:`~.schema.env_name`);
5. command-line options (given as entries by the caller).

Key by key, a higher layer wins. The network that gates the stack layer is the highest one
set above it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .home import Home, resolve_home
from .model import Config
from .schema import RESERVED_CHAIN_NAMES, SETTINGS, coerce, env_name
from .sources import (
    Entry,
    FileLayer,
    env_entries,
    file_layer,
    find_config_file,
    installed_adapter_names,
    stack_client_path,
)


def load_config(
    *,
    home: Path | str | None = None,
    config_file: Path | None = None,
    options: Mapping[str, tuple[Any, str]] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Read and merge every layer. ``home``: ``--home``; ``config_file``: ``--config``;
    ``options``: fixed key -> (value, source such as ``option --network``)."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    chosen = resolve_home(home, env)
    path, note = find_config_file(config_file, env, chosen)
    notes = [] if note is None else [note]
    adapters = installed_adapter_names()
    file = FileLayer()
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        file = file_layer(path, f"config file {path}", adapters)
        notes += file.notes
        if file.data_dir is not None and not chosen.explicit:
            chosen = Home(file.data_dir, f"data_dir in config file {path}")
    given = [_option(key, value, source) for key, (value, source) in (options or {}).items()]
    stack, stack_path = FileLayer(), stack_client_path(env, cwd)
    present = stack_path.is_file() or stack_path.is_symlink()  # a planted link is refused
    if _network(file.entries, env, given) == "regtest" and present:
        stack = file_layer(stack_path, f"the local stack's {stack_path}", (), private=True)
    chain_names = (adapters | file.chain_names | stack.chain_names) - RESERVED_CHAIN_NAMES
    entries = [*stack.entries, *file.entries, *env_entries(env, chain_names), *given]
    return _merge(chosen, entries, path, notes)


def _network(file: list[Entry], env: Mapping[str, str], given: list[Entry]) -> str:
    """The network the layers above the stack's choose (the stack's layer is for regtest)."""
    for entry in reversed(given):
        if entry.key == "network":
            return str(entry.value)
    var = env_name("network")
    if env.get(var):
        source = f"environment variable {var}"
        return str(coerce("network", env[var], SETTINGS["network"], source, None))
    found = [e.value for e in file if e.key == "network"]
    return str(found[-1]) if found else str(SETTINGS["network"].default)


def _option(key: str, value: Any, source: str) -> Entry:
    if key not in SETTINGS:
        raise KeyError(f"unknown setting {key!r}")
    return Entry(key, coerce(key, value, SETTINGS[key], source, None), source)


#: ``etm.url`` and ``etm.urls`` name the same thing: the one a higher layer sets wins whole.
_ETM_URL_KEYS = {"etm.url": "etm.urls", "etm.urls": "etm.url"}


def _merge(home: Home, entries: Iterable[Entry], path: Path | None, notes: list[str]) -> Config:
    values: dict[str, Any] = {key: setting.default for key, setting in SETTINGS.items()}
    sources: dict[str, str] = {}
    chains: dict[str, dict[str, Entry]] = {}
    for entry in entries:
        if entry.key.startswith("chains."):
            _, name, option = entry.key.split(".", 2)
            chains.setdefault(name, {})[option] = entry
        else:
            values[entry.key] = entry.value
            other = _ETM_URL_KEYS.get(entry.key)
            if other is not None and sources.get(other) != entry.source:
                values[other] = None  # a higher layer's endpoint(s) replace a lower layer's
                sources.pop(other, None)
        sources[entry.key] = entry.source
    return Config(home, values, sources, chains, path, tuple(notes))
