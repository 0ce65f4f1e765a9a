"""Genesis custody members (design-14 section 1.1): checked like tx 300 (real proofs of
possession), bonds minted into the bond escrow, epoch 0 formed at genesis; a bad member or too
few members refuse the genesis with the entry named."""

from __future__ import annotations

from typing import Any

import pytest
from custody_world import DOMAIN, Delegate, registration
from custody_world import delegate as world_delegate
from test_custody_txtypes import World

from etm_bridge.chain.codec import U32
from etm_bridge.chain.keys import dev_key
from etm_bridge.custody import plans
from etm_bridge.custody import records as cr
from etm_bridge.errors import ConfigError

pytestmark = pytest.mark.unit


def dev_delegate(i: int) -> Delegate:
    base = world_delegate(f"d{i}")
    return Delegate(base.name, dev_key(f"delegate-{i}"), base.agent, base.custody)


def entry(d: Delegate, bond: int = 50_000, **kw: Any) -> dict[str, Any]:
    r = registration(d, bond=bond, **kw)
    return {
        "delegate": d.pk.hex(), "agent": r.agent.hex(), "agent_pop": r.agent_pop.hex(),
        "bond": bond, "keys": {t: k.hex() for t, k in r.keys.items()},
        "pops": {t: s.hex() for t, s in r.pops.items()},
    }  # fmt: skip


def section(members: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"domain": DOMAIN.hex(), "chains": ["btc", "eth"], "min_bond": 1_000,
            "min_committee": 3, "members": members, **kw}  # fmt: skip


def test_genesis_members_form_epoch_zero_with_their_bonds_in_escrow() -> None:
    ds = [dev_delegate(i) for i in range(4)]
    w = World(section=section([entry(d) for d in ds]), per_round=3)
    view = w.chain.store_view()
    assert view.escrow_total(cr.BOND_ESCROW) == 4 * 50_000
    assert all(plans.get_member(view, d.pk).bond == 50_000 for d in ds)  # type: ignore[union-attr]
    c = cr.decode(cr.Committee, view.get_json(cr.EPOCHS, U32.pack(0)))
    assert c.reason == "genesis" and c.n == 3 and c.m == 3  # top delegates_per_round by key
    assert c.members == tuple(sorted(d.pk for d in ds)[:3])


def test_a_bad_genesis_member_refuses_the_genesis_naming_it() -> None:
    ds = [dev_delegate(i) for i in range(4)]
    forged = entry(ds[2], keys_from={"btc": ds[0].name})  # delegate 2 claims delegate 0's key
    with pytest.raises(ConfigError, match=r"members\[2\]: key_registered"):
        World(section=section([entry(ds[0]), entry(ds[1]), forged, entry(ds[3])]))
    wrong_network = entry(ds[1], network_id=1)
    with pytest.raises(ConfigError, match=r"members\[1\]: bad_pop"):
        World(section=section([entry(ds[0]), wrong_network, entry(ds[2])]))
    stranger = Delegate("s", dev_key("not a delegate"), dev_key("agent s"), ds[3].custody)
    with pytest.raises(ConfigError, match=r"members\[0\]: unknown_delegate"):
        World(section=section([entry(stranger)]))
    with pytest.raises(ConfigError, match="listed twice"):
        World(section=section([entry(ds[0]), entry(ds[0])]))


def test_too_few_genesis_members_refuse_the_genesis() -> None:
    ds = [dev_delegate(i) for i in range(2)]
    with pytest.raises(ConfigError, match="forms no committee"):
        World(section=section([entry(d) for d in ds]))


PLUGINS = ("etm_bridge.custody.txtypes", "etm_bridge.exchange.txtypes")


def test_genesis_pools_belong_to_the_committee() -> None:
    from etm_bridge.exchange import records as xr
    from etm_bridge.exchange.pool import COMMITTEE_OPERATOR, Pool

    pools = [{"asset": "btc", "fee_ppm": 2_000, "min_confirmations": 1}]
    w = World(section=section([], pools=pools), plugins=PLUGINS)
    pool = xr.decode(Pool, w.chain.store_view().get_json(xr.POOLS, b"btc"))
    assert pool.params.operator == COMMITTEE_OPERATOR and pool.params.claim_key == b""
    assert (pool.params.fee_ppm, pool.params.min_confirmations, pool.asset_reserve) == (2_000, 1, 0)
    assert w.chain.store_view().get(xr.POOLS, b"eth") is None


@pytest.mark.parametrize(
    ("pools", "says"),
    [
        ([{"asset": "btc"}, {"asset": "btc"}], r"pools\[1\]\.asset .* one pool per asset"),
        ([{"asset": "btc", "operator": "x"}], r"pools\[0\] has unknown keys \['operator'\]"),
        ([{"asset": "doge"}], r"pools\[0\]: "),
        ([{"asset": "btc", "fee_ppm": -1}], r"pools\[0\]: "),
    ],
)
def test_a_bad_genesis_pool_refuses_the_genesis_naming_it(pools: list[Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        World(section=section([], pools=pools, chains=["btc"]), plugins=PLUGINS)


def test_genesis_pools_need_the_exchange_plugin() -> None:
    with pytest.raises(ConfigError, match="need the exchange plug-in"):
        World(section=section([], pools=[{"asset": "btc"}]))
