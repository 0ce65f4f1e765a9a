"""Swaps through the ETM pool on real nodes: no counterparty, the exchange contract is one.

An ETM node subprocess (``node init`` chain: SPV relays + exchange plug-ins), the session's
Bitcoin regtest node. An operator creates the BTC pool, an investor deposits BTC (SPV-proven)
and ETM, a user binds its Bitcoin key and swaps:

- BTC -> ETM: the user locks BTC to the pool's key; the user's engine relays the missing
  headers and submits the SPV proof (``xchg_swap_in``, min_out pinned by the quote and the
  recorded intent); the exchange locks pool ETM to the user; the user claims it (revealing the
  secret); the operator's engine, which found the swap in ETM state, claims the BTC with it.
- ETM -> BTC: the user locks ETM to the pool (``xchg_swap_out``); the operator's engine locks
  BTC to the user's bound key; the user claims it; the operator claims the ETM into the pool.

Both end ``claimed_both`` for both engines, every lock is spent by its claim on chain, and the
pool's share value (sqrt(x*y)/S) rises by the fees.
"""

from __future__ import annotations

from collections.abc import Iterator
from math import isqrt
from pathlib import Path
from typing import Any

import pytest
from etm_bridge_regtest.demo.engines import PoolSwaps
from etm_bridge_regtest.demo.parties import BitcoinRpc, Party, World
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in

from etm_bridge.adapter import LockState
from etm_bridge.swaps.core.fsm import Role, SwapState
from etm_bridge.units import ETM

DEPOSIT_SAT, DEPOSIT_ETM = 1_000_000, 100 * ETM
SWAP_IN_SAT, SWAP_OUT_ETM = 100_000, 5 * ETM
FEE_PPM = 3_000


@pytest.fixture
def etm_node(tmp_path: Path) -> Iterator[EtmNodeProcess]:
    with etm_node_in(tmp_path / "etm", delegates=3, block_time_s=1, funded_accounts=1) as proc:
        yield proc


def share_value(pool: dict[str, Any]) -> int:
    """sqrt(x * y) / S in millionths: what fees raise."""
    x, y = int(pool["effective_asset"]), int(pool["effective_etm"])
    return isqrt(x * y) * 1_000_000 // int(pool["total_shares"])


def _setup(
    etm_node: EtmNodeProcess, bitcoin_node: Any, tmp_path: Path, confirmations: int = 1
) -> tuple[World, Party, Party]:
    """A BTC pool (``confirmations`` per SPV proof) with a deposit; (world, operator, user)."""
    client = etm_node.client
    assert client is not None
    if bitcoin_node.height() < 101:
        bitcoin_node.mine(101 - bitcoin_node.height())
    rpc = BitcoinRpc(bitcoin_node.rpc_url, bitcoin_node.rpc_user, bitcoin_node.rpc_password)
    world = World(rpc, client.url, bitcoin_node.height())
    operator, investor, user = (Party.new(n, tmp_path) for n in ("operator", "investor", "user"))
    for party in (operator, investor, user):
        world.fund_etm(party, 1_000 * ETM)
        adapter = world.btc_adapter(party)
        bitcoin_node.fund(adapter.address(), 5 * DEPOSIT_SAT)
        adapter.close()
    world.create_pool(operator, "btc", FEE_PPM, confirmations)
    world.bind_btc(investor)
    world.bind_btc(user)
    world.deposit_btc(investor, DEPOSIT_SAT, DEPOSIT_ETM, bitcoin_node.mine)
    pool = client.pool("btc")
    assert (pool["asset_reserve"], pool["etm_reserve"]) == (DEPOSIT_SAT, DEPOSIT_ETM)
    return world, operator, user


def test_btc_to_etm_and_back_through_the_pool(etm_node, bitcoin_node, tmp_path) -> None:
    world, operator, user = _setup(etm_node, bitcoin_node, tmp_path)
    client = world.client
    swaps = PoolSwaps(world, user, operator, tmp_path / "user.db", bitcoin_node.mine)
    both = (Role.USER, Role.OPERATOR)
    try:
        before = client.pool("btc")
        etm_before = swaps.user_ad["etm"].balance()
        quote_in = client.quote("btc", "asset_to_etm", SWAP_IN_SAT)
        t_in = swaps.start_swap_in(SWAP_IN_SAT)
        assert t_in.counter_leg.amount == quote_in["amount_out"]  # the pinned minimum
        swaps.run_until(t_in.swap_id, {SwapState.CLAIMED_BOTH}, roles=both, timeout_s=150)

        [btc_lock] = swaps.op_ad["bitcoin"].find_locks(t_in.hashlock)
        assert swaps.op_ad["bitcoin"].find_spend(btc_lock).kind.value == "claim"
        [etm_lock] = swaps.user_ad["etm"].find_locks(t_in.hashlock)
        assert etm_lock.state is LockState.CLAIMED
        assert etm_lock.terms.amount == quote_in["amount_out"]
        fee_etm = 100_000  # intent + relay + proof + claim: the user's ETM txs
        gained = swaps.user_ad["etm"].balance() - etm_before
        assert quote_in["amount_out"] - 10 * fee_etm <= gained < quote_in["amount_out"]
        mid = client.pool("btc")
        assert mid["asset_reserve"] == DEPOSIT_SAT + SWAP_IN_SAT
        assert mid["etm_reserve"] == DEPOSIT_ETM - quote_in["amount_out"]
        assert mid["fees_asset"] == quote_in["fee"] > 0
        assert share_value(mid) > share_value(before)

        quote_out = client.quote("btc", "etm_to_asset", SWAP_OUT_ETM)
        t_out = swaps.start_swap_out(SWAP_OUT_ETM)
        swaps.run_until(t_out.swap_id, {SwapState.CLAIMED_BOTH}, roles=both, timeout_s=150)
        [etm_out] = swaps.op_ad["etm"].find_locks(t_out.hashlock)
        assert etm_out.state is LockState.CLAIMED and etm_out.terms.amount == SWAP_OUT_ETM
        [btc_out] = swaps.user_ad["bitcoin"].find_locks(t_out.hashlock)
        assert btc_out.terms.amount == quote_out["amount_out"]
        assert swaps.user_ad["bitcoin"].find_spend(btc_out).kind.value == "claim"
        after = client.pool("btc")
        assert after["etm_reserve"] == mid["etm_reserve"] + SWAP_OUT_ETM
        assert after["asset_reserve"] == mid["asset_reserve"] - quote_out["amount_out"]
        assert after["fees_etm"] == quote_out["fee"] > 0
        assert (after["asset_reserved"], after["etm_reserved"]) == (0, 0)
        assert share_value(after) > share_value(mid)
        assert client.open_swaps("btc") == []
    finally:
        print("\n".join(swaps.log))
        swaps.close()
