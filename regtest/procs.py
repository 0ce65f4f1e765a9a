"""Process plumbing for the local stack: ports, spawning, waiting, pidfiles and stopping.

Every node runs in its own session (``start_new_session``), so its process group id equals its
pid and stopping the group also stops helper children (anvil's npm wrapper spawns the real
binary). A pidfile records the pid *and* the argv it was spawned with; ``down`` signals a pid
only while ``/proc/<pid>/cmdline`` still shows that argv, so a recycled pid is never killed.
Waits poll a condition against a deadline; none sleeps blindly.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from etm_bridge.errors import StackError

LOOPBACK = "127.0.0.1"
#: Throwaway nodes take ports from here: below the kernel's ephemeral range (32768+), where
#: bcoin failed with EADDRINUSE, and above the stack's fixed ports' neighbourhood.
FREE_PORT_RANGE = (20000, 32767)
#: Ports the developer's stack uses; never handed out to throwaway nodes.
RESERVED_PORTS = frozenset({8545, 18443, 18444, 18445, 26657})


class PortInUseError(StackError):
    """A port the stack needs is already taken by another process."""


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when ``host:port`` can be bound now (as a node would, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(exclude: set[int] | None = None) -> int:
    """A loopback port below 32768 that is free now, picked at random from FREE_PORT_RANGE."""
    taken = RESERVED_PORTS | (exclude or set())
    low, high = FREE_PORT_RANGE
    for _ in range(200):
        port = random.randint(low, high)
        if port not in taken and port_is_free(port):
            return port
    raise StackError(f"no free loopback port found in {low}-{high}")


def require_free_ports(ports: Mapping[str, int], service: str) -> None:
    """Raise PortInUseError naming the first of ``ports`` (label -> port) already taken."""
    for label, port in ports.items():
        if not port_is_free(port):
            raise PortInUseError(
                f"{service}: port {port} ({label}) on {LOOPBACK} is already in use by another "
                f"process; stop it, or choose other ports (ETM_STACK_BASE_PORT)"
            )


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies (Linux PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def spawn(
    command: Sequence[str],
    log_path: Path,
    env: Mapping[str, str],
    *,
    die_with_parent: bool = False,
) -> subprocess.Popen:
    """Start ``command`` in a new session, stdout and stderr appended to ``log_path``.

    ``die_with_parent`` (throwaway nodes) makes the kernel SIGTERM the node if this process
    dies without stopping it (a killed test run), so no node outlives its test session.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    linux = sys.platform.startswith("linux")
    with open(log_path, "ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} start: {command[0]}\n".encode())
        log.flush()
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent and linux else None,
        )


def kill_now(proc: subprocess.Popen[Any] | None) -> None:
    """SIGKILL ``proc`` if it still runs (no shutdown code runs, exactly like a crash), reaped."""
    if proc is not None and proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def stop_process(proc: subprocess.Popen[Any] | None, timeout_s: float = 15.0) -> None:
    """SIGTERM ``proc`` and wait for its clean shutdown; SIGKILL if it hangs."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_now(proc)


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout_s: float,
    what: str,
    alive: Callable[[], bool] = lambda: True,
    interval_s: float = 0.05,
) -> None:
    """Poll ``condition`` until true; StackError when ``alive`` turns false or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return
        if not alive():
            raise StackError(f"{what}: the process exited before it was ready")
        if time.monotonic() > deadline:
            raise StackError(f"{what}: not ready after {timeout_s:g} s")
        time.sleep(interval_s)


def log_tail(path: Path, lines: int = 25) -> str:
    """The last ``lines`` lines of a log file ('' when there is none)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def cmdline(pid: int) -> list[str] | None:
    """The command line of a live, non-zombie process, or None."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    if not raw or _proc_state(pid) in (None, "Z"):
        return None
    return [part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0")]


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, /proc/<pid>/stat field 22), or None:
    with the pid, an identity no later process has."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def group_alive(pgid: int) -> bool:
    """True while any non-zombie process is in process group ``pgid`` (reaps our children)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-pgid, os.WNOHANG)[0] != 0:
            pass
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def stop_group(pgid: int, *, timeout_s: float = 15.0) -> bool:
    """SIGTERM the group, wait for it to exit, SIGKILL what is left. True if it was running."""
    if not group_alive(pgid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        wait_until(lambda: not group_alive(pgid), timeout_s=5, what=f"process group {pgid}")
    return True


def write_pidfile(path: Path, pid: int, argv: Sequence[str]) -> None:
    """Record ``pid``, the argv it was spawned with and its start time (the identity checked
    before stopping: a node that renames itself, as hsd does with ``process.title``, is still
    found by its pid and start time)."""
    record = {"pid": pid, "argv": list(argv), "started": start_time(pid)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)


def _same_process(current: list[str], argv: list[str]) -> bool:
    """``current`` (from /proc) runs ``argv``, maybe through a shebang interpreter."""
    if not argv or len(current) < len(argv):
        return False
    tail = current[len(current) - len(argv) :]
    return tail[1:] == argv[1:] and Path(tail[0]).name == Path(argv[0]).name


def pidfile_process(path: Path) -> int | None:
    """The pid recorded in ``path`` if that same command still runs there, else None."""
    try:
        record = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    pid, argv = record.get("pid"), record.get("argv")
    if not isinstance(pid, int) or pid <= 1 or not isinstance(argv, list):
        return None
    current = cmdline(pid)
    if current is None:
        return None
    if _same_process(current, argv):
        return pid
    started = record.get("started")
    return pid if isinstance(started, int) and started == start_time(pid) else None
