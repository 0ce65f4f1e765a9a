"""Benchmark: the swap engine's reaction time and the watcher's CPU per tick, on real nodes.

Starts a throwaway Bitcoin regtest node and anvil (free ports, temp dirs, stopped at the end)
and drives swaps with the project's Bitcoin and Ethereum adapter plugins. Until the ETM node
exposes its native HTLC through a ChainAdapter, the user's (long) leg is Bitcoin and the
operator's counter (short) leg is Ethereum; the engine is the same for any pair of legs.

1. **Reaction**: the operator's watcher ticks in a thread (every 20 ms). For each swap the user
   locks BTC; the clock starts when the block that gives the lock its required confirmation is
   mined, and stops when the operator's ETH counter lock is visible from the user's side. That
   is the engine's reaction time beyond the chains' own block times.
2. **Tick CPU**: an operator watcher with N open swaps (users who never lock) for N = 10 and
   N = 1000; CPU seconds of this process per tick, for ticks after a new Bitcoin block ("block
   ticks") and ticks with no new block ("idle ticks"). The ratio 1000 vs 10 of block ticks is
   the headline figure; the idle ratio is printed beside it. Block ticks poll each swap on the
   chain unless the adapter offers ``htlc_activity`` (see docs/swaps.md), so they grow with
   open swaps on adapters without it.

    python bench/swap_latency.py           # 20 swaps; ticks with 10 and 1000 open swaps
    python bench/swap_latency.py --quick   # 6 swaps, fewer ticks (< 60 s)

Ends with one JSON line:
``{"reaction_p50_s": ..., "reaction_p95_s": ..., "tick_cpu_ratio_1000_vs_10": ..., ...}``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from eth_account import Account
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_ethereum import EthereumAdapter, deploy_contract
from etm_bridge_regtest.throwaway import anvil_node_in, bitcoin_node_in

from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import Role, SwapDirection
from etm_bridge.swaps.core.model import LegTerms, SwapRecord, SwapTerms
from etm_bridge.swaps.core.policy import PolicyConfig
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.swaps.runtime.watcher import Watcher, WatcherConfig
from etm_bridge.testing.preimages import new_preimage

CONFIG = WatcherConfig(policy=PolicyConfig(leg_margin_s=3600, retry_after_s=0))


class Stack:
    """Nodes, the HTLC contract and adapter configs for the user and the operator."""

    def __init__(self, btc: Any, anvil: Any, tmp: Path) -> None:
        self.btc, self.anvil, self.tmp = btc, anvil, tmp
        self.htlc = deploy_contract(anvil.rpc_url, self._eth_key(), tmp / "deployer")
        self.cfg = {role: self._configs(role) for role in ("user", "op")}
        user = BitcoinAdapter.from_config(self.cfg["user"]["bitcoin"])
        for _ in range(4):
            btc.fund(user.address(), 20_000_000, confirm=False)
        btc.mine(1)
        user.close()

    def _eth_key(self) -> str:
        key = "0x" + secrets.token_hex(32)
        self.anvil.rpc.call("anvil_setBalance", Account.from_key(key).address, hex(10**21))
        return key

    def _configs(self, role: str) -> dict[str, dict[str, Any]]:
        return {
            "bitcoin": {
                "rpc_url": self.btc.rpc_url,
                "rpc_user": self.btc.rpc_user,
                "rpc_password": self.btc.rpc_password,
                "secret_hex": secrets.token_hex(32),
                "data_dir": str(self.tmp / f"btc-{role}"),
                "birth_height": self.btc.height(),
            },
            "ethereum": {
                "rpc_url": self.anvil.rpc_url,
                "private_key": self._eth_key(),
                "htlc_address": self.htlc.address,
                "data_dir": str(self.tmp / f"eth-{role}"),
                "from_block": self.htlc.block_number,
            },
        }

    def adapters(self, role: str) -> dict[str, Any]:
        c = self.cfg[role]
        return {
            "bitcoin": BitcoinAdapter.from_config(c["bitcoin"]),
            "ethereum": EthereumAdapter.from_config(c["ethereum"]),
        }

    def terms(self, swap_id: str, hashlock: bytes, user: dict, op: dict) -> SwapTerms:
        btc_tip, eth_tip = user["bitcoin"].tip().height, user["ethereum"].tip().height
        return SwapTerms(
            swap_id,
            SwapDirection.ETM_TO_FOREIGN,
            hashlock,
            LegTerms(
                "bitcoin", 100_000, op["bitcoin"].our_key(), user["bitcoin"].our_key(), btc_tip + 40
            ),
            LegTerms(
                "ethereum",
                10**15,
                user["ethereum"].our_key(),
                op["ethereum"].our_key(),
                eth_tip + 100,
            ),
            1_700_000_000,
            1_700_000_000 + 10**9,
            10,
        )


def measure_reaction(stack: Stack, swaps: int) -> list[float]:
    user, op = stack.adapters("user"), stack.adapters("op")
    store_path = stack.tmp / "reaction-op.db"
    stop = threading.Event()

    def run_watcher() -> None:
        watcher = Watcher(SwapStore(store_path), stack.adapters("op"), owner="op", config=CONFIG)
        watcher.start()
        while not stop.is_set():
            watcher.tick()
            time.sleep(0.02)
        watcher.stop()

    SwapStore(store_path).close()
    thread = threading.Thread(target=run_watcher, daemon=True)
    thread.start()
    reactions = []
    for i in range(swaps):
        hashlock = sha256(new_preimage())
        terms = stack.terms(f"r{i}", hashlock, user, op)
        SwapStore(store_path).create(SwapRecord(terms, Role.OPERATOR))
        user["bitcoin"].lock(terms.user_leg.htlc_terms(hashlock))
        time.sleep(0.2)  # the watcher has seen the swap and the unconfirmed lock
        stack.btc.mine(1)
        started = time.monotonic()
        while not user["ethereum"].find_locks(hashlock):
            if time.monotonic() - started > 30:
                raise RuntimeError(f"swap r{i}: no counter lock after 30 s")
            time.sleep(0.005)
        reactions.append(time.monotonic() - started)
    stop.set()
    thread.join(timeout=30)
    return reactions


def tick_cpu(stack: Stack, open_swaps: int, ticks: int) -> tuple[float, float]:
    """(CPU s per block tick, CPU s per idle tick) of an operator watcher with ``open_swaps``."""
    user, op = stack.adapters("user"), stack.adapters("op")
    store = SwapStore(stack.tmp / f"ticks-{open_swaps}.db")
    base = stack.terms("t", sha256(b"t" * 32), user, op)
    for i in range(open_swaps):
        store.create(
            SwapRecord(
                replace(base, swap_id=f"t{i}", hashlock=sha256(i.to_bytes(32, "big"))),
                Role.OPERATOR,
            )
        )
    watcher = Watcher(store, stack.adapters("op"), owner=f"ticks{open_swaps}", config=CONFIG)
    watcher.start()
    watcher.tick()  # first look at every swap
    block, idle = [], []
    for _ in range(ticks):
        stack.btc.mine(1)
        t = time.process_time()
        watcher.tick()
        block.append(time.process_time() - t)
        t = time.process_time()
        watcher.tick()
        idle.append(time.process_time() - t)
    watcher.stop()
    return statistics.median(block), statistics.median(idle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer swaps and ticks (< 60 s)")
    args = parser.parse_args()
    swaps, ticks = (6, 3) if args.quick else (20, 5)
    with tempfile.TemporaryDirectory(prefix="swap-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with (
            bitcoin_node_in(tmp / "bitcoin", premine=True) as btc,
            anvil_node_in(tmp / "anvil") as anvil,
        ):
            stack = Stack(btc, anvil, tmp)
            reactions = measure_reaction(stack, swaps)
            small_block, small_idle = tick_cpu(stack, 10, ticks)
            big_block, big_idle = tick_cpu(stack, 1000, ticks)
    reactions.sort()
    p95 = reactions[min(len(reactions) - 1, round(0.95 * (len(reactions) - 1)))]
    result = {
        "reaction_p50_s": round(statistics.median(reactions), 4),
        "reaction_p95_s": round(p95, 4),
        "tick_cpu_ratio_1000_vs_10": round(big_block / small_block, 2),
        "idle_tick_cpu_ratio_1000_vs_10": round(big_idle / max(small_idle, 1e-6), 2),
        "block_tick_cpu_s": {"10": round(small_block, 5), "1000": round(big_block, 5)},
        "idle_tick_cpu_s": {"10": round(small_idle, 6), "1000": round(big_idle, 6)},
        "swaps": swaps,
    }
    p50_s, p95_s = result["reaction_p50_s"], result["reaction_p95_s"]
    print(f"reaction over {swaps} swaps: p50 {p50_s} s, p95 {p95_s} s")
    print(f"CPU per block tick: {small_block:.4f} s (10 open) vs {big_block:.4f} s (1000 open)")
    print(f"CPU per idle tick: {small_idle:.6f} s (10 open) vs {big_idle:.6f} s (1000 open)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
