"""A node of the local stack as a :class:`Service`, and starting/stopping one as a process.

To add a node to the stack (the ETM node, say) write a Service subclass: ``name``, ``ports``
(label -> port, checked free before start), ``command()``, ``probe()`` (one readiness check,
False while the RPC does not answer yet), optionally ``environment()``, ``prepare()`` (write
config files), ``after_ready()`` (wallets, funding) and ``describe()`` (endpoints and credentials
for ``stack.json`` and ``stack status``); then register a factory in ``stack.STACK_SERVICES``.

:func:`start` runs one Service: refuses taken ports at once (naming the port), spawns it in its
own session, polls ``probe`` until a deadline and, if the process dies or never answers, stops
it and raises StackError carrying the log tail. :func:`stop` ends the whole process group.

A :class:`ServiceGroup` is several processes the stack handles as one entry (the ETM network:
one process per delegate node): each member is a Service with its own pidfile, and
:func:`start_all` spawns members at once and then waits for each (they start in parallel).
"""

from __future__ import annotations

import shutil
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from etm_bridge.errors import StackError

from . import procs


class Service(ABC):
    """One node process: how to run it, how to tell it is ready, what to tell its users."""

    #: Short name used for files (``<name>.log``, ``<name>.pid``) and in ``stack.json``.
    name: ClassVar[str]
    #: How long ``start`` waits for ``probe`` to succeed.
    start_timeout_s: ClassVar[float] = 60.0

    def __init__(self, home: Path) -> None:
        self.home = home

    @property
    def log_path(self) -> Path:
        return self.home / f"{self.name}.log"

    @property
    @abstractmethod
    def ports(self) -> dict[str, int]:
        """Label -> loopback port this node binds, e.g. ``{"rpc": 18443}``."""

    @abstractmethod
    def command(self) -> list[str]:
        """The argv to run; argv[0] must exist (a missing binary fails before spawning)."""

    def environment(self) -> dict[str, str]:
        """Extra environment variables for the process."""
        return {}

    def prepare(self) -> None:
        """Create the home directory and any config file, before ``command`` runs."""
        self.home.mkdir(parents=True, exist_ok=True)

    @abstractmethod
    def probe(self) -> bool:
        """One readiness check: True once the node answers RPC. Never raises for 'not yet'."""

    def after_ready(self) -> None:  # noqa: B027 (optional hook, empty by default)
        """One-time setup once the node answers (wallets, funding). Idempotent."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """JSON-able endpoints and credentials for ``stack.json`` / ``stack status``."""


class ServiceGroup(ABC):
    """Several node processes that ``stack.json`` holds as one entry (module doc)."""

    name: str
    #: How long, after every member answers, ``after_ready`` may wait for the group.
    start_timeout_s: ClassVar[float] = 60.0

    def __init__(self, home: Path) -> None:
        self.home = home

    @abstractmethod
    def members(self) -> list[Service]:
        """One Service per process, each with its own ``name`` (and so pidfile)."""

    def prepare(self) -> None:
        """Write what every member needs (a shared genesis), before any member starts."""
        self.home.mkdir(parents=True, exist_ok=True)

    def after_ready(self) -> None:  # noqa: B027 (optional hook, empty by default)
        """Once every member answers: wait until the group works together (peering)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """JSON-able endpoints for ``stack.json``: the group's, and ``nodes``: one per member."""

    def view(self, node: dict[str, Any], answering: bool) -> dict[str, Any]:
        """What ``stack status`` shows live of one member (``node``: its ``describe`` entry)."""
        return {}


def reset_hint(state_dir: Path) -> str:
    """What to do when the stack in ``state_dir`` cannot restart whole (a node's saved chain
    lost, damaged or not the one the others follow): its regtest chains start over."""
    return (
        f"reset the stack (its regtest chains start over; swaps on the old ones cannot finish): "
        f"`etm-bridge stack down && rm -rf {state_dir} && etm-bridge stack up`"
    )


@dataclass
class Started:
    """A service process started by :func:`start`."""

    service: Service
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid


def _check_binary(service: Service, argv0: str) -> None:
    if shutil.which(argv0) is None and not Path(argv0).is_file():
        raise StackError(f"{service.name}: cannot start, binary {argv0!r} not found")


def launch(
    service: Service, *, pidfile: Path | None = None, die_with_parent: bool = False
) -> Started:
    """Spawn ``service`` (ports checked free, ``prepare`` run) without waiting for it.

    ``die_with_parent``: the node gets SIGTERM if this process dies (for throwaway nodes; the
    stack's nodes must outlive the ``stack up`` command, so they do not set it).
    """
    procs.require_free_ports(service.ports, service.name)
    service.prepare()
    command = service.command()
    _check_binary(service, command[0])
    process = procs.spawn(
        command, service.log_path, service.environment(), die_with_parent=die_with_parent
    )
    if pidfile is not None:
        procs.write_pidfile(pidfile, process.pid, command)
    return Started(service, process)


def await_ready(started: Started, *, pidfile: Path | None = None) -> Started:
    """Wait until a launched service answers and run its ``after_ready``; on failure stop it
    and raise StackError with its log tail."""
    service, process = started.service, started.process
    try:
        procs.wait_until(
            service.probe,
            timeout_s=service.start_timeout_s,
            what=f"{service.name} ({', '.join(f'{k} port {v}' for k, v in service.ports.items())})",
            alive=lambda: process.poll() is None,
        )
        service.after_ready()
    except BaseException as exc:
        stop(started.pid)
        if pidfile is not None:
            pidfile.unlink(missing_ok=True)
        if isinstance(exc, StackError):
            raise StackError(f"{exc}\n{failure_report(service)}") from exc
        raise
    return started


def start(
    service: Service, *, pidfile: Path | None = None, die_with_parent: bool = False
) -> Started:
    """Start ``service`` and wait until it answers; StackError (with the log tail) otherwise."""
    started = launch(service, pidfile=pidfile, die_with_parent=die_with_parent)
    return await_ready(started, pidfile=pidfile)


def start_all(services: list[tuple[Service, Path]]) -> list[Started]:
    """Start several services in parallel (spawn all, then wait for each), with pidfiles.

    If one fails to spawn or to become ready, every one this call spawned is stopped (its
    pidfile removed) and the error propagates."""
    launched: list[tuple[Started, Path]] = []
    try:
        for service, pidfile in services:
            launched.append((launch(service, pidfile=pidfile), pidfile))
        return [await_ready(started, pidfile=pidfile) for started, pidfile in launched]
    except BaseException:
        for started, pidfile in launched:
            stop(started.pid)
            pidfile.unlink(missing_ok=True)
        raise


def stop(pid: int, *, timeout_s: float = 15.0) -> bool:
    """Stop the process group led by ``pid``. True if something was running."""
    return procs.stop_group(pid, timeout_s=timeout_s)


def failure_report(service: Service, lines: int = 25) -> str:
    """The tail of the service's log, labelled, for error messages and failed tests."""
    tail = procs.log_tail(service.log_path, lines)
    body = tail if tail else "(log is empty)"
    return f"--- last lines of {service.log_path} ---\n{body}"
