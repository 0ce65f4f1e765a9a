"""A watcher process for the crash tests: both parties' watchers in one process, killed with
SIGKILL right after the first save of a kind it has not crashed at yet.

Usage: python watcher_proc.py WORLD.json POINT CRASHED.txt MAX_TICKS
WORLD.json holds, per role, the database path and per chain ``{"adapter": entry-point name,
"config": from_config mapping}`` (or the legacy ``bitcoin``/``ethereum`` configs), plus the
Bitcoin node to mine with and optionally anvil's URL (and ``offline``, see :func:`_offline`).
Optional, for pool swaps on a real ETM node: a role's ``"gateway": true`` gives its watcher a
NodeExchange over its ``etm`` adapter (relay headers, SPV proofs); ``"pools": true`` creates its
records of the swaps the exchange opened in its pools each tick (the operator's
``PoolFollower``, whose records are keyed by the ETM HTLC id: the world's ``"hashlock"`` finds
them); ``"waits"`` holds a role back (see :func:`_waiting`); ``"roles"`` may
name one role only; ``"crash_roles"`` limits the crashes to
those roles' saves; ``"policy"`` overrides PolicyConfig fields.
Every crash appends its signature to CRASHED.txt first, so each step crashes only once.
Exit 0 when both swaps ended (or MAX_TICKS passed); -9 when it killed itself.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import requests
from etm_bridge_bitcoin import BitcoinAdapter
from etm_bridge_ethereum import EthereumAdapter

from etm_bridge.adapters_registry import create_adapter
from etm_bridge.app.given_adapters import chain_of, etm_side, make_gateway, operator_pools
from etm_bridge.errors import SwapNotFoundError
from etm_bridge.swaps.core.bond import reads_intent
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.swaps.core.model import SwapRecord
from etm_bridge.swaps.core.policy import PolicyConfig
from etm_bridge.swaps.core.states import TERMINAL, progress_rank
from etm_bridge.swaps.runtime.operator import PoolFollower
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.swaps.runtime.watcher import Watcher, WatcherConfig

#: The policy of SwapWorld's short real-block legs (swap_world.CONFIG); a world's "policy"
#: entries override it.
SWAP_WORLD_POLICY = {
    "leg_margin_s": 3600, "retry_after_s": 0, "reveal_margin_s": 120, "min_counter_lock_s": 120,
}  # fmt: skip


def signature(point: str, rec: SwapRecord) -> str:
    """``point/role/state/intents/results/kind``: kind is the newest intent's ActionKind (or -)."""
    done = sum(i.result is not None for i in rec.intents)
    kind = rec.intents[-1].kind.value if rec.intents else "-"
    return f"{point}/{rec.role.value}/{rec.state.value}/{len(rec.intents)}/{done}/{kind}"


def rpc(url: str, method: str, *params, auth=None) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    requests.post(url, json=body, auth=auth, timeout=30).raise_for_status()


def _rec(w: Watcher, world: dict) -> SwapRecord:
    """``w``'s record of the world's swap: by ``swap_id``, else (a pool operator's record, keyed
    by the ETM HTLC id) by the world's ``hashlock``."""
    try:
        return w.store.get(world["swap_id"])
    except SwapNotFoundError:
        found = w.store.by_hashlock(bytes.fromhex(world.get("hashlock", "")))
        if not found:
            raise
        return found[0]


def _offline(world: dict, w: Watcher, watchers: list[Watcher]) -> bool:
    """``"offline": {"role": R, "state": S}``: R's watcher does not tick while its swap is in
    state S and the other party's has not ended (a user that walks away from its claim)."""
    off = world.get("offline")
    if not off or w.owner != off["role"]:
        return False
    others_open = any(_rec(o, world).state not in TERMINAL for o in watchers if o is not w)
    return _rec(w, world).state.value == off["state"] and others_open


def _ended(w: Watcher, world: dict) -> bool:
    try:
        rec = _rec(w, world)
    except SwapNotFoundError:  # an operator's pool swap the exchange has not opened yet
        return False
    if rec.state not in TERMINAL:
        return False
    # a pool swap in that ended without a proof still cancels its bonded intent on ETM
    owed = reads_intent(rec) and w.gateway is not None
    return not (owed and w.gateway.swap_intent(rec.terms.hashlock) is not None)


def _sync_pools(w: Watcher, follower: PoolFollower) -> None:
    """The operator's records of the pool swaps the exchange opened (its watcher loop's job)."""
    name, etm = etm_side(w.adapters)
    follower.follow(operator_pools(w.adapters), chain_of(name, etm), int(time.time()))


def _waiting(world: dict, w: Watcher, watchers: list[Watcher]) -> bool:
    """``"waits": {"role": R, "for": O, "state": S}``: R's watcher does not tick until O's swap
    got as far as state S (a slow operator: the user's engine saves S before R acts)."""
    rule = world.get("waits")
    if not rule or w.owner != rule["role"]:
        return False
    [other] = [o for o in watchers if o.owner == rule["for"]]
    rank = progress_rank(_rec(other, world).state)
    return rank < progress_rank(SwapState(rule["state"]))


def main(world_path: str, point: str, crashed_path: str, max_ticks: int) -> int:
    world = json.loads(Path(world_path).read_text())
    done = Path(crashed_path)
    crashed = set(done.read_text().split()) if done.exists() else set()

    def crash(at: str, rec: SwapRecord) -> None:
        sig = signature(at, rec)
        crash_roles = world.get("crash_roles") or [r.value for r in Role]
        if at == point and sig not in crashed and rec.role.value in crash_roles:
            with open(crashed_path, "a") as f:
                f.write(sig + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)

    policy = {**SWAP_WORLD_POLICY, **world.get("policy", {})}
    config = WatcherConfig(policy=PolicyConfig(**policy))
    watchers, syncing = [], []
    for role in (r for r in Role if r.value in world["roles"]):
        c = world["roles"][role.value]
        if "chains" in c:
            adapters = {
                name: create_adapter(spec["adapter"], spec["config"])
                for name, spec in c["chains"].items()
            }
        else:
            adapters = {
                "bitcoin": BitcoinAdapter.from_config(c["bitcoin"]),
                "ethereum": EthereumAdapter.from_config(c["ethereum"]),
            }
        gateway = make_gateway(adapters) if c.get("gateway") else None
        w = Watcher(
            SwapStore(c["db"]),
            adapters,
            gateway=gateway,
            owner=role.value,
            config=config,
            crash_hook=crash,
        )
        w.start()
        watchers.append(w)
        if c.get("pools"):
            syncing.append((w, PoolFollower(w.store, etm_side(adapters)[1])))
    btc_auth = (world["btc_user"], world["btc_password"])
    for _ in range(max_ticks):
        if all(_ended(w, world) for w in watchers):
            break
        for w, follower in syncing:
            _sync_pools(w, follower)
        for w in watchers:
            if not (_offline(world, w, watchers) or _waiting(world, w, watchers)):
                w.tick()
        rpc(world["btc_url"], "generatetoaddress", 1, world["btc_mine_to"], auth=btc_auth)
        if world.get("eth_url"):
            rpc(world["eth_url"], "anvil_mine", "0x1")
        time.sleep(world.get("sleep_s", 0))  # e.g. one ETM block (the ETM node forges alone)
    for w in watchers:
        w.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
