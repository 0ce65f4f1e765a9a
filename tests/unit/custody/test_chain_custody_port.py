"""The custody plug-in's exchange port (design-14 section 4.5): on a custody chain pools are
the chain's (no sender creates one), there are no operator obligations, inflows wait for a
committee, stop while the pool is insolvent and while the breaker is tripped; on a chain
without the section the exchange behaves exactly as before."""

from __future__ import annotations

from typing import Any

import pytest
from custody_world import DOMAIN
from test_custody_txtypes import World

from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import TxContext, build_registry
from etm_bridge.chain.state import EmptyBackend, State
from etm_bridge.custody import records as cr
from etm_bridge.custody.params import CustodyParams
from etm_bridge.custody.port import ChainCustody
from etm_bridge.errors import ExchangeError, TxRejectedError
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import records as xr
from etm_bridge.exchange.custody_port import LEGACY
from etm_bridge.exchange.pool import Pool, PoolParams
from etm_bridge.exchange.txtypes import POOL_CREATE

pytestmark = pytest.mark.unit

PLUGINS = ("etm_bridge.custody.txtypes", "etm_bridge.exchange.txtypes")
SECTION = {"domain": DOMAIN.hex(), "chains": ["btc", "eth"], "min_bond": 1_000}
PORT = ChainCustody()
SCALE = 10**12
D = [bytes([i]) * 32 for i in range(1, 4)]
KEY = b"\x02" * 33  # a pool record's claim key (unused on a custody chain)


def reason(call: Any) -> str:
    with pytest.raises((ExchangeError, TxRejectedError)) as exc:
        call()
    return str(exc.value.reason)


@pytest.mark.parametrize("section", [SECTION, None])
def test_pool_creation_is_the_chains_only_with_a_custody_section(
    section: dict[str, object] | None,
) -> None:
    w = World(section=section, plugins=PLUGINS)
    payload = pl.encode_payload(pl.PoolCreate("btc", b"\x02" + b"\x11" * 32, 3_000, 100, 1))
    send = lambda: w.send(dev_key("user-1"), POOL_CREATE, payload)  # noqa: E731
    if section is None:
        send()  # legacy: the sender becomes the operator
        w.forge()
        assert w.chain.store_view().get_json(xr.POOLS, b"btc")["params"]["operator"]
    else:
        assert reason(send) == "pool_create_by_committee"


def state() -> State:
    registry = build_registry(ChainParams(tx_plugins=PLUGINS))
    assert registry.port("custody", LEGACY).__class__ is ChainCustody
    s = State(EmptyBackend(), registry.table_names)
    s.put_json(cr.PARAMS, b"params", CustodyParams.from_json(SECTION).to_json())
    pool = Pool(PoolParams("btc", "committee", KEY, 3_000, 100, 1), 10_000, 10_000 * 50)
    s.put_json(xr.POOLS, b"btc", xr.encode(pool))
    return s


def seat(s: State, bonds: tuple[int, int, int]) -> None:
    committee = cr.Committee(0, tuple(D), 3, 3, {"btc": tuple(D), "eth": tuple(D)}, 1, "first")
    s.put_json(cr.EPOCHS, cr.epoch_key(0), cr.encode(committee))
    s.put(cr.CURRENT, b"epoch", cr.epoch_key(0))
    for d, b in zip(D, bonds, strict=True):
        s.put_json(cr.MEMBERS, d, cr.encode(cr.Member(d, d, {"btc": d, "eth": d}, b)))


CTX = TxContext(ChainParams(), 10, 100, bytes(32))


def test_inflows_wait_for_a_committee_then_for_enough_bond() -> None:
    s = state()
    assert reason(lambda: PORT.check_inflow(s, "btc", 1, CTX)) == "custody_inactive"
    assert PORT.pool_view(s, "btc") == {"committee": None, "inflows": "paused",
                                        "reason": "custody_inactive"}  # fmt: skip
    # value at risk: 10,000 sat at 50 ETM units each = 500,000; x 1.5 = 750,000 of bond needed
    seat(s, (250_000, 250_000, 250_000))
    PORT.check_inflow(s, "btc", 0, CTX)
    err = reason(lambda: PORT.check_inflow(s, "btc", 1, CTX))
    assert err == "custody_bond_cap"
    view = PORT.pool_view(s, "btc")
    assert view is not None and view["inflows"] == "open" and view["committee"]["m"] == 3
    seat(s, (250_000, 250_000, 249_999))
    assert PORT.pool_view(s, "btc")["inflows"] == "paused"  # type: ignore[index]
    PORT.check_outflow(s, "btc", CTX)  # outflows never wait for bond


def test_insolvency_stops_both_directions_first() -> None:
    s = state()
    seat(s, (10**9, 10**9, 10**9))
    bad = cr.Solvency(cr.SolvencyStatus.INSOLVENT, 7, 90, 100, 10, 5, "stolen")
    s.put_json(cr.SOLVENCY, b"btc", cr.encode(bad))
    assert reason(lambda: PORT.check_inflow(s, "btc", 1, CTX)) == "pool_insolvent"
    assert reason(lambda: PORT.check_outflow(s, "btc", CTX)) == "pool_insolvent"


def test_no_obligations_no_withdrawal_and_no_pool_lock_without_a_committee() -> None:
    s = state()
    pool = xr.decode(Pool, s.get_json(xr.POOLS, b"btc"))
    assert reason(lambda: PORT.check_obligation(s, "btc")) == "custody_pool"
    withdraw = lambda: PORT.on_lp_withdraw(s, None, None, pool, 5, b"k", CTX)  # type: ignore[arg-type]  # noqa: E731
    assert reason(withdraw) == "custody_inactive"
    assert PORT.accepted_claim_keys(s, pool, CTX) == frozenset()
    # the committees' policies, derived from custody_epochs (tests/unit/custody/
    # test_swap_in_custody.py); a custody_vaults row (which nothing writes) adds nothing
    vault = cr.VaultRecord("btc", 0, cr.VaultStatus.ACTIVE, b"\xa0\x00", b"d", "addr", 1)
    s.put_json(cr.VAULTS, cr.ticker_key("btc", cr.epoch_key(0)), cr.encode(vault))
    assert PORT.accepted_claim_keys(s, pool, CTX) == frozenset()


def test_without_the_section_the_port_is_the_legacy_one() -> None:
    registry = build_registry(ChainParams(tx_plugins=PLUGINS))
    s = State(EmptyBackend(), registry.table_names)
    pool = Pool(PoolParams("btc", "op", KEY, 3_000, 100, 1), 10, 10)
    assert not PORT.enabled(s)
    PORT.check_pool_create(s, None, "btc")  # type: ignore[arg-type]
    PORT.check_obligation(s, "btc")
    PORT.check_inflow(s, "btc", 10**30, CTX)
    assert PORT.accepted_claim_keys(s, pool, CTX) == {KEY}
    assert PORT.pool_view(s, "btc") is None


def test_the_round_hook_keeps_each_pools_price_window_for_the_breaker() -> None:
    """Snapshots at each round close; the breaker then values the vault at the window's max, so
    a price dumped in the last round does not lower it."""
    from etm_bridge.chain.registry import RoundClose
    from etm_bridge.custody.hooks import make_hook

    s = state()  # one pool: 10,000 sat, 500,000 ETM units: 50 per sat
    seat(s, (250_000, 250_000, 250_000))
    hook = make_hook(lambda: {})
    close = RoundClose(ChainParams(), 5, 50, 0, (), ())
    for _ in range(30):
        hook(s, close)
    window = CustodyParams.from_json(SECTION).price_window_rounds
    assert s.get_json(cr.PRICES, b"btc") == [50 * SCALE] * window  # one snapshot per round
    pool = xr.decode(Pool, s.get_json(xr.POOLS, b"btc"))
    dumped = Pool(pool.params, 100_000, 500_000)  # an attacker swapped the price down 10x
    s.put_json(xr.POOLS, b"btc", xr.encode(dumped))
    hook(s, close)
    assert s.get_json(cr.PRICES, b"btc") == [50 * SCALE] * (window - 1) + [5 * SCALE]
    # 100,000 sat valued at the window's max (50): 5,000,000 of value needs 7,500,000 of bond
    assert reason(lambda: PORT.check_inflow(s, "btc", 0, CTX)) == "custody_bond_cap"
