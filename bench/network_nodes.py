"""The 4-node part of ``bench/network.py``: finality latency, applied tps against one node, sync.

Imported by ``bench/network.py`` (run that); every number comes from real node processes on
loopback (``etm_bridge_regtest.etm_network``).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from etm_bridge_regtest.etm_network import EtmNetwork
from etm_bridge_regtest.etm_process import EtmNodeProcess

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.codec import sha256
from etm_bridge.chain.genesis import GenesisConfig
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import etm_time
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.errors import TxRejectedError
from etm_bridge.node.client import NodeClient
from etm_bridge.node.config import NodeConfig
from etm_bridge.node.network_setup import join_node
from etm_bridge.node.server import load_genesis
from etm_bridge.node.service import load_forging_keys
from etm_bridge.node.setup import init_node
from etm_bridge.store import ChainStore

SENDERS = 40


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


# --- finality -----------------------------------------------------------------------------------


def finality_latency(client: NodeClient, blocks: int) -> list[int]:
    """Poll one node: for each height, (tip height - height) when it first showed as final."""
    start = client.status()["finalizedHeight"] + 1
    first_final: dict[int, int] = {}
    deadline = time.monotonic() + 4 * blocks + 30
    while len(first_final) < blocks and time.monotonic() < deadline:
        s = client.status()
        for h in range(start, s["finalizedHeight"] + 1):
            first_final.setdefault(h, s["height"] - h)
        time.sleep(0.05)
    return [first_final[h] for h in sorted(first_final)][:blocks]


# --- throughput ---------------------------------------------------------------------------------


def make_transfers(network_id: int, per_sender: int, nonce0: int = 0) -> list[list[Tx]]:
    """Signed transfers, one list (nonce order from ``nonce0``) per funded user."""
    out = []
    for s in range(SENDERS):
        key = dev_key(f"user-{s}")
        txs = []
        for n in range(nonce0, nonce0 + per_sender):
            to = address_hash(sha256(f"bench-{s}-{n}".encode()))
            txs.append(Tx.create(key, network=network_id, type_id=TRANSFER, nonce=n,
                                 fee=100_000, payload=TransferPayload(to, 1).encode()))  # fmt: skip
        out.append(txs)
    return out


def submit_all(
    urls: list[str], per_sender_txs: list[list[Tx]], threads_per_node: int = 4, spread: bool = False
) -> None:
    """Every tx to every node (``spread``: each sender's txs to one node, round-robin); a
    sender's txs in nonce order (one thread owns each sender)."""

    def work(url: str, senders: list[list[Tx]]) -> None:
        client = NodeClient(url, timeout_s=30)
        for txs in senders:
            for tx in txs:
                # A rejection is a tx already in a block (wrong_nonce) through another node.
                with contextlib.suppress(TxRejectedError):
                    client.submit_tx(tx.encoded)

    if spread:
        n = len(urls) * threads_per_node
        workers = [
            threading.Thread(target=work, args=(urls[t % len(urls)], per_sender_txs[t::n]))
            for t in range(n)
        ]
    else:
        workers = [
            threading.Thread(target=work, args=(url, per_sender_txs[t::threads_per_node]))
            for url in urls
            for t in range(threads_per_node)
        ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def applied_tps(urls: list[str], transfers: list[list[Tx]], spread: bool = False) -> float:
    """Submit to ``urls``; transfers per second until the first node holds all of them."""
    client = NodeClient(urls[0])
    expected = {encode_address(address_hash(dev_key(f"user-{s}").public_key)): txs[-1].nonce + 1
                for s, txs in enumerate(transfers)}  # fmt: skip
    total = sum(len(txs) for txs in transfers)
    start = time.perf_counter()
    submit_all(urls, transfers, spread=spread)

    def done() -> bool:
        return all(client.account(a)["nonce"] >= n for a, n in expected.items())

    while not done():
        time.sleep(0.1)
        if time.perf_counter() - start > 300:
            raise RuntimeError("transfers not all included in 300 s")
    return total / (time.perf_counter() - start)


def single_node_tps(home: Path, transfers: Callable[[int], list[list[Tx]]]) -> float:
    init_node(home, delegates=4, block_time_s=1, funded_accounts=SENDERS, port=0)
    node = EtmNodeProcess(home)
    client = node.start()
    try:
        return applied_tps([node.url or ""], transfers(client.status()["networkId"]))
    finally:
        node.stop()


# --- sync -----------------------------------------------------------------------------------------


def forge_history(home: Path, n_blocks: int) -> None:
    """A data dir whose chain already holds ``n_blocks`` blocks, 1 transfer each, forged with the
    real chain code (genesis far enough in the past that every slot is over)."""
    now = etm_time(time.time())
    init_node(home, delegates=4, block_time_s=1, funded_accounts=SENDERS, port=0,
              genesis_time=now - n_blocks - 600, tx_plugins=())  # fmt: skip
    config = NodeConfig.load(home)
    genesis: GenesisConfig = load_genesis(config)
    keys: dict[bytes, SigningKey] = load_forging_keys(config.forging_keys_path)
    users = [dev_key(f"user-{i}") for i in range(SENDERS)]
    nonces = [0] * SENDERS
    store = ChainStore.open(config.db_path)
    chain = Chain(store, genesis)
    t = genesis.params.genesis_time
    try:
        for b in range(n_blocks):
            s = b % SENDERS
            to = address_hash(sha256(f"h{b}".encode()))
            chain.submit_tx(Tx.create(users[s], network=genesis.params.network_id,
                                      type_id=TRANSFER, nonce=nonces[s], fee=100_000,
                                      payload=TransferPayload(to, 1).encode()))  # fmt: skip
            nonces[s] += 1
            block = None
            while block is None:
                t += 1
                block = chain.forge_next(t, keys)
    finally:
        store.close()


def _cpu_s(pid: int, tid: int | None = None) -> float:
    """CPU seconds (user + system) of a process, or of one of its threads, from /proc."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sync_rate(root: Path, n_blocks: int) -> dict[str, float]:
    source_dir, fresh_dir = root / "history", root / "fresh"
    t0 = time.perf_counter()
    forge_history(source_dir, n_blocks)
    _log(f"forged {n_blocks} blocks offline in {time.perf_counter() - t0:.1f} s")
    config = NodeConfig.load(source_dir)
    NodeConfig(**{**config.__dict__, "forging": False}).save()
    source = EtmNodeProcess(source_dir)
    source.start()
    try:
        join_node(fresh_dir, source_dir / "genesis.json", peers=(f"127.0.0.1:{source.port}",),
                  port=0)  # fmt: skip
        fresh = EtmNodeProcess(fresh_dir)
        client = fresh.start()
        assert fresh.proc is not None
        pid = fresh.proc.pid
        try:
            while client.status()["peers"] == 0:
                time.sleep(0.01)
            cpu0, main0, start = _cpu_s(pid), _cpu_s(pid, pid), time.perf_counter()
            while client.status()["height"] < n_blocks:
                time.sleep(0.05)
                if time.perf_counter() - start > 600:
                    raise RuntimeError("sync did not finish in 600 s")
            wall = time.perf_counter() - start
            cpu, main = _cpu_s(pid) - cpu0, _cpu_s(pid, pid) - main0
        finally:
            fresh.stop()
    finally:
        source.stop()
    return {"sync_blocks_per_s": round(n_blocks / wall, 1),
            "sync_cpu_ms_per_block": round(1000 * cpu / n_blocks, 3),
            "sync_main_thread_cpu_ms_per_block": round(1000 * main / n_blocks, 3),
            "sync_cpu_per_wall": round(cpu / wall, 2),
            "sync_load_avg_1m": round(os.getloadavg()[0], 2)}  # fmt: skip


def network_bench(quick: bool) -> dict[str, Any]:
    per_sender = 25 if quick else 100
    sync_blocks = 10_000

    def transfers(network_id: int) -> list[list[Tx]]:
        return make_transfers(network_id, per_sender)

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="etm-bench-4n-") as tmp:
        root = Path(tmp)
        single = single_node_tps(root / "single", transfers)
        _log(f"single node: {single:.1f} applied tx/s")
        net = EtmNetwork(root / "net", 4, 4, block_time_s=1, funded_accounts=SENDERS)
        try:
            net.start()
            latencies = finality_latency(net.client(0), 20 if quick else 60)
            _log(f"finality latencies (blocks): {latencies}")
            urls = [n.url or "" for n in net.nodes]
            network_id = net.client(0).status()["networkId"]
            network = applied_tps(urls, transfers(network_id))
            _log(f"4 nodes, each tx to all 4: {network:.1f} applied tx/s")
            spread = applied_tps(urls, make_transfers(network_id, per_sender, per_sender), True)
            _log(f"4 nodes, each tx to one node (gossip does the rest): {spread:.1f} applied tx/s")
        finally:
            net.stop()
        out.update({
            "finality_p50_blocks": statistics.median(latencies),
            "finality_p95_blocks": _percentile(latencies, 0.95),
            "network_applied_tps": round(network, 1),
            "single_node_applied_tps": round(single, 1),
            "ratio_to_single_node": round(network / single, 3),
            "network_applied_tps_spread": round(spread, 1),
            "ratio_spread_to_single_node": round(spread / single, 3),
            "transfers": SENDERS * per_sender,
        })  # fmt: skip
        sync = sync_rate(root, sync_blocks)
        _log(f"sync: {json.dumps(sync)}")
        out.update({"sync_blocks": sync_blocks, **sync})
    return out
