"""The developer's local stack: ``up`` (idempotent), ``status`` and ``down``.

State lives in one git-ignored directory (``$ETM_STACK_DIR``, default ``./.etm/stack``): per
service a home directory with its datadir and log (anvil: ``state.json``, its saved chain), a
pidfile ``<name>.pid``, ``stack.json`` with every endpoint and credential, and while the stack is
up ``client.toml``, those endpoints as the config layer every command reads on regtest
(:mod:`.client_config`). ``down`` then ``up`` continues every chain where it was (the nodes
reload their data; ``up`` checks they agree). Ports are fixed loopback ports below 32768
(bitcoin RPC 18443, bcoin wallet HTTP 18445, anvil 8545, ETM node 26657 reserved), or
``$ETM_STACK_BASE_PORT + offset`` so a second stack (a test) never collides with the developer's.

Services start in the order of :data:`STACK_SERVICES` and stop in reverse. To add one, write a
:class:`~etm_bridge_regtest.service.Service` and add ``"name": factory`` there; the factory gets
the :class:`StackConfig` and what ``stack.json`` saved for it last time (credentials to reuse).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etm_bridge.config import STACK_CLIENT_FILE
from etm_bridge.errors import ConfigError
from etm_bridge.private_files import write_private

from . import procs
from .anvil import AnvilService
from .bitcoin import bitcoin_service
from .client_config import write_client_config
from .consistency import check_stack
from .etm_node import EtmNodeService
from .service import Service, start, stop

DEFAULT_PORTS: dict[str, int] = {
    "bitcoin_rpc": 18443,
    "bitcoin_wallet": 18445,
    "anvil": 8545,
    "etm": 26657,
}
#: With ETM_STACK_BASE_PORT=B the ports are B + offset.
PORT_OFFSETS: dict[str, int] = {"bitcoin_rpc": 0, "bitcoin_wallet": 2, "anvil": 3, "etm": 4}


@dataclass(frozen=True)
class StackConfig:
    """Where the stack keeps its state and which ports it uses."""

    state_dir: Path
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StackConfig:
        """Read ``ETM_STACK_DIR`` and ``ETM_STACK_BASE_PORT`` (both optional)."""
        env = os.environ if env is None else env
        state_dir = Path(env.get("ETM_STACK_DIR") or Path.cwd() / ".etm" / "stack")
        base = env.get("ETM_STACK_BASE_PORT")
        if not base:
            return cls(state_dir.resolve())
        try:
            base_port = int(base)
        except ValueError:
            raise ConfigError(f"ETM_STACK_BASE_PORT must be an integer, got {base!r}") from None
        if not 1024 <= base_port <= 32767 - max(PORT_OFFSETS.values()):
            raise ConfigError(
                f"ETM_STACK_BASE_PORT={base_port} must be in 1024-32763 (ports stay below 32768)"
            )
        ports = {name: base_port + offset for name, offset in PORT_OFFSETS.items()}
        return cls(state_dir.resolve(), ports)

    @property
    def state_file(self) -> Path:
        return self.state_dir / "stack.json"

    @property
    def client_file(self) -> Path:
        """The stack's endpoints as a config layer (etm_bridge.config reads it on regtest)."""
        return self.state_dir / STACK_CLIENT_FILE

    def pidfile(self, name: str) -> Path:
        return self.state_dir / f"{name}.pid"

    def home(self, name: str) -> Path:
        return self.state_dir / name


ServiceFactory = Callable[[StackConfig, Mapping[str, Any]], Service]


def _bitcoin(config: StackConfig, saved: Mapping[str, Any]) -> Service:
    return bitcoin_service(
        config.home("bitcoin"),
        rpc_port=config.ports["bitcoin_rpc"],
        wallet_port=config.ports["bitcoin_wallet"],
        rpc_password=saved.get("rpc_password"),
        faucet_address=saved.get("faucet_address"),
    )


def _anvil(config: StackConfig, saved: Mapping[str, Any]) -> Service:
    return AnvilService(config.home("anvil"), port=config.ports["anvil"], persist=True)


def _etm(config: StackConfig, saved: Mapping[str, Any]) -> Service:
    anvil = f"http://127.0.0.1:{config.ports['anvil']}"
    return EtmNodeService(config.home("etm"), port=config.ports["etm"], eth_rpc_url=anvil)


#: name -> factory, in start order.
STACK_SERVICES: dict[str, ServiceFactory] = {"bitcoin": _bitcoin, "anvil": _anvil, "etm": _etm}


def load_state(config: StackConfig) -> dict[str, Any]:
    """The saved ``stack.json`` ({} before the first ``up``)."""
    try:
        state = json.loads(config.state_file.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise ConfigError(f"{config.state_file} is not valid JSON ({exc}); delete it") from exc
    if not isinstance(state, dict) or not all(isinstance(v, dict) for v in state.values()):
        raise ConfigError(
            f"{config.state_file} is not a stack state file (an object of one object per"
            " service); delete it"
        )
    return state


def _save_state(config: StackConfig, state: dict[str, Any]) -> None:
    """Atomically, 0600: the state names the Bitcoin node's RPC password."""
    write_private(config.state_file, json.dumps(state, indent=2, sort_keys=True) + "\n")


def _services(config: StackConfig, state: Mapping[str, Any]) -> list[Service]:
    return [make(config, state.get(name, {})) for name, make in STACK_SERVICES.items()]


def up(config: StackConfig) -> dict[str, dict[str, Any]]:
    """Start every service not already running; return name -> info (with ``"action"``).

    Already-running services are left alone (``action: "already running"``). Then the chains
    are checked to be the ones the ETM node follows (:func:`.consistency.check_stack`: a node
    whose saved chain was lost cannot restart the stack whole). If a service fails to start or
    the check fails, the services this call started are stopped again and the StackError
    propagates.
    """
    state = load_state(config)
    started: list[tuple[str, int]] = []
    report: dict[str, dict[str, Any]] = {}
    try:
        for service in _services(config, state):
            pidfile = config.pidfile(service.name)
            pid = procs.pidfile_process(pidfile)
            if pid is not None:
                procs.wait_until(
                    service.probe,
                    timeout_s=service.start_timeout_s,
                    what=f"{service.name} (pid {pid})",
                )
                action = "already running"
            else:
                pidfile.unlink(missing_ok=True)
                pid = start(service, pidfile=pidfile).pid
                started.append((service.name, pid))
                action = "started"
            state[service.name] = {**service.describe(), "pid": pid}
            report[service.name] = {**state[service.name], "action": action}
            _save_state(config, state)
        check_stack(report, config.state_dir)
        write_client_config(config.client_file, state)
    except BaseException:
        for name, pid in reversed(started):
            stop(pid)
            config.pidfile(name).unlink(missing_ok=True)
        raise
    return report


def status(config: StackConfig) -> dict[str, dict[str, Any]]:
    """name -> saved info plus ``running`` (pidfile process alive) and ``answering`` (RPC)."""
    state = load_state(config)
    result: dict[str, dict[str, Any]] = {}
    for service in _services(config, state):
        pid = procs.pidfile_process(config.pidfile(service.name))
        info = dict(state.get(service.name, {}))
        info.update(running=pid is not None, pid=pid)
        info["answering"] = bool(pid is not None and service.probe())
        result[service.name] = info
    return result


def down(config: StackConfig) -> dict[str, str]:
    """Stop the processes recorded in the pidfiles (reverse start order): name -> outcome."""
    outcome: dict[str, str] = {}
    for name in reversed(list(STACK_SERVICES)):
        pidfile = config.pidfile(name)
        pid = procs.pidfile_process(pidfile)
        if pid is None:
            outcome[name] = "not running"
        else:
            stop(pid)
            outcome[name] = f"stopped (pid {pid})"
        pidfile.unlink(missing_ok=True)
    config.client_file.unlink(missing_ok=True)  # commands stop reaching the stack's nodes
    return outcome
