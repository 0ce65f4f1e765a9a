"""Benchmark: the ETM node on the network -- HTTP latency, requests/s, and (with 4 nodes) finality,
throughput and sync.

HTTP part (always): a real node process (``etm-bridge node run``) answers ``GET /api/status``;
one kept-alive client (``NodeClient``'s ``requests.Session``) measures latency p50/p95 and
requests/s, then 16 concurrent kept-alive clients (threads) measure requests/s. The baseline,
measured in the same run, is the same node served from a listening socket built the way it was
before the fix (``proto`` 0, no ``TCP_NODELAY``: Nagle on accepted sockets), so the ratio is the
fix's effect on this machine today.

Network part (4 real delegate nodes, ``regtest.etm_network``, 1-second blocks):

* ``finality_p50_blocks`` / ``finality_p95_blocks``: for every block seen by node 0, how many
  blocks the tip had grown past it when it first showed as final (goal p50 <= 4, p95 <= 6);
* ``network_applied_tps``: signed transfers, each submitted to all 4 nodes (as clients do),
  over the time until all are in blocks; ``ratio_to_single_node``: against the same transfers
  on one node forging for every delegate, measured in the same run (goal >= 0.5);
  ``network_applied_tps_spread`` / ``ratio_spread_to_single_node``: each transfer submitted to
  one node (round-robin), gossip carrying it to the others;
* ``sync_blocks_per_s``: a fresh node syncing 10,000 blocks with transactions (forged offline
  into a data dir with the real chain code, then served by a node) from its first peer
  connection to the tip (goal >= 2,000); beside it, from ``/proc``, the CPU the syncing node
  spent per block (``sync_cpu_ms_per_block``, ``sync_main_thread_cpu_ms_per_block``: the event
  loop that applies; the rest is mostly the verification threads), its CPU per wall second and
  the 1-minute load average, so a rate measured on a busy machine can be told from a slow node
  (``bench/sync_apply.py`` breaks the CPU down further).

Ends with one JSON line. ``python bench/network.py --quick`` (short runs) or without ``--quick``;
``--http-only`` skips the network part.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from etm_bridge.node.setup import init_node

ETM_BRIDGE = Path(sys.executable).parent / "etm-bridge"
_LISTENING = re.compile(rb"ETM node listening on (http://\S+)")


def legacy_bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket as the node built it before the fix: proto 0, so asyncio never set
    TCP_NODELAY on accepted connections (the 40 ms stall's cause)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _serve_legacy(data_dir: str) -> None:
    """Child mode: run the node with the legacy listening socket (the baseline)."""
    from etm_bridge.node import server
    from etm_bridge.node.config import NodeConfig

    server.bind_socket = legacy_bind_socket  # type: ignore[assignment]
    server.run_node(NodeConfig.load(Path(data_dir), port=0, forging=False), announce=_announce)


def _announce(line: str) -> None:
    print(line, flush=True)


class NodeProc:
    """A node process on ``data_dir`` (legacy: the baseline socket); ``url`` once listening."""

    def __init__(self, data_dir: Path, legacy: bool = False):
        if legacy:
            command = [sys.executable, __file__, "--serve-legacy", str(data_dir)]
        else:
            command = [str(ETM_BRIDGE), "node", "run", "--data-dir", str(data_dir), "--port", "0",
                       "--no-forging"]  # fmt: skip
        self.log = data_dir / ("legacy.log" if legacy else "node.log")
        self.proc = subprocess.Popen(command, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = _LISTENING.search(self.log.read_bytes())
            if found:
                self.url = found.group(1).decode()
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("node did not start in 30 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def one_client(url: str, seconds: float) -> dict[str, float]:
    """One kept-alive session, back-to-back GET /api/status: latency percentiles and rate."""
    session = requests.Session()
    session.get(url + "/api/status").raise_for_status()  # connect + warm up
    latencies: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        session.get(url + "/api/status").raise_for_status()
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "latency_p50_ms": round(1000 * statistics.median(latencies), 3),
        "latency_p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 3),
        "req_per_s": round(len(latencies) / elapsed, 1),
    }


def concurrent_clients(url: str, seconds: float, clients: int = 16) -> float:
    """``clients`` threads, each with its own kept-alive session: total requests/s."""
    counts = [0] * clients
    barrier = threading.Barrier(clients + 1)

    def work(i: int) -> None:
        session = requests.Session()
        session.get(url + "/api/status").raise_for_status()
        barrier.wait()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            session.get(url + "/api/status").raise_for_status()
            counts[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return round(sum(counts) / (time.perf_counter() - start), 1)


def http_bench(seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="etm-bench-net-") as tmp:
        home = Path(tmp) / "node"
        init_node(home, delegates=4, block_time_s=1, funded_accounts=2, port=0)
        out: dict[str, Any] = {}
        for label, legacy in (("baseline", True), ("node", False)):
            proc = NodeProc(home, legacy=legacy)
            try:
                one = one_client(proc.url, seconds)
                many = concurrent_clients(proc.url, seconds)
            finally:
                proc.stop()
            out[label] = {**one, "req_per_s_16_clients": many}
            print(f"{label:>8}: {json.dumps(out[label])}", file=sys.stderr)
    node, base = out["node"], out["baseline"]
    return {
        "latency_p50_ms": node["latency_p50_ms"],
        "latency_p95_ms": node["latency_p95_ms"],
        "req_per_s_1_client": node["req_per_s"],
        "req_per_s_16_clients": node["req_per_s_16_clients"],
        "baseline_latency_p50_ms": base["latency_p50_ms"],
        "baseline_req_per_s_1_client": base["req_per_s"],
        "baseline_req_per_s_16_clients": base["req_per_s_16_clients"],
        "ratio_1_client": round(node["req_per_s"] / base["req_per_s"], 2),
        "ratio_16_clients": round(node["req_per_s_16_clients"] / base["req_per_s_16_clients"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs")
    parser.add_argument("--http-only", action="store_true", help="skip the 4-node part")
    parser.add_argument("--serve-legacy", metavar="DATA_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_legacy:
        _serve_legacy(args.serve_legacy)
        return
    result = http_bench(2.0 if args.quick else 5.0)
    if not args.http_only:
        from network_nodes import network_bench  # type: ignore[import-not-found]

        result.update(network_bench(quick=args.quick))
    print(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.path.insert(0, str(Path(__file__).parent))
    main()
