"""Discovery of chain-adapter plugins through the ``etm_bridge.adapters`` entry-point group.

A chain is a package that declares, in its ``pyproject.toml``::

    [project.entry-points."etm_bridge.adapters"]
    mychain = "my_package:MyChainAdapter"

The core never imports an adapter by name: it asks this module. Whatever an entry point loads
is validated to be a :class:`~etm_bridge.adapter.ChainAdapter` subclass whose declared
capabilities are exactly the ones it implements (ape does the same for its plugins); a broken
plugin is reported, not fatal, when listing. A name two plugins register (e.g. a second adapter
of an installed chain) loads neither: the adapter is handed its wallet key, and which one loaded
would otherwise depend on the install order.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from .adapter import ChainAdapter, capability_problems
from .errors import AdapterLoadError

#: The entry-point group adapters register in.
GROUP = "etm_bridge.adapters"


@dataclass(frozen=True)
class AdapterEntry:
    """One installed adapter plugin; ``error`` is None when it loads and validates."""

    name: str
    distribution: str
    version: str
    module: str  # "package.module:Class" as declared
    error: str | None
    location: str | None = None  # directory of the loaded module's file (None if it failed)

    @property
    def ok(self) -> bool:
        return self.error is None


def _entry_points() -> list[EntryPoint]:
    return sorted(entry_points(group=GROUP), key=lambda ep: ep.name)


def _validated_class(ep: EntryPoint) -> type[ChainAdapter]:
    try:
        obj = ep.load()
    except Exception as exc:  # a plugin may fail in any way while importing
        raise AdapterLoadError(
            f"adapter {ep.name!r} ({ep.value}) failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    if not (isinstance(obj, type) and issubclass(obj, ChainAdapter)):
        raise AdapterLoadError(
            f"adapter {ep.name!r} ({ep.value}) is not a ChainAdapter subclass: {obj!r}"
        )
    if getattr(obj, "__abstractmethods__", None):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        raise AdapterLoadError(f"adapter {ep.name!r} ({ep.value}) leaves abstract: {missing}")
    problems = capability_problems(obj)
    if problems:
        raise AdapterLoadError(f"adapter {ep.name!r} ({ep.value}) {'; '.join(problems)}")
    return obj


def list_adapters() -> list[AdapterEntry]:
    """Every installed adapter with where it came from and whether it loads."""
    result = []
    for ep in _entry_points():
        dist = ep.dist
        location = error = None
        twins = [other for other in _entry_points() if other.name == ep.name]
        try:
            if len(twins) > 1:
                raise AdapterLoadError(_clash(twins))
            location = _location(_validated_class(ep))
        except AdapterLoadError as exc:
            error = str(exc)
        result.append(
            AdapterEntry(
                name=ep.name,
                distribution=dist.metadata["Name"] if dist is not None else "?",
                version=dist.version if dist is not None else "?",
                module=ep.value,
                error=error,
                location=location,
            )
        )
    return result


def _location(cls: type) -> str | None:
    try:
        return str(Path(inspect.getfile(cls)).resolve().parent)
    except (TypeError, OSError):  # a class without a source file (built in, frozen)
        return None


def load_adapter_class(name: str) -> type[ChainAdapter]:
    """The adapter class registered as ``name``; :class:`AdapterLoadError` if absent or bad."""
    matches = [ep for ep in _entry_points() if ep.name == name]
    if not matches:
        known = ", ".join(ep.name for ep in _entry_points()) or "none"
        raise AdapterLoadError(f"no chain adapter named {name!r} is installed (installed: {known})")
    if len(matches) > 1:
        raise AdapterLoadError(_clash(matches))
    return _validated_class(matches[0])


def _clash(matches: list[EntryPoint]) -> str:
    """Two plugins under one adapter name: which one loads would depend on the install order,
    and the one that loads is handed the chain's wallet key, so neither is used."""
    who = " and ".join(f"{ep.value} ({_dist(ep)})" for ep in matches)
    return f"adapter {matches[0].name!r} is registered by {who}: uninstall one"


def _dist(ep: EntryPoint) -> str:
    dist = ep.dist
    return f"{dist.metadata['Name']} {dist.version}" if dist is not None else "?"


def create_adapter(name: str, config: Mapping[str, Any]) -> ChainAdapter:
    """Load adapter ``name`` and build it from ``config`` (its ``from_config``)."""
    return load_adapter_class(name).from_config(config)
