"""Crash at every transition, on real nodes, generated from the transition table.

The watcher process is SIGKILLed right after each state save and right after each intent write
(once per distinct save, see ``watcher_proc.signature``) and restarted, until the swap ends.
Two scenarios of the ``etm_to_foreign`` table (Bitcoin long leg, anvil short leg) run for each
crash point: both sides claim; the user walks away once counter-locked, so both refund.
The required crash points are computed from :data:`etm_bridge.swaps.core.fsm.TABLES`: every
state of the direction's table and every broadcasting action must have been crashed at, except
the states only an adversary or a reorg can reach (covered by the adversarial/reorg tests).
Each run then checks the chains: exactly one lock per chain, and the balances moved by the swap
amount (claimed) or by fees only (refunded): no double spend, no lost funds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from swap_world import BTC_SAT, ETH_WEI, SwapWorld

from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import TABLES, Role, SwapDirection, SwapState
from etm_bridge.swaps.core.model import ActionKind, Outcome
from etm_bridge.swaps.runtime.store import SwapStore

PROC = Path(__file__).with_name("watcher_proc.py")
DIRECTION = SwapDirection.ETM_TO_FOREIGN
#: Reachable only with a bad counterparty, a missed deadline or before any lock is made.
NOT_CRASH_REACHABLE = {SwapState.FAILED, SwapState.FORFEITED, SwapState.CANCELLED}
SCENARIOS = {
    # name: (terms overrides, watcher_proc "offline" rule, end state of both roles)
    "claimed": ({}, None, SwapState.CLAIMED_BOTH),
    # the user walks away once counter-locked and comes back after the operator refunded
    "refunded": (
        {"user_blocks": 24, "counter_blocks": 14},
        {"role": "user", "state": "counter_locked"},
        SwapState.REFUNDED,
    ),
}
BTC_FEES_MAX, ETH_GAS_MAX = 20_000, ETH_WEI // 10
crashed_at: dict[str, set[str]] = {}


def _table_states() -> set[SwapState]:
    table = TABLES[DIRECTION]
    return {s for s, _ in table} | set(table.values())


def _run(world: SwapWorld, nodes: tuple, tmp_path: Path, point: str, offline) -> int:
    bitcoin_node, anvil_node = nodes
    spec = {
        "offline": offline,
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
    for _ in range(60):
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
    crashed_at.setdefault(point, set()).update(crashed.read_text().split() if kills else [])
    return kills


def _balances(world: SwapWorld) -> dict[tuple[Role, str], int]:
    out = {}
    for role in Role:
        adapters = world.adapters(role)
        try:
            out.update({(role, chain): a.balance() for chain, a in adapters.items()})
        finally:
            for a in adapters.values():
                a.close()
    return out


def _check_funds(world: SwapWorld, before: dict, end: SwapState) -> None:
    world.mine()
    after = _balances(world)
    delta = {k: after[k] - before[k] for k in before}
    u_btc, u_eth = delta[Role.USER, "bitcoin"], delta[Role.USER, "ethereum"]
    o_btc, o_eth = delta[Role.OPERATOR, "bitcoin"], delta[Role.OPERATOR, "ethereum"]
    if end is SwapState.CLAIMED_BOTH:
        assert -BTC_SAT - BTC_FEES_MAX <= u_btc <= -BTC_SAT, delta
        assert BTC_SAT - BTC_FEES_MAX <= o_btc <= BTC_SAT, delta
        assert ETH_WEI - ETH_GAS_MAX <= u_eth <= ETH_WEI, delta
        assert -ETH_WEI - ETH_GAS_MAX <= o_eth <= -ETH_WEI, delta
    else:  # refunded: each side paid fees only
        assert -BTC_FEES_MAX <= u_btc <= 0 and o_btc == 0, delta
        assert -ETH_GAS_MAX <= o_eth <= 0 and u_eth == 0, delta


def _check_chains_and_intents(world: SwapWorld, end: SwapState) -> None:
    hashlock = sha256(world.preimage)
    adapters = world.adapters(Role.OPERATOR)
    try:
        for chain, a in adapters.items():
            [lock] = a.find_locks(hashlock)  # each leg locked exactly once
            want = "claimed" if end is SwapState.CLAIMED_BOTH else "refunded"
            assert lock.state.value == want, (chain, lock)
    finally:
        for a in adapters.values():
            a.close()
    for role in Role:
        store = SwapStore(world.db(role))
        rec = store.get("real1")
        store.close()
        assert rec.state is end, (role, rec.state)
        for intent in rec.intents:
            assert intent.result is not None, intent
            ok = intent.result.outcome in (Outcome.BROADCAST, Outcome.FOUND_ON_CHAIN)
            # killed between a claim intent and its broadcast, back after the lock was refunded
            closed = "spent by another" in intent.result.detail and end is SwapState.REFUNDED
            assert ok or closed, intent
        for kind in ActionKind:
            if kind is not ActionKind.WAIT:  # one broadcast per kind: nothing was sent twice
                assert len({i.result.txid for i in rec.intents_of(kind)}) <= 1, kind


@pytest.mark.bitcoin_long
@pytest.mark.parametrize("point", ["state_saved", "intent_saved"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_sigkill_after_every_save_still_ends_claimed_or_refunded(
    bitcoin_node, anvil_node, tmp_path, scenario, point
):
    overrides, offline, end = SCENARIOS[scenario]
    world = SwapWorld(bitcoin_node, anvil_node, tmp_path)
    world.create(world.terms(**overrides))
    before = _balances(world)
    kills = _run(world, (bitcoin_node, anvil_node), tmp_path, point, offline)
    assert kills >= 3, kills
    _check_chains_and_intents(world, end)
    _check_funds(world, before, end)


def test_the_crashes_covered_every_state_and_action_of_the_table() -> None:
    """Runs after the four runs above (same module, in order): the union of their crash
    signatures covers every table state (but the adversarial/reorg-only ones) for each role,
    and every broadcasting action right after its intent was written."""
    if set(crashed_at) != {"state_saved", "intent_saved"}:
        pytest.skip("needs the crash runs of this module in the same session")
    by_role_state = {tuple(s.split("/")[1:3]) for s in crashed_at["state_saved"]}
    want = _table_states() - NOT_CRASH_REACHABLE - {SwapState.CREATED}  # created is never re-saved
    for state in want:
        assert any(st == state.value for _, st in by_role_state), (state, sorted(by_role_state))
    kinds = {s.split("/")[-1] for s in crashed_at["intent_saved"]}
    direction_actions = {k.value for k in ActionKind} - {
        ActionKind.WAIT.value,
        ActionKind.RELAY_HEADERS.value,  # foreign->ETM only, and not an intent
        ActionKind.SUBMIT_PROOF.value,  # foreign->ETM only
        ActionKind.CANCEL_INTENT.value,  # pool swap-ins only: the crash pool test covers it
    }
    assert direction_actions <= kinds, sorted(kinds)
