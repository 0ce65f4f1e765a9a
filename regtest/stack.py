"""The developer's local stack: ``up`` (idempotent), ``status`` and ``down``.

State lives in one git-ignored directory (``$ETM_STACK_DIR``, default ``./.etm/stack``): per
service a home directory with its datadir and log (anvil: ``state.json``, its saved chain), a
pidfile ``<name>.pid``, ``stack.json`` with every endpoint and credential, and while the stack is
up ``client.toml``, those endpoints as the config layer every command reads on regtest
(:mod:`.client_config`). ``down`` then ``up`` continues every chain where it was (the nodes
reload their data; ``up`` checks they agree). Ports are fixed loopback ports below 32768
(bitcoin RPC 18443, bcoin wallet HTTP 18445, anvil 8545, ETM nodes 26657.. reserved, hsd RPC
14037 and wallet 14039), or ``$ETM_STACK_BASE_PORT + offset`` so a second stack (a test) never
collides with the developer's.

Handshake: hsd regtest (:mod:`.hsd`, on disk under ``<stack>/hsd``) runs when it can start here
(``make deps`` built bdb's LevelDB binding); else ``up`` says why in one line
(``"action": "not started"``) and the stack runs without it. A new stack's ETM genesis carries
the Handshake relay only when hsd could start (a stack dir made without it keeps its genesis);
``up`` ends by relaying hsd's new headers to it (:mod:`.stack_relays`).

ETM is a network of ``$ETM_STACK_NODES`` (default 4) delegate nodes
(:class:`~etm_bridge_regtest.etm_node.EtmNetworkService`: node *k* on the ETM port + *k*, a
pidfile ``etm-<k>.pid`` each, started in parallel); ``ETM_STACK_NODES=1`` is the single node
forging for every delegate (:class:`~etm_bridge_regtest.etm_node.EtmNodeService`), which a stack
dir made by it (``etm/data``) keeps.

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
from etm_bridge.errors import ConfigError, EtmBridgeError
from etm_bridge.private_files import write_private

from . import procs
from .anvil import AnvilService
from .bitcoin import bitcoin_service
from .client_config import write_client_config
from .consistency import check_stack
from .etm_node import NETWORK_NODES, EtmNetworkService, EtmNodeService
from .hsd import HsdService, hsd_unavailable
from .service import Service, ServiceGroup, start_all, stop
from .stack_relays import feed_hns_relay

DEFAULT_PORTS: dict[str, int] = {
    "bitcoin_rpc": 18443,
    "bitcoin_wallet": 18445,
    "anvil": 8545,
    "etm": 26657,
    "hsd_rpc": 14037,
    "hsd_wallet": 14039,
}
MAX_ETM_NODES = 8
#: With ETM_STACK_BASE_PORT=B the ports are B + offset (ETM node k: the "etm" port + k; hsd's
#: wallet after the largest network's last node).
PORT_OFFSETS: dict[str, int] = {"bitcoin_rpc": 0, "hsd_rpc": 1, "bitcoin_wallet": 2, "anvil": 3,
                                "etm": 4, "hsd_wallet": 4 + MAX_ETM_NODES}  # fmt: skip


def port_span(etm_nodes: int) -> int:
    """The highest offset a stack of ``etm_nodes`` ETM nodes uses."""
    return max(PORT_OFFSETS["etm"] + etm_nodes - 1, PORT_OFFSETS["hsd_wallet"])


@dataclass(frozen=True)
class StackConfig:
    """Where the stack keeps its state and which ports it uses."""

    state_dir: Path
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    #: ETM delegate nodes (1: one node forging for every delegate).
    etm_nodes: int = NETWORK_NODES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StackConfig:
        """Read ``ETM_STACK_DIR``, ``ETM_STACK_BASE_PORT`` and ``ETM_STACK_NODES`` (optional)."""
        env = os.environ if env is None else env
        state_dir = Path(env.get("ETM_STACK_DIR") or Path.cwd() / ".etm" / "stack")
        nodes = _int_env(env, "ETM_STACK_NODES", NETWORK_NODES)
        if not 1 <= nodes <= MAX_ETM_NODES:
            raise ConfigError(f"ETM_STACK_NODES must be in 1-{MAX_ETM_NODES}, got {nodes}")
        base = env.get("ETM_STACK_BASE_PORT")
        if not base:
            return cls(state_dir.resolve(), etm_nodes=nodes)
        base_port = _int_env(env, "ETM_STACK_BASE_PORT", 0)
        highest = 32767 - port_span(nodes)
        if not 1024 <= base_port <= highest:
            raise ConfigError(
                f"ETM_STACK_BASE_PORT={base_port} must be in 1024-{highest} (ports stay below"
                f" 32768)"
            )
        ports = {name: base_port + offset for name, offset in PORT_OFFSETS.items()}
        return cls(state_dir.resolve(), ports, nodes)

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


def _int_env(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {text!r}") from None


@dataclass(frozen=True)
class Unavailable:
    """A service that cannot start on this machine (``reason`` says why and what to do): the
    stack runs without it."""

    name: str
    reason: str


ServiceFactory = Callable[[StackConfig, Mapping[str, Any]], Service | ServiceGroup | Unavailable]


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


def _hsd(config: StackConfig, saved: Mapping[str, Any]) -> HsdService | Unavailable:
    why = hsd_unavailable()
    if why is not None:
        return Unavailable("hsd", f"not started, the stack runs without Handshake: {why}")
    return HsdService(config.home("hsd"), rpc_port=config.ports["hsd_rpc"],
                      wallet_port=config.ports["hsd_wallet"], api_key=saved.get("api_key"),
                      persist=True)  # fmt: skip


def _etm(config: StackConfig, saved: Mapping[str, Any]) -> Service | ServiceGroup:
    anvil = f"http://127.0.0.1:{config.ports['anvil']}"
    home, port = config.home("etm"), config.ports["etm"]
    hns = hsd_unavailable() is None  # a new genesis relays Handshake when hsd can run
    single = EtmNodeService(home, port=port, eth_rpc_url=anvil, hns=hns)
    if config.etm_nodes == 1 or (single.data_dir / "node.json").exists():
        return single  # asked for, or a stack dir made by the single node: its chain goes on
    nodes = len(saved.get("nodes") or ()) or config.etm_nodes  # a network keeps its size
    return EtmNetworkService(home, port=port, eth_rpc_url=anvil, nodes=nodes, hns=hns)


#: name -> factory, in start order.
STACK_SERVICES: dict[str, ServiceFactory] = {
    "bitcoin": _bitcoin, "anvil": _anvil, "hsd": _hsd, "etm": _etm,
}  # fmt: skip


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


def _all(
    config: StackConfig, state: Mapping[str, Any]
) -> list[Service | ServiceGroup | Unavailable]:
    return [make(config, state.get(name, {})) for name, make in STACK_SERVICES.items()]


def unavailable(config: StackConfig) -> dict[str, str]:
    """name -> why, for the services that cannot start on this machine (the stack runs
    without them; ``status`` leaves them out)."""
    found = _all(config, load_state(config))
    return {s.name: s.reason for s in found if isinstance(s, Unavailable)}


def _services(config: StackConfig, state: Mapping[str, Any]) -> list[Service | ServiceGroup]:
    """The services that can run here, in start order."""
    return [s for s in _all(config, state) if not isinstance(s, Unavailable)]


def members(service: Service | ServiceGroup) -> list[Service]:
    """The processes of one stack entry: itself, or a group's members."""
    return service.members() if isinstance(service, ServiceGroup) else [service]


def _pids_text(pids: list[int]) -> str:
    return f"pid {pids[0]}" if len(pids) == 1 else f"pids {', '.join(map(str, pids))}"


def _up_one(config: StackConfig, service: Service | ServiceGroup,
            started: list[tuple[str, int]]) -> dict[str, Any]:  # fmt: skip
    """Start what of ``service`` is not running (a group's members in parallel): its info."""
    procs_of = members(service)
    pids: dict[str, int] = {}
    for member in procs_of:
        pid = procs.pidfile_process(config.pidfile(member.name))
        if pid is not None:
            procs.wait_until(member.probe, timeout_s=member.start_timeout_s,
                             what=f"{member.name} (pid {pid})")  # fmt: skip
            pids[member.name] = pid
    missing = [m for m in procs_of if m.name not in pids]
    if missing and isinstance(service, ServiceGroup):
        service.prepare()
    for member in missing:
        config.pidfile(member.name).unlink(missing_ok=True)
    launched = start_all([(m, config.pidfile(m.name)) for m in missing])
    for run in launched:
        started.append((run.service.name, run.pid))
        pids[run.service.name] = run.pid
    if isinstance(service, ServiceGroup):
        service.after_ready()
    if not missing:
        action = "already running"
    elif len(missing) == len(procs_of):
        action = "started"
    else:
        action = f"started {', '.join(m.name for m in missing)} (the rest already running)"
    ordered = [pids[m.name] for m in procs_of]
    info = {**service.describe(), "pid": ordered[0], "action": action}
    if isinstance(service, ServiceGroup):
        info["pids"] = ordered
        for node in info.get("nodes", []):
            node["pid"] = pids.get(node["name"])
    info["headline"] = f"{action} ({_pids_text(ordered)})"
    return info


def up(config: StackConfig) -> dict[str, dict[str, Any]]:
    """Start every service not already running; return name -> info (with ``"action"``).

    Already-running services are left alone (``action: "already running"``); a group (the ETM
    network) starts only its members that are not running, in parallel. Then the chains are
    checked to be the ones the ETM nodes follow (:func:`.consistency.check_stack`: a node
    whose saved chain was lost cannot restart the stack whole). If a service fails to start or
    the check fails, the processes this call started are stopped again and the StackError
    propagates.
    """
    state = load_state(config)
    started: list[tuple[str, int]] = []
    report: dict[str, dict[str, Any]] = {}
    try:
        for service in _all(config, state):
            if isinstance(service, Unavailable):
                report[service.name] = {"action": "not started", "headline": service.reason}
                state.pop(service.name, None)
                continue
            info = _up_one(config, service, started)
            state[service.name] = {k: v for k, v in info.items() if k not in ("action", "headline")}
            report[service.name] = info
            _save_state(config, state)
        check_stack(report, config.state_dir)
        _feed_relays(report)
        write_client_config(config.client_file, state)
    except BaseException:
        for name, pid in reversed(started):
            stop(pid)
            config.pidfile(name).unlink(missing_ok=True)
        raise
    return report


def _feed_relays(report: dict[str, dict[str, Any]]) -> None:
    """Bring the ETM chain's Handshake relay to hsd's tip (:mod:`.stack_relays`); a failure is
    said in hsd's headline, not fatal (the engines feed the relay as they need)."""
    try:
        relayed = feed_hns_relay(report)
    except EtmBridgeError as exc:
        report["hsd"]["headline"] += f"; its headers not relayed to ETM: {exc}"
        return
    if relayed is not None:
        report["hsd"]["headline"] += f"; {relayed} header(s) relayed to the ETM chain"


def status(config: StackConfig) -> dict[str, dict[str, Any]]:
    """name -> saved info plus ``running`` (pidfile process alive) and ``answering`` (RPC);
    a group's: every member running / answering, and per node in ``nodes`` its own (plus,
    for ETM nodes, what the node says: :func:`.etm_node.node_view`)."""
    state = load_state(config)
    result: dict[str, dict[str, Any]] = {}
    for service in _services(config, state):
        info = dict(state.get(service.name, {}))
        views = []
        for member in members(service):
            pid = procs.pidfile_process(config.pidfile(member.name))
            views.append({"name": member.name, "pid": pid, "running": pid is not None,
                          "answering": bool(pid is not None and member.probe())})  # fmt: skip
        info.update(running=all(v["running"] for v in views), pid=views[0]["pid"],
                    answering=all(v["answering"] for v in views))  # fmt: skip
        if isinstance(service, ServiceGroup):
            info["pids"] = [v["pid"] for v in views]
            info["nodes"] = [{**node, **view, **service.view(node, view["answering"])}
                             for node, view in zip(service.describe()["nodes"], views,
                                                   strict=True)]  # fmt: skip
        result[service.name] = info
    return result


def not_answering(report: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The stack's services none of whose processes answer (an ETM network with a node down
    still answers: every command talks to all its nodes)."""
    down = []
    for name, info in report.items():
        nodes = info.get("nodes")
        alive = any(n.get("answering") for n in nodes) if nodes else info.get("answering")
        if not alive:
            down.append(name)
    return down


def down(config: StackConfig) -> dict[str, str]:
    """Stop the processes recorded in the pidfiles (reverse start order): name -> outcome."""
    outcome: dict[str, str] = {}
    services = _services(config, load_state(config))
    for service in reversed(services):
        stopped = []
        for member in reversed(members(service)):
            pidfile = config.pidfile(member.name)
            pid = procs.pidfile_process(pidfile)
            if pid is not None:
                stop(pid)
                stopped.append(pid)
            pidfile.unlink(missing_ok=True)
        pids = list(reversed(stopped))
        outcome[service.name] = f"stopped ({_pids_text(pids)})" if pids else "not running"
    config.client_file.unlink(missing_ok=True)  # commands stop reaching the stack's nodes
    return outcome
