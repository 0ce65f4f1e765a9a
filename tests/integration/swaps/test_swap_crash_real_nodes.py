"""Crash at every step on real nodes: the watcher process is SIGKILLed right after each state
save and right after each intent write (once each), restarted, and the swap must still end
claimed on both sides with exactly one lock per chain and every intent resolved."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from swap_world import SwapWorld

from etm_bridge.swaps.fsm import Role, State
from etm_bridge.swaps.model import ActionKind, Outcome
from etm_bridge.swaps.store import SwapStore

PROC = Path(__file__).with_name("watcher_proc.py")


@pytest.mark.parametrize("point", ["state_saved", "intent_saved"])
def test_sigkill_after_every_save_still_ends_claimed(bitcoin_node, anvil_node, tmp_path, point):
    world = SwapWorld(bitcoin_node, anvil_node, tmp_path)
    world.create(world.terms())
    spec = {
        "swap_id": "real1",
        "roles": {role.value: {**world.configs[role], "db": str(world.db(role))} for role in Role},
        "btc_url": bitcoin_node.rpc_url,
        "btc_user": bitcoin_node.rpc_user,
        "btc_password": bitcoin_node.rpc_password,
        "btc_mine_to": bitcoin_node.faucet_address(),
        "eth_url": anvil_node.rpc_url,
    }
    spec_path, crashed = tmp_path / "world.json", tmp_path / "crashed.txt"
    spec_path.write_text(json.dumps(spec))
    kills = 0
    for _ in range(40):
        proc = subprocess.run(
            [sys.executable, str(PROC), str(spec_path), point, str(crashed), "60"],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        if proc.returncode == 0:
            break
        assert proc.returncode == -9, proc.stderr[-3000:]
        kills += 1
    assert world.state(Role.USER) is State.CLAIMED_BOTH
    assert world.state(Role.OPERATOR) is State.CLAIMED_BOTH
    assert kills >= 4, crashed.read_text()
    for role in Role:
        store = SwapStore(world.db(role))
        rec = store.get("real1")
        store.close()
        for intent in rec.intents:
            assert intent.result is not None
            assert intent.result.outcome in (Outcome.BROADCAST, Outcome.FOUND_ON_CHAIN)
        locks = ActionKind.LOCK_USER_LEG if role is Role.USER else ActionKind.LOCK_COUNTER_LEG
        assert len({i.result.txid for i in rec.intents_of(locks)}) == 1  # locked exactly once
