"""Crash at every transition of a BTC -> ETM pool swap (``foreign_to_etm``), on real nodes: a
network of 4 ETM delegate nodes (one per module, 1-second blocks) and the session's Bitcoin node.

The user locks BTC to the pool's key, its engine relays headers and proves the lock by SPV to
the ETM node (``xchg_swap_in``), the exchange locks pool ETM to the user, the user claims it
(revealing the secret) and the operator's engine claims the BTC. The user's watcher process
(``watcher_proc.py``, with a NodeExchange) is SIGKILLed right after each state save and right
after each intent write (once per distinct save) and restarted until the swap ends; the
operator's engine runs in the same process (it creates its record from ETM state each tick) but
is never the one crashed. Two scenarios: claimed (both engines end ``claimed_both``) and
refunded (nobody proves the lock, whose timelock is short: the user refunds its BTC).

The required crash points come from ``TABLES[foreign_to_etm]`` (every state but those only an
adversary, a missed deadline or a reorg reaches) and the user's broadcasting actions; each run
checks the chains: one BTC lock, spent once by the expected claim or refund; the user got
exactly the agreed ETM (the exchange's lock amount) and the pool's reserves moved by exactly
the swap (claimed) or by the bond's cancel charge only (refunded: once the user's BTC is
refunded its engine cancels the swap's bonded intent, recorded before the snapshot, so the
reservation is released and the bond comes back less the charge for the blocks it was held,
instead of the whole bond being forfeited at the intent's expiry: issue 15).

Both engines list all 4 ETM endpoints, node 0 first (they submit to every node and read from a
trusted one). In the claimed runs node 0 is killed after the user's watcher was killed twice and
comes back only once the swap ended: the swap goes on through the other three delegates (their
3 of 4 still finalize) and the restarted node catches up. The pool and the operator are shared
by the module's runs (one user each), so the network starts once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crash_runs import run_until_done
from etm_bridge_regtest.demo.parties import BitcoinRpc, Party, World
from etm_bridge_regtest.etm_network import EtmNetwork, wait_for
from test_swap_crash_real_nodes import NOT_CRASH_REACHABLE
from test_swap_pool_real_nodes import DEPOSIT_ETM, DEPOSIT_SAT, FEE_PPM

from etm_bridge.adapter import LockState
from etm_bridge.app.given_adapters import make_gateway, start_pool_swap
from etm_bridge.errors import TxRejectedError
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.swaps.core.fsm import Role, SwapDirection, SwapState, states_of
from etm_bridge.swaps.core.model import ActionKind, Outcome, SwapRecord
from etm_bridge.swaps.runtime.execute import cancel_bonded_intent
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.units import ETM

SWAP_SAT = 100_000
BTC_FEES_MAX, ETM_FEES_MAX = 20_000, 10 * 100_000  # user's ETM txs: relays, proof, claim
REFUND_BLOCKS = 10  # the refund scenario's BTC timelock, from the tip
#: The user's broadcasting intents in each scenario (relaying headers writes none).
SCENARIO_ACTIONS = {
    "claimed": {ActionKind.LOCK_USER_LEG, ActionKind.SUBMIT_PROOF, ActionKind.CLAIM_COUNTER},
    "refunded": {ActionKind.LOCK_USER_LEG, ActionKind.REFUND_USER_LOCK, ActionKind.CANCEL_INTENT},
}
#: ``created`` is never re-saved; ``proof_submitted`` is never entered on the pool path: the
#: exchange locks pool ETM in the very transaction that accepts the proof (``xchg_swap_in``),
#: so the engine sees the counter lock with the proof and takes the table's
#: ``lock_confirmed -> counter_locked`` edge (checked in each claimed run's transition log).
NEVER_SAVED_ON_POOL_PATH = {SwapState.CREATED, SwapState.PROOF_SUBMITTED}
NEVER_PROVE = {"user_proof_delay_blocks": 10**6}
RETRY_AFTER_S = 5  # a few 1-second ETM blocks
crashed_at: dict[str, set[str]] = {}


KILLED_NODE = 0  #: the node both engines list first, killed mid-swap in the claimed runs
KILL_AFTER_RUNS = 2  #: ... once the user's watcher was killed this many times


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtmNetwork]:
    net = EtmNetwork(tmp_path_factory.mktemp("etm-crash"), 4, 4, block_time_s=1,
                     funded_accounts=1, spv=SpvSection(allow_dev_pools=True))  # fmt: skip
    try:
        net.start()
        yield net
    finally:
        net.stop()


@pytest.fixture(scope="module")
def pool_world(
    net: EtmNetwork, bitcoin_node: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[World, Party]:
    """A BTC pool (2 confirmations per SPV proof) with a deposit, set up through node 1 (never
    killed); (world, operator)."""
    if bitcoin_node.height() < 101:
        bitcoin_node.mine(101 - bitcoin_node.height())
    rpc = BitcoinRpc(bitcoin_node.rpc_url, bitcoin_node.rpc_user, bitcoin_node.rpc_password)
    world = World(rpc, net.client(1).url, bitcoin_node.height())
    root = tmp_path_factory.mktemp("parties")
    operator, investor = Party.new("operator", root), Party.new("investor", root)
    for party in (operator, investor):
        _fund(world, party, bitcoin_node)
    world.create_pool(operator, "btc", FEE_PPM, 2)
    world.bind_btc(investor)
    world.deposit_btc(investor, DEPOSIT_SAT, DEPOSIT_ETM, bitcoin_node.mine)
    return world, operator


def _fund(world: World, party: Party, bitcoin_node: Any) -> None:
    world.fund_etm(party, 1_000 * ETM)
    adapter = world.btc_adapter(party)
    bitcoin_node.fund(adapter.address(), 5 * DEPOSIT_SAT)
    adapter.close()


def _new_user(world: World, bitcoin_node: Any, tmp_path: Path) -> Party:
    user = Party.new("user", tmp_path)
    _fund(world, user, bitcoin_node)
    world.bind_btc(user)
    return user


def _kill_a_node_mid_swap(net: EtmNetwork) -> Any:
    """The hook between watcher runs: once the user's watcher was killed KILL_AFTER_RUNS times,
    stop node KILLED_NODE (the engines' first endpoint)."""

    def between_runs(kills: int) -> None:
        if kills == KILL_AFTER_RUNS:
            net.nodes[KILLED_NODE].kill9()  # a crash, not a shutdown

    return between_runs


def _chains(world: World, party: Party, urls: list[str]) -> dict[str, dict[str, Any]]:
    """The party's adapters as ``watcher_proc`` specs (the same keys and data dirs as World's)."""
    btc = world.btc
    return {
        "bitcoin": {
            "adapter": "bitcoin",
            "config": {
                "rpc_url": btc.rpc_url,
                "rpc_user": btc.rpc_user,
                "rpc_password": btc.rpc_password,
                "secret_hex": party.btc_secret.hex(),
                "data_dir": str(party.home / "bitcoin"),
                "network": "regtest",
                "birth_height": world.birth_height,
            },
        },
        "etm": {
            "adapter": "etm",
            "config": {"urls": urls, "secret_hex": party.etm_seed.hex()},
        },
    }


def _snapshot(world: World, user: Party, operator: Party) -> dict[str, Any]:
    u_btc, u_etm, o_btc = (
        world.btc_adapter(user),
        world.etm_adapter(user),
        world.btc_adapter(operator),
    )
    try:
        return {
            "user_btc": u_btc.balance(),
            "user_etm": u_etm.balance(),
            "op_btc": o_btc.balance(),
            "pool": world.client.pool("btc"),
        }
    finally:
        for a in (u_btc, u_etm, o_btc):
            a.close()


def _start(world: World, user: Party, refund: bool) -> SwapRecord:
    """The user's swap as ``swap start btc etm`` makes it (pinned quote, intent on ETM)."""
    adapters = {"bitcoin": world.btc_adapter(user), "etm": world.etm_adapter(user)}
    try:
        rec, _ = start_pool_swap(adapters, "bitcoin", "etm", SWAP_SAT, slippage_bps=0)
        if refund:
            tip = adapters["bitcoin"].tip().height
            leg = dataclasses.replace(rec.terms.user_leg, timelock_height=tip + REFUND_BLOCKS)
            rec = dataclasses.replace(rec, terms=dataclasses.replace(rec.terms, user_leg=leg))
    finally:
        for a in adapters.values():
            a.close()
    return rec


def _record(path: Path, rec: SwapRecord) -> SwapRecord:
    """The record of ``rec``'s swap in the database at ``path``: the user's by its id, the
    operator's (keyed by the ETM HTLC id) by its hashlock."""
    store = SwapStore(path)
    try:
        [found] = store.by_hashlock(rec.terms.hashlock)
        return found
    finally:
        store.close()


def _cancelled_after_the_refund(
    world: World, user: Party, path: Path, rec: SwapRecord
) -> dict[str, Any]:
    """The user's engine cancelled the swap's bonded intent once, right after the swap was
    refunded (the intent written after the refund's state save), and ETM holds it no more; the
    cancel transaction as the node shows it."""
    got = _record(path, rec)
    [cancel] = {i.result.txid for i in got.intents_of(ActionKind.CANCEL_INTENT) if i.result}
    [refunded] = [t for t in _transitions(path, rec.swap_id) if t.to_state is SwapState.REFUNDED]
    [written] = {i.created_at_s for i in got.intents_of(ActionKind.CANCEL_INTENT)}
    assert written >= refunded.at_s, (written, refunded)
    assert world.client.swap_intent(user.etm_address, rec.terms.hashlock) is None
    assert cancel is not None and not cancel.startswith("gone:"), cancel
    tx = world.client.transaction(cancel)
    assert tx["status"] == "confirmed", tx
    return tx


def _a_cancel_after_the_proof_is_refused(world: World, user: Party, rec: SwapRecord) -> None:
    """Attack: the user cancels the intent of a proven swap (to get the bond twice, or release
    the reservation the swap owns). The chain refuses it (``no_swap_intent``: the proof ended
    the intent) and the pool is untouched; the engine's cancel takes that as "gone"."""
    etm = world.etm_adapter(user)
    try:
        gateway = make_gateway({"etm": etm})
        assert gateway is not None
        pool0 = world.client.pool("btc")
        with pytest.raises(TxRejectedError) as refused:
            gateway.cancel_intent(rec.terms.hashlock)
        assert refused.value.reason == "no_swap_intent", refused.value
        assert cancel_bonded_intent(gateway, rec.terms.hashlock) == "gone:no_swap_intent"
        assert world.client.pool("btc") == pool0
    finally:
        etm.close()


def _transitions(path: Path, swap_id: str) -> list[Any]:
    store = SwapStore(path)
    try:
        return list(store.transitions(swap_id))
    finally:
        store.close()


def _user_path(path: Path, swap_id: str) -> list[tuple[str, str]]:
    store = SwapStore(path)
    try:
        return [(t.from_state.value, t.to_state.value) for t in store.transitions(swap_id)]
    finally:
        store.close()


def _check_chains(
    world: World, user: Party, operator: Party, rec: SwapRecord, end: SwapState
) -> None:
    o_btc, u_etm = world.btc_adapter(operator), world.etm_adapter(user)
    try:
        [btc_lock] = o_btc.find_locks(rec.terms.hashlock)  # BTC locked exactly once
        assert btc_lock.terms.amount == SWAP_SAT, btc_lock
        spend = o_btc.find_spend(btc_lock)
        assert spend is not None, btc_lock
        assert spend.kind.value == ("claim" if end is SwapState.CLAIMED_BOTH else "refund"), spend
        etm_locks = u_etm.find_locks(rec.terms.hashlock)
        if end is SwapState.CLAIMED_BOTH:
            [etm_lock] = etm_locks  # the exchange locked once, for the pinned amount
            assert etm_lock.state is LockState.CLAIMED, etm_lock
            assert etm_lock.terms.amount == rec.terms.counter_leg.amount, etm_lock
        else:
            assert etm_locks == [], etm_locks
    finally:
        o_btc.close()
        u_etm.close()


def _cancel_charge(held: dict[str, Any], height: int) -> int:
    """``exchange.intents.cancel_charge``, restated: the bond's share of the lifetime held."""
    bond, life = int(held["bond"]), max(1, int(held["expiry_height"]) - int(held["height"]))
    return min(bond, -(-bond * min(life, max(1, height - int(held["height"]))) // life))


def _check_funds(before: dict, after: dict, rec: SwapRecord, end: SwapState) -> None:
    d_user_btc = after["user_btc"] - before["user_btc"]
    d_user_etm = after["user_etm"] - before["user_etm"]
    d_op_btc = after["op_btc"] - before["op_btc"]
    pool0, pool1 = before["pool"], after["pool"]
    deltas = (d_user_btc, d_user_etm, d_op_btc)
    if end is SwapState.CLAIMED_BOTH:
        out = before["intent_out"]  # issue 15: the quote the intent reserved, at least the pinned
        assert out >= rec.terms.counter_leg.amount, (out, rec.terms.counter_leg)
        assert -SWAP_SAT - BTC_FEES_MAX <= d_user_btc <= -SWAP_SAT, deltas
        assert SWAP_SAT - BTC_FEES_MAX <= d_op_btc <= SWAP_SAT, deltas
        got = out + before["intent_bond"]  # the bond (taken before) came back at the proof
        assert got - ETM_FEES_MAX <= d_user_etm <= got, deltas
        assert pool1["asset_reserve"] == pool0["asset_reserve"] + SWAP_SAT
        assert pool1["etm_reserve"] == pool0["etm_reserve"] - out
    else:  # the engine cancelled the intent: the bond back less the charge and the tx fee
        cancel = after["cancel_tx"]
        charge = _cancel_charge(before["intent"], int(cancel["height"]))
        assert 0 < charge < before["intent_bond"], (charge, before["intent"])
        assert -BTC_FEES_MAX <= d_user_btc <= 0 and d_op_btc == 0, deltas
        assert d_user_etm == before["intent_bond"] - charge - int(cancel["fee"]), (deltas, cancel)
        assert pool1["asset_reserve"] == pool0["asset_reserve"]
        assert pool1["etm_reserve"] == pool0["etm_reserve"] + charge  # the LPs keep the charge
    # issue 15: the intent reserved the swap's output from the start; a claim settles it, and
    # the engine's cancel after the refund releases it (no longer held until its expiry)
    released = before["intent_out"]
    assert pool1["asset_reserved"] == pool0["asset_reserved"], pool1
    assert pool1["etm_reserved"] == pool0["etm_reserved"] - released, (pool0, pool1)


def _spec(
    world: World,
    user: Party,
    operator: Party,
    tmp_path: Path,
    refund: bool,
    rec: SwapRecord,
    mine_to: str,
    urls: list[str],
) -> dict:
    user_chains = _chains(world, user, urls)
    roles = {"user": {"db": str(tmp_path / "user.db"), "chains": user_chains, "gateway": True}}
    if not refund:
        roles["operator"] = {
            "db": str(operator.home / "swaps.db"),
            "chains": _chains(world, operator, urls),
            "gateway": True,
            "pools": True,
        }
    return {
        "swap_id": rec.swap_id,
        "hashlock": rec.terms.hashlock.hex(),
        "roles": roles,
        "crash_roles": ["user"],
        # the operator claims the BTC only once the user's engine saved secret_revealed: without
        # this, an operator quicker than the user's next tick makes the user see both claims at
        # once and go straight to claimed_both (a valid path, but then that state is not saved)
        "waits": {"role": "operator", "for": "user", "state": "secret_revealed"},
        # retry a broadcast the chain does not show after a few blocks, not at the next tick:
        # with a forger down a slot passes without a block, and a proof resent before its
        # first copy landed is a second broadcast of one kind (the runs check there is none)
        "policy": {
            **(NEVER_PROVE if refund else {"user_proof_delay_blocks": 0}),
            "retry_after_s": RETRY_AFTER_S,
        },
        "btc_url": world.btc.rpc_url,
        "btc_user": world.btc.rpc_user,
        "btc_password": world.btc.rpc_password,
        "btc_mine_to": mine_to,
        "sleep_s": 1.0,  # one ETM block
    }


@pytest.mark.bitcoin_long
@pytest.mark.parametrize("point", ["state_saved", "intent_saved"])
@pytest.mark.parametrize("scenario", ["claimed", "refunded"])
def test_sigkill_the_users_watcher_after_every_save_of_a_pool_swap_in(
    net, pool_world, bitcoin_node, tmp_path, scenario, point
) -> None:
    refund = scenario == "refunded"
    end = SwapState.REFUNDED if refund else SwapState.CLAIMED_BOTH
    world, operator = pool_world
    user = _new_user(world, bitcoin_node, tmp_path)
    urls = [net.client(i).url for i in range(net.size)]  # the node killed mid-swap first
    rec = _start(world, user, refund)
    store = SwapStore(tmp_path / "user.db")
    store.create(rec)
    store.close()
    before = _snapshot(world, user, operator)
    held = world.client.swap_intent(user.etm_address, rec.terms.hashlock)  # issue 15
    assert held is not None
    before["intent_out"], before["intent_bond"] = int(held["amount_out"]), int(held["bond"])
    before["intent"] = held
    spec = _spec(world, user, operator, tmp_path, refund, rec, bitcoin_node.faucet_address(), urls)
    hook = None if refund else _kill_a_node_mid_swap(net)
    try:
        kills = run_until_done(spec, point, tmp_path, max_ticks=60, between_runs=hook)
    finally:
        if net.nodes[KILLED_NODE].proc is None:
            net.restart(KILLED_NODE)
    if hook is not None:  # the swap ran on without its first endpoint; back, node 0 catches up
        assert kills > KILL_AFTER_RUNS, kills
        tip = int(net.client(1).status()["height"])
        wait_for(lambda: int(net.client(KILLED_NODE).status()["height"]) >= tip, "node 0 sync")
    crashed = (tmp_path / "crashed.txt").read_text() if kills else ""
    crashed_at.setdefault(point, set()).update(crashed.split())
    roles = [Role.USER] if refund else [Role.USER, Role.OPERATOR]
    dbs = {Role.USER: tmp_path / "user.db", Role.OPERATOR: operator.home / "swaps.db"}
    for role in roles:
        got = _record(dbs[role], rec)
        assert got.state is end, (role, got.state, crashed)
        for intent in got.intents:
            assert intent.result is not None, intent
            assert intent.result.outcome in (Outcome.BROADCAST, Outcome.FOUND_ON_CHAIN), intent
        for kind in ActionKind:  # one broadcast per kind: nothing was sent twice
            if kind is not ActionKind.WAIT:
                assert len({i.result.txid for i in got.intents_of(kind)}) <= 1, (role, kind)
    if point == "intent_saved":  # crashed once right after each intent, before its broadcast
        kinds = [sig.split("/")[-1] for sig in crashed.split()]
        assert sorted(kinds) == sorted(k.value for k in SCENARIO_ACTIONS[scenario]), crashed
    else:
        assert kills >= 3, crashed
    if not refund:  # the proof and the counter lock are one ETM transaction
        path = _user_path(dbs[Role.USER], rec.swap_id)
        assert ("lock_confirmed", "counter_locked") in path, path
        assert all(SwapState.PROOF_SUBMITTED.value not in step for step in path), path
    bitcoin_node.mine(1)
    _check_chains(world, user, operator, rec, end)
    after = _snapshot(world, user, operator)
    if refund:
        after["cancel_tx"] = _cancelled_after_the_refund(world, user, dbs[Role.USER], rec)
    _check_funds(before, after, rec, end)
    if not refund:
        _a_cancel_after_the_proof_is_refused(world, user, rec)


def test_the_crashes_covered_every_state_and_user_action_of_the_table() -> None:
    """After the four runs above (same module, in order): the union of their crash signatures
    covers every ``foreign_to_etm`` state the user's engine can be crashed in, and each of the
    user's broadcasting actions right after its intent was written."""
    if set(crashed_at) != {"state_saved", "intent_saved"}:
        pytest.skip("needs the crash runs of this module in the same session")
    user_states = {s.split("/")[2] for s in crashed_at["state_saved"] if s.split("/")[1] == "user"}
    want = states_of(SwapDirection.FOREIGN_TO_ETM) - NOT_CRASH_REACHABLE - NEVER_SAVED_ON_POOL_PATH
    assert {s.value for s in want} <= user_states, (sorted(want), sorted(user_states))
    kinds = {s.split("/")[-1] for s in crashed_at["intent_saved"]}
    user_actions = set().union(*SCENARIO_ACTIONS.values())
    assert {k.value for k in user_actions} <= kinds, sorted(kinds)
