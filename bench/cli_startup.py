"""Benchmark: how long ``etm-bridge --help`` and ``--version`` take to start, against bare Python.

Each command runs as a fresh process (the installed console script next to this Python), several
times, interleaved with ``python -c pass`` so load from other processes hits all three alike;
the median wall time of each is kept. The target (issue 15) is under 0.3 s for both. Ends with one
JSON line: ``{"help_s": ..., "version_s": ..., "python_s": ..., "help_ratio": ...,
"version_ratio": ..., "runs": ...}`` (ratios are to ``python -c pass`` in the same run).

    python bench/cli_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _script() -> str:
    found = Path(sys.executable).with_name("etm-bridge")
    if not found.exists():
        raise SystemExit(f"no etm-bridge script next to {sys.executable}: install the package")
    return str(found)


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    script = _script()
    cases = {
        "python": [sys.executable, "-c", "pass"],
        "help": [script, "--help"],
        "version": [script, "--version"],
    }
    for argv in cases.values():  # warm the page cache once
        _time(argv)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            times[name].append(_time(argv))
    median = {name: statistics.median(ts) for name, ts in times.items()}
    for name, value in median.items():
        print(f"{name:8s} median {value:.3f} s over {runs} runs")
    print(
        json.dumps(
            {
                "help_s": round(median["help"], 3),
                "version_s": round(median["version"], 3),
                "python_s": round(median["python"], 3),
                "help_ratio": round(median["help"] / median["python"], 2),
                "version_ratio": round(median["version"] / median["python"], 2),
                "target_s": 0.3,
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
