"""Benchmark: many users swapping through the pools at once, on the local stack (issue 13).

Brings up the local stack (``etm-bridge stack up``: Bitcoin regtest, anvil, a network of 4 ETM
delegate nodes) in its own state directory and ports (``ETM_STACK_DIR``, default a fresh
temporary directory; ``ETM_STACK_BASE_PORT``, default 25000), and takes it down at the end
(``--keep`` leaves it running). The demo's set-up makes the BTC and ETH pools (operator,
investor, deposits; ``etm_bridge_regtest.demo``), then deepens them with a second deposit.

Every user is a thread with its own home (swap database, Bitcoin and Ethereum adapter data) and
its own ETM, Bitcoin and Ethereum keys; its ETM adapter lists all 4 nodes (it submits to every
one and reads from a trusted one). The pool operator's engine runs in its own process, as
``etm-bridge stack operator`` (it follows the pools' swaps, feeds the Ethereum relay, and its
watcher acts on every swap), as on the operator's own machine; a miner thread mines a Bitcoin
block every 5 s and an anvil block every second. ETM forges by itself (1-second slots). Each
regtest block still counts as 10 minutes for the Bitcoin timelocks, so mining faster than the
engines act under load only turns the load into expired timelocks (at one block a second every
BTC -> ETM swap refunded and every ETM -> BTC counter lock expired before the user could claim).

1. **Baseline**: one BTC -> ETM swap alone, from start to both sides ``claimed_both``.
2. **Load**: ``--swaps`` users (50 with ``--quick``, 1,000 without) start at once, a quarter in
   each direction: BTC -> ETM, ETM -> BTC, ETH -> ETM, ETM -> ETH. A swap is completed when the
   user's record and the operator's are ``claimed_both``; it ends when the user's record is
   terminal (claimed or refunded); ``stuck`` counts those that did not end before the timeout.

    ETM_STACK_DIR=/tmp/me-stack ETM_STACK_BASE_PORT=22000 python bench/swap_load.py --quick

Ends with one JSON line: ``{"swaps", "completed", "refunded", "stuck", "swaps_per_min",
"p50_completion_s", "p95_completion_s", "baseline_completion_s", "ratio_p95_to_baseline", ...}``
(the ratio is the p95 completion time under load over the lone swap's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from etm_bridge_regtest import stack as regtest_stack
from etm_bridge_regtest.bitcoin import BitcoinNode
from etm_bridge_regtest.demo import scenario
from etm_bridge_regtest.demo.engines import CONFIG
from etm_bridge_regtest.demo.parties import ETM_FEE, BitcoinRpc, Party, World
from etm_bridge_regtest.etm_process import ETM_BRIDGE

from etm_bridge.app import watch as watching
from etm_bridge.app.context import AppContext
from etm_bridge.app.swaps import start_pool_swap
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.etm_client.endpoints import NodeSet
from etm_bridge.etm_client.htlc_leg import EtmAdapter
from etm_bridge.etm_client.submit import Submitter, wait_confirmed
from etm_bridge.jsonrpc import JsonRpcClient
from etm_bridge.swaps.core.fsm import SwapState
from etm_bridge.swaps.core.states import TERMINAL
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.units import ETM

#: (label, from chain, to chain, amount in from's base units): ~0.25% of a deepened pool each.
DIRECTIONS = (
    ("BTC->ETM", "bitcoin", "etm", 10_000),
    ("ETM->BTC", "etm", "bitcoin", 1 * ETM),
    ("ETH->ETM", "ethereum", "etm", 2 * 10**15),
    ("ETM->ETH", "etm", "ethereum", ETM // 5),
)
SLIPPAGE_BPS = 500  # the users' concurrent swaps move the price; each pins 5% below its quote
EXTRA_BTC_SAT, EXTRA_ETM = 3_000_000, 300 * ETM  # the second BTC deposit
USER_ETM, USER_SAT, USER_WEI = 20 * ETM, 200_000, 10**18
TICK_PAUSE_S = 0.5
BTC_BLOCK_EVERY_S = 5  # regtest block pace (each counts 10 min for timelocks; see the module)
FUND_BATCH = 20  # transfers from one account in flight at once


class NetWorld(World):
    """The demo's world whose ETM adapters list every node of the stack's network."""

    def __init__(self, btc: BitcoinRpc, urls: list[str], birth: int) -> None:
        super().__init__(btc, urls[0], birth)
        self.urls = urls

    def etm_adapter(self, party: Party) -> EtmAdapter:
        return EtmAdapter(NodeSet.from_urls(self.urls), party.etm_seed)


@dataclass
class Outcome:
    label: str
    seconds: float | None = None  # start -> claimed_both for both (None: not completed)
    end: str = "open"  # the user's record's state at the end
    error: str = ""


class Engines:
    """The pool operator's engine in its own process (``etm-bridge stack operator --no-mine``:
    the demo operator of ``<stack>/demo/parties.json``, as a pool operator runs it on its own
    machine) and the miner thread, until :meth:`stop`."""

    def __init__(
        self, config: regtest_stack.StackConfig, env: dict[str, str], btc: BitcoinNode,
        anvil_url: str | None,
    ) -> None:  # fmt: skip
        self.btc, self.anvil_url = btc, anvil_url
        self.stopping = threading.Event()
        self.op_store_path = config.state_dir / "demo" / "operator" / "swaps.db"
        self.log_path = config.state_dir / "bench" / "operator.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.operator = subprocess.Popen(
                [str(ETM_BRIDGE), "stack", "operator", "--no-mine", "--interval", "0.5"],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        self.miner = threading.Thread(target=self._mine, daemon=True)
        self.miner.start()

    def _mine(self) -> None:
        anvil = JsonRpcClient(self.anvil_url, version="2.0") if self.anvil_url else None
        n = 0
        while not self.stopping.wait(1.0):
            n += 1
            if n % BTC_BLOCK_EVERY_S == 0:
                self.btc.mine(1)
            if anvil is not None:
                anvil.call("anvil_mine", "0x1")

    def operator_state(self, hashlock: bytes) -> SwapState | None:
        if self.operator.poll() is not None:
            raise RuntimeError(f"the operator's engine exited ({self.log_path})")
        if not self.op_store_path.exists():
            return None
        op = SwapStore(self.op_store_path)
        try:
            found = op.by_hashlock(hashlock)
            return found[0].state if found else None
        finally:
            op.close()

    def errors(self) -> list[str]:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [line[:200] for line in text.splitlines() if "fail" in line.lower()][-3:]

    def stop(self) -> None:
        self.stopping.set()
        self.miner.join(timeout=60)
        self.operator.terminate()
        try:
            self.operator.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.operator.kill()
            self.operator.wait()


def fund_users(world: World, btc: BitcoinNode, users: list[Party], anvil_url: str | None) -> None:
    """ETM from the development account (one nonce sequence, not waited for one by one), BTC
    from the faucet (one block), ether from anvil."""
    submitter = Submitter(world.client, dev_key("user-0"))
    for i in range(0, len(users), FUND_BATCH):
        for user in users[i : i + FUND_BATCH]:
            payload = TransferPayload(user.etm_address20, USER_ETM).encode()
            last = submitter.submit_raw(TRANSFER, payload, fee=ETM_FEE, wait=False)
        wait_confirmed(world.client, last.id)
    for user in users:
        adapter = world.btc_adapter(user)
        btc.fund(adapter.address(), USER_SAT, confirm=False)
        adapter.close()
    btc.mine(1)
    if anvil_url:
        anvil = JsonRpcClient(anvil_url, version="2.0")
        for user in users:
            anvil.call("anvil_setBalance", Account.from_key(user.eth_secret).address,
                       hex(USER_WEI))  # fmt: skip


def bind(world: World, user: Party, direction: tuple[str, str, str, int]) -> None:
    foreign = direction[1] if direction[2] == "etm" else direction[2]
    (world.bind_btc if foreign == "bitcoin" else world.bind_eth)(user)


def swap_once(
    world: World, engines: Engines, user: Party, direction: tuple[str, str, str, int],
    start: threading.Barrier | None, timeout_s: float,
) -> Outcome:  # fmt: skip
    """One user's swap from start to end, its own engine ticking in this thread."""
    label, source, target, amount = direction
    out = Outcome(label)
    adapters = {"bitcoin": world.btc_adapter(user), "etm": world.etm_adapter(user)}
    if world.eth is not None:
        adapters["ethereum"] = world.eth_adapter(user)
    ctx = AppContext(keys=user, given=adapters, swaps_db=user.home / "swaps.db",
                     policy_config=CONFIG.policy)  # fmt: skip
    try:
        if start is not None:
            start.wait()
        began = time.monotonic()
        rec = start_pool_swap(ctx, source, target, amount, slippage_bps=SLIPPAGE_BPS).record
        watcher = watching.open_watcher(ctx, config=CONFIG, owner=user.name)
        watcher.start()
        try:
            while time.monotonic() - began < timeout_s:
                watcher.tick()
                state = ctx.store().get(rec.swap_id).state
                out.end = state.value
                if state is SwapState.CLAIMED_BOTH and (
                    engines.operator_state(rec.terms.hashlock) is SwapState.CLAIMED_BOTH
                ):
                    out.seconds = time.monotonic() - began
                    break
                if state in TERMINAL and state is not SwapState.CLAIMED_BOTH:
                    break
                time.sleep(TICK_PAUSE_S)
        finally:
            watcher.stop()
    except Exception as exc:
        out.error = f"{type(exc).__name__}: {exc}"
    finally:
        ctx.close()
        for a in adapters.values():
            a.close()
    return out


def setup(config: regtest_stack.StackConfig, say: Callable[[str], None]) -> tuple[Any, ...]:
    report = regtest_stack.up(config)
    b, etm = report["bitcoin"], report["etm"]
    btc = BitcoinNode(rpc_url=b["rpc_url"], rpc_user=b["rpc_user"],
                      rpc_password=b["rpc_password"], kind=b["kind"],
                      faucet=b.get("faucet_address"))  # fmt: skip
    if btc.height() < 101:
        btc.mine(101 - btc.height())
    urls = [str(u) for u in etm.get("urls") or [etm["rpc_url"]]]
    rpc = BitcoinRpc(btc.rpc_url, btc.rpc_user, btc.rpc_password)
    # the demo's parties: `etm-bridge stack operator` runs the demo operator from there
    parties, birth = scenario.load_parties(config.state_dir / "demo", btc.height())
    world = NetWorld(rpc, urls, birth)
    world.eth = scenario.eth_setup(report, parties)
    scenario.prepare(world, btc, parties, say)
    world.deposit_btc(parties["investor"], EXTRA_BTC_SAT, EXTRA_ETM, btc.mine)
    anvil_url = report["anvil"]["rpc_url"] if world.eth is not None else None
    return world, btc, urls, anvil_url


def run(
    config: regtest_stack.StackConfig, env: dict[str, str], swaps: int, timeout_s: float
) -> dict[str, Any]:
    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    world, btc, urls, anvil_url = setup(config, say)
    directions = [d for d in DIRECTIONS if world.eth is not None or "ethereum" not in d]
    root = config.state_dir / "bench" / f"run-{int(time.time())}"
    users = [Party.new(f"user{i}", root) for i in range(swaps + 1)]
    say(f"funding and binding {len(users)} users")
    fund_users(world, btc, users, anvil_url)
    plan = [DIRECTIONS[0]] + [directions[i % len(directions)] for i in range(swaps)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda ud: bind(world, *ud), zip(users, plan, strict=True)))
    engines = Engines(config, env, btc, anvil_url)
    try:
        say("baseline: one BTC -> ETM swap alone")
        baseline = swap_once(world, engines, users[0], plan[0], None, timeout_s)
        say(f"baseline: {baseline}")
        say(f"load: {swaps} swaps at once")
        barrier = threading.Barrier(swaps)
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=swaps) as pool:
            futures = [pool.submit(swap_once, world, engines, u, d, barrier, timeout_s)
                       for u, d in zip(users[1:], plan[1:], strict=True)]  # fmt: skip
            outcomes = [f.result() for f in futures]
        wall = time.monotonic() - began
    finally:
        engines.stop()
    done = sorted(o.seconds for o in outcomes if o.seconds is not None)
    refunded = sum(o.end == SwapState.REFUNDED.value for o in outcomes)
    stuck = sum(o.seconds is None and o.end not in {s.value for s in TERMINAL} for o in outcomes)
    errors = [f"{o.label}: {o.error}" for o in outcomes if o.error][:5] + engines.errors()
    p95 = done[min(len(done) - 1, round(0.95 * (len(done) - 1)))] if done else None
    return {
        "swaps": swaps,
        "completed": len(done),
        "refunded": refunded,
        "stuck": stuck,
        "ends": dict(Counter(o.end for o in outcomes)),
        "by_direction": {
            d[0]: sum(o.label == d[0] and o.seconds is not None for o in outcomes)
            for d in directions
        },
        "swaps_per_min": round(len(done) / wall * 60, 2),
        "p50_completion_s": round(statistics.median(done), 1) if done else None,
        "p95_completion_s": round(p95, 1) if p95 is not None else None,
        "baseline_completion_s": round(baseline.seconds, 1) if baseline.seconds else None,
        "ratio_p95_to_baseline": round(p95 / baseline.seconds, 2)
        if p95 is not None and baseline.seconds
        else None,
        "wall_s": round(wall, 1),
        "etm_nodes": len(urls),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 swaps (else 1,000)")
    parser.add_argument("--swaps", type=int, help="how many concurrent swaps (overrides)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per swap")
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    args = parser.parse_args()
    swaps = args.swaps or (50 if args.quick else 1_000)
    env = dict(os.environ)
    env.setdefault("ETM_STACK_DIR", tempfile.mkdtemp(prefix="swap-load-"))
    env.setdefault("ETM_STACK_BASE_PORT", "25000")
    config = regtest_stack.StackConfig.from_env(env)
    try:
        result = run(config, env, swaps, args.timeout)
    finally:
        if not args.keep:
            regtest_stack.down(config)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
