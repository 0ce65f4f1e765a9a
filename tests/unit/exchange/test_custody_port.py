"""The exchange's custody seam (design-14 section 4.6, issue 14 K0).

Without a custody plug-in every tx type uses :class:`LegacyOperatorCustody` (the whole
exchange suite runs on it unchanged). A port a plug-in ``provide``s reaches every planner: it
can refuse a pool creation or an inflow, widen the accepted claim keys of a swap-in lock, and
take an LP withdrawal's asset part instead of the operator obligation.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from exchange_harness import Ledger
from test_txtypes import btc_key, foreign_lock, rejected, seeded_ledger, swap_in

from etm_bridge.chain.registry import Registry
from etm_bridge.errors import ExchangeError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans, swap_plans
from etm_bridge.exchange import records as rc
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.custody_port import LEGACY, LegacyOperatorCustody
from etm_bridge.exchange.reasons import Reason

pytestmark = pytest.mark.unit

POLICY = b"\xa0\x03\x04" + b"\x02" * 132  # a committee's key policy (not a single key)


class CommitteePort(LegacyOperatorCustody):
    """A test port: pools by committee only, locks to POLICY, withdrawals recorded, inflows
    refused above a cap."""

    def __init__(self, cap: int = 10**18) -> None:
        self.cap = cap
        self.withdrawals: list[tuple[str, int, bytes]] = []

    def enabled(self, view: Any) -> bool:
        return True

    def check_pool_create(self, view: Any, tx: Any, asset: str) -> None:
        raise ExchangeError(Reason.POOL_CREATE_BY_COMMITTEE, "pools come from the genesis")

    def check_inflow(self, view: Any, asset: str, amount: int, ctx: Any) -> None:
        if amount > self.cap:
            raise ExchangeError(Reason.CUSTODY_BOND_CAP, f"{amount} > {self.cap}")

    def accepted_claim_keys(self, view: Any, pool: Any, ctx: Any) -> frozenset[bytes]:
        return frozenset({POLICY})

    def on_lp_withdraw(self, view: Any, plan: Any, tx: Any, pool: Any, asset_out: int,
                       payee: bytes, ctx: Any) -> None:  # fmt: skip
        self.withdrawals.append((pool.params.asset, asset_out, payee))


def test_the_legacy_port_is_the_operator_behaviour() -> None:
    led = seeded_ledger()
    pool = led.pool()
    assert LEGACY.enabled(led.state) is False
    assert LEGACY.accepted_claim_keys(led.state, pool, led.ctx()) == {btc_key("operator")}
    assert LEGACY.quote_fee(led.state, "btc") == 0
    assert LEGACY.pool_view(led.state, "btc") is None


def test_without_a_provider_the_registry_ports_the_legacy_custody() -> None:
    assert Registry().port("custody", LEGACY) is LEGACY


def test_a_provided_port_refuses_pool_creation_through_the_tx_type() -> None:
    led = Ledger()
    registry = Registry()
    registry.provide("custody", CommitteePort())
    tt.register(registry, tt.ChainVerifiers({"btc": led.relays}))
    led.registry = registry
    payload = pl.PoolCreate("btc", btc_key("operator"), 3_000, 100, 1)
    rejected("pool_create_by_committee", lambda: led.send("operator", tt.POOL_CREATE, payload))
    assert led.state.get(rc.POOLS, b"btc") is None


def test_a_provided_port_decides_the_claim_key_and_the_inflow_cap() -> None:
    led = seeded_ledger()
    port = CommitteePort(cap=150_000)
    planner = partial(swap_plans.plan_swap_in, custody=port)
    operator_lock = foreign_lock(led)  # pays the operator's key: not the committee's
    payload = pl.SwapIn("btc", led.address("alice"), 100_000, operator_lock.hashlock, 1, b"p")
    send = led.send_verified
    rejected("wrong_claim_key", lambda: send("alice", tt.SWAP_IN, payload, planner, operator_lock))
    big = foreign_lock(led, claim_key=POLICY, amount=200_000, lock_id=b"big")
    payload_big = pl.SwapIn("btc", led.address("alice"), 200_000, big.hashlock, 1, b"p")
    rejected("custody_bond_cap", lambda: send("alice", tt.SWAP_IN, payload_big, planner, big))
    ok = foreign_lock(led, claim_key=POLICY)
    led.send_verified("alice", tt.SWAP_IN, payload, planner, ok)
    htlc_id = swap_plans.swap_in_htlc_id("btc", ok.lock_id)
    assert plans.get_swap(led.state, htlc_id) is not None
    # and the legacy port still refuses the committee's policy
    with pytest.raises(ExchangeError):
        swap_in(led, foreign_lock(led, claim_key=POLICY, lock_id=b"other"))


def test_a_provided_port_takes_the_withdrawal_instead_of_an_obligation() -> None:
    led = seeded_ledger()
    port = CommitteePort()
    before = led.state.get_u64(rc.OBLIGATIONS, b"next")
    tx = led.make_tx("operator", tt.LP_WITHDRAW, pl.LpWithdraw("btc", 10**7))
    plan = plans.plan_lp_withdraw(led.state, tx, pl.LpWithdraw("btc", 10**7), led.ctx(), port)
    assert len(port.withdrawals) == 1
    asset, amount, payee = port.withdrawals[0]
    assert (asset, payee) == ("btc", btc_key("operator")) and amount > 0
    assert not any(table == rc.OBLIGATIONS for table, _ in plan.writes)
    assert led.state.get_u64(rc.OBLIGATIONS, b"next") == before
    # the legacy planner (the default) writes the operator's obligation
    legacy = plans.plan_lp_withdraw(led.state, tx, pl.LpWithdraw("btc", 10**7), led.ctx())
    assert (rc.OBLIGATIONS, b"next") in legacy.writes
