"""Run ``watcher_proc.py`` again and again until both swaps end: it SIGKILLs itself right after
each new kind of save (see its docstring), so each run moves the swap one crash further. Used by
the real-ETM-node crash test; test_swap_crash_real_nodes.py runs the same loop and can use it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

WATCHER_PROC = Path(__file__).with_name("watcher_proc.py")
MAX_RUNS = 40


def run_until_done(
    spec: dict[str, Any],
    point: str,
    tmp_path: Path,
    max_ticks: int,
    between_runs: Callable[[int], object] | None = None,
) -> int:
    """How many times the watcher process was killed (``-9``) before a run ended cleanly.

    ``spec`` is the WORLD.json of ``watcher_proc.py``; its crash signatures go to
    ``tmp_path / "crashed.txt"``. A run that exits any other way fails with its stderr.
    ``between_runs(kills)`` is called after each killed run (e.g. to stop a node mid-swap)."""
    spec_path, crashed = tmp_path / "world.json", tmp_path / "crashed.txt"
    spec_path.write_text(json.dumps(spec))
    kills = 0
    for _ in range(MAX_RUNS):
        proc = subprocess.run(
            [
                sys.executable,
                str(WATCHER_PROC),
                str(spec_path),
                point,
                str(crashed),
                str(max_ticks),
            ],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        if proc.returncode == 0:
            break
        assert proc.returncode == -9, proc.stderr[-3000:]
        kills += 1
        if between_runs is not None:
            between_runs(kills)
    return kills
