"""A stack pidfile finds its process by argv, or by pid and start time when the process renamed
itself (hsd sets ``process.title``), and never a later process that reuses the pid."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from etm_bridge_regtest import procs


def test_a_renamed_process_is_found_by_its_start_time_and_a_stranger_is_not(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "hsd.pid"
    me = os.getpid()
    procs.write_pidfile(pidfile, me, [sys.executable, "-c", "argv-this-process-never-had"])
    assert procs.pidfile_process(pidfile) == me  # argv differs, the start time matches
    record = json.loads(pidfile.read_text())
    assert record["started"] == procs.start_time(me)
    record["started"] -= 1  # the pid reused by a later process: another start time
    pidfile.write_text(json.dumps(record))
    assert procs.pidfile_process(pidfile) is None
    del record["started"]  # a pidfile written before start times were recorded
    pidfile.write_text(json.dumps(record))
    assert procs.pidfile_process(pidfile) is None
