"""Starting and stopping Service processes: crashes and hangs fail fast with the log tail, the
whole process group is stopped, and a pidfile only ever matches the process it recorded.

The services here run real shell processes that crash, hang or fork, to exercise the process
management that the node services rely on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
from etm_bridge_regtest import procs
from etm_bridge_regtest.service import Service, start, start_all, stop

from etm_bridge.errors import StackError


class ShellService(Service):
    """Runs one shell script; 'ready' when the file ``ready`` exists in its home."""

    name: ClassVar[str] = "shell"
    start_timeout_s: ClassVar[float] = 2.0

    def __init__(self, home: Path, script: str, port: int | None = None) -> None:
        super().__init__(home)
        self.script = script
        self.port = port

    @property
    def ports(self) -> dict[str, int]:
        return {} if self.port is None else {"rpc": self.port}

    def command(self) -> list[str]:
        return ["/bin/sh", "-c", self.script]

    def probe(self) -> bool:
        return (self.home / "ready").exists()

    def describe(self) -> dict[str, Any]:
        return {}


def test_a_process_that_dies_while_starting_fails_fast_with_its_log_tail(tmp_path: Path) -> None:
    service = ShellService(tmp_path, "echo 'EADDRINUSE: address already in use'; exit 1")
    began = time.monotonic()
    with pytest.raises(StackError) as info:
        start(service)
    assert time.monotonic() - began < 2.0
    assert "exited before it was ready" in str(info.value)
    assert "EADDRINUSE: address already in use" in str(info.value)


def test_a_process_that_never_answers_times_out_and_is_stopped(tmp_path: Path) -> None:
    pidfile = tmp_path / "shell.pid"
    service = ShellService(tmp_path, "echo starting; sleep 300")
    with pytest.raises(StackError, match="not ready after 2 s"):
        start(service, pidfile=pidfile)
    assert not pidfile.exists()
    assert "starting" in procs.log_tail(service.log_path)


def test_stop_ends_the_whole_process_group_and_the_pidfile_stops_matching(tmp_path: Path) -> None:
    pidfile = tmp_path / "shell.pid"
    service = ShellService(tmp_path, f"sleep 300 & touch {tmp_path / 'ready'}; wait")
    started = start(service, pidfile=pidfile)
    assert procs.pidfile_process(pidfile) == started.pid
    assert procs.group_alive(started.pid)

    assert stop(started.pid) is True
    assert not procs.group_alive(started.pid)  # the background sleep went too
    assert procs.pidfile_process(pidfile) is None
    assert stop(started.pid) is False


def test_start_all_runs_members_in_parallel_and_rolls_back_when_one_fails(tmp_path: Path) -> None:
    # each member needs 1 s to get ready: in parallel, three take ~1 s, not 3
    homes = [tmp_path / f"m{i}" for i in range(3)]
    for home in homes:
        home.mkdir()
    members = [ShellService(h, f"sleep 1; touch {h / 'ready'}; sleep 300") for h in homes]
    pidfiles = [tmp_path / f"m{i}.pid" for i in range(3)]
    began = time.monotonic()
    started = start_all(list(zip(members, pidfiles, strict=True)))
    assert time.monotonic() - began < 2.5
    assert [procs.pidfile_process(p) for p in pidfiles] == [s.pid for s in started]
    for run in started:
        stop(run.pid)
    # the last member dies while starting: the others, already spawned, are stopped too
    (tmp_path / "broken").mkdir()
    broken = ShellService(tmp_path / "broken", "echo cannot start; exit 1")
    with pytest.raises(StackError, match="exited before it was ready"):
        start_all([*zip(members[:2], pidfiles[:2], strict=True), (broken, pidfiles[2])])
    assert not any(p.exists() for p in pidfiles)
    assert not any(procs.pidfile_process(p) for p in pidfiles)


def test_pidfile_of_another_command_never_matches(tmp_path: Path) -> None:
    service = ShellService(tmp_path, f"touch {tmp_path / 'ready'}; sleep 300")
    started = start(service)
    try:
        # a pid reused by another command: its argv and its start time are not the record's
        # (a process that renamed itself, like hsd, keeps its start time and is still found)
        pidfile = tmp_path / "other.pid"
        procs.write_pidfile(pidfile, started.pid, ["/bin/sh", "-c", "something else"])
        assert procs.pidfile_process(pidfile) == started.pid  # same start time: renamed itself
        record = json.loads(pidfile.read_text())
        pidfile.write_text(json.dumps({**record, "started": record["started"] - 1}))
        assert procs.pidfile_process(pidfile) is None
    finally:
        stop(started.pid)


def test_a_taken_port_is_refused_before_spawning(tmp_path: Path) -> None:
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        service = ShellService(tmp_path, "exit 0", port=port)
        with pytest.raises(procs.PortInUseError, match=f"port {port} \\(rpc\\)"):
            start(service)
    assert not service.log_path.exists()


def test_free_ports_are_below_32768_and_never_the_stack_ports() -> None:
    ports = {procs.free_port() for _ in range(20)}
    assert all(procs.FREE_PORT_RANGE[0] <= p < 32768 for p in ports)
    assert not ports & procs.RESERVED_PORTS


_PARENT_SCRIPT = """
import sys, time
from pathlib import Path
from etm_bridge_regtest.service import Service, start

class Sleeper(Service):
    name = "sleeper"
    ports = {}
    def command(self):
        return ["/bin/sh", "-c", f"touch {self.home / 'ready'}; exec sleep 300"]
    def probe(self):
        return (self.home / "ready").exists()
    def describe(self):
        return {}

started = start(Sleeper(Path(sys.argv[1])), die_with_parent=%s)
print(started.pid, flush=True)
time.sleep(300)
"""


@pytest.mark.parametrize("die_with_parent", [True, False])
def test_throwaway_nodes_die_with_a_killed_parent_but_stack_nodes_do_not(
    tmp_path: Path, die_with_parent: bool
) -> None:
    script = _PARENT_SCRIPT % die_with_parent
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        parent.kill()  # SIGKILL: no cleanup code runs in the parent
        parent.wait()
        procs.wait_until(
            lambda: not procs.group_alive(child) or not die_with_parent,
            timeout_s=10,
            what="orphaned child",
        )
        assert procs.group_alive(child) is not die_with_parent
    finally:
        stop(child)
