"""Tx 304 on a real ledger over the fake 3-of-4 vault (design-14 sections 6.1-6.3 and 1.3).

Attack performed: a committee member signs a spend of a vault output that no mandate covers (a
theft). Anyone submits the signature: the member is named, its custody bond and delegate
deposit are split exactly (finder's share to the reporter, the rest burnt: no pool), it is out
of the forging election and of every committee, and the next round close forms a committee
without it. A second proof against it is refused ``already_slashed``; a stranger's key
``not_custody_member``."""

from __future__ import annotations

from typing import Any

import pytest
from custody_world import DOMAIN
from test_custody_txtypes import World, reason

from etm_bridge.chain.address import address_hash
from etm_bridge.chain.codec import U16, U32
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.tx_delegates import DELEGATES, DEPOSIT_ESCROW
from etm_bridge.custody import fraud as fr
from etm_bridge.custody import plans
from etm_bridge.custody import records as cr
from etm_bridge.custody import registration as rg
from etm_bridge.custody.spec import SpendRequest
from etm_bridge.custody.txtypes import FRAUD
from etm_bridge.testing import custody_fake as cf

pytestmark = pytest.mark.unit

BOND = 1_000_000
FEE_304 = 1_000_000
PLUGINS = ("custody_fake_plugin",)
CUSTODY = [dev_key(f"fake custody {i}") for i in range(4)]
AGENTS = [dev_key(f"fake agent {i}") for i in range(4)]


def member_entry(i: int, network_id: int) -> dict[str, Any]:
    delegate = dev_key(f"delegate-{i}").public_key
    keys = {"fake": CUSTODY[i].public_key}
    msg = rg.pop_message(network_id, DOMAIN, delegate, AGENTS[i].public_key, keys)
    return {
        "delegate": delegate.hex(), "agent": AGENTS[i].public_key.hex(),
        "agent_pop": AGENTS[i].sign(rg.agent_pop_digest(msg)).hex(), "bond": BOND,
        "keys": {"fake": keys["fake"].hex()},
        "pops": {"fake": CUSTODY[i].sign(msg.encode()).hex()},
    }  # fmt: skip


def world() -> World:
    members = [member_entry(i, 0x45544D01) for i in range(4)]
    section = {"domain": DOMAIN.hex(), "chains": ["fake"], "min_bond": 1_000,
               "min_committee": 3, "members": members}  # fmt: skip
    return World(section=section, per_round=4, plugins=PLUGINS)


def committee(w: World) -> cr.Committee:
    view = w.chain.store_view()
    epoch = plans.current_epoch(view)
    return cr.decode(cr.Committee, view.get_json(cr.EPOCHS, cr.epoch_key(epoch or 0)))


def theft_proof(c: cr.Committee, thief: SigningKey) -> bytes:
    cfg = cf.FakeCustodyConfig("fake")
    vault = cf.vault(c, cfg)
    utxo = cr.CustodyUtxo("fake", b"\x42" * 36, 5_000_000, c.epoch, cr.UtxoStatus.UNSPENT)
    req = SpendRequest(cr.MandateKind.LP_WITHDRAW, b"\x00" * 32, 0, c.epoch, c, vault,
                       {"amount": 4_000_000, "destination": (b"\xee" * 32).hex()}, 1)  # fmt: skip
    spend = cf.build(req, [utxo], cfg).spend
    sig = thief.sign(cf.digests(spend)[0])
    body = U32.pack(len(spend)) + spend + U16.pack(0) + sig
    return fr.Fraud("fake", c.epoch, thief.public_key, body).encode()


def test_a_theft_signature_slashes_its_member_and_the_committee_rotates() -> None:
    w = world()
    c0 = committee(w)
    assert c0.epoch == 0 and (c0.m, c0.n) == (3, 4)
    thief_i = 2
    thief_delegate = dev_key(f"delegate-{thief_i}").public_key
    reporter = dev_key("user-1")
    view = w.chain.store_view()
    before = view.account(address_hash(reporter.public_key)).balance
    w.send(reporter, FRAUD, theft_proof(c0, CUSTODY[thief_i]), fee=FEE_304)
    w.forge()
    view = w.chain.store_view()
    member = plans.get_member(view, thief_delegate)
    assert member is not None and member.slashed and member.bond == 0
    assert view.get_json(DELEGATES, thief_delegate)["slashed"] is True
    deposit = w.params.delegate_deposit
    finder = BOND // 10 + deposit // 10
    got = view.account(address_hash(reporter.public_key)).balance - before
    assert got == finder - FEE_304
    assert view.escrow_total(cr.BOND_ESCROW) == 3 * BOND
    assert view.escrow_total(DEPOSIT_ESCROW) == 3 * deposit
    # the escrows lost BOND + deposit, the reporter got `finder`: the rest was burnt (no pool)
    # the next round close forms a committee without the thief
    end = w.chain.tip.height + w.params.delegates_per_round
    while w.chain.tip.height < end:
        w.forge()
    c1 = committee(w)
    assert c1.epoch == 1 and c1.reason == "slashed_member"
    assert thief_delegate not in c1.members and (c1.m, c1.n) == (3, 3)
    # a second proof: already slashed (against the old epoch, whose keys stay accountable)
    again = theft_proof(c0, CUSTODY[thief_i])
    assert reason(lambda: w.send(reporter, FRAUD, again, fee=FEE_304)) == "already_slashed"


def test_a_strangers_key_is_not_a_custody_member() -> None:
    w = world()
    c0 = committee(w)
    stranger = dev_key("stranger")
    proof = theft_proof(c0, stranger)
    assert reason(lambda: w.send(dev_key("user-1"), FRAUD, proof, fee=FEE_304)) == (
        "not_custody_member"
    )


def test_the_slashed_bond_goes_to_the_tickers_pools_pro_rata() -> None:
    """apply_slash on state with two pools of the offence's ticker and one of another chain: 90 %
    of the bond lands in the two ETM reserves (and the exchange escrow) in proportion to those
    reserves, to the unit; the other chain's pool gets nothing."""
    from etm_bridge.chain.params import ChainParams
    from etm_bridge.chain.registry import TxContext, build_registry
    from etm_bridge.chain.state import EmptyBackend, State
    from etm_bridge.chain.tx import Tx
    from etm_bridge.custody import slashing
    from etm_bridge.custody.params import CustodyParams
    from etm_bridge.exchange import records as xr
    from etm_bridge.exchange.pool import Pool, PoolParams

    registry = build_registry(ChainParams(tx_plugins=(*PLUGINS, "etm_bridge.exchange.txtypes")))
    s = State(EmptyBackend(), registry.table_names)
    p = CustodyParams.from_json({"domain": DOMAIN.hex(), "chains": ["fake"]})
    s.put_json(cr.PARAMS, b"params", p.to_json())
    offender = dev_key("delegate-0").public_key
    s.put_json(DELEGATES, offender, {"name": "d0", "deposit": 1_000, "height": 0, "slashed": False})
    bank = b"\x01" * 20
    s.mint(bank, 10**9)
    s.to_escrow(bank, 1_000, DEPOSIT_ESCROW)
    s.to_escrow(bank, 10_000, cr.BOND_ESCROW)
    member = cr.Member(offender, b"a" * 32, {"fake": CUSTODY[0].public_key}, 10_000)
    s.put_json(cr.MEMBERS, offender, cr.encode(member))
    token = "erc20:0x" + "11" * 20
    for asset, etm in (("eth", 300), (token, 100), ("btc", 500)):
        s.to_escrow(bank, etm, xr.ESCROW)
        pool = Pool(PoolParams(asset, "committee", b"\x02" * 33, 3_000, 1, 1), 5, etm)
        s.put_json(xr.POOLS, asset.encode(), xr.encode(pool))
    reporter = dev_key("reporter")
    tx = Tx.create(reporter, network=1, type_id=FRAUD, nonce=0, fee=0, payload=b"")
    ctx = TxContext(ChainParams(), 5, 5, bytes(32))
    slashing.apply_slash(s, tx, fr.Fraud("eth", 0, CUSTODY[0].public_key, b""), offender, ctx)
    reserves = {a: xr.decode(Pool, s.get_json(xr.POOLS, a.encode())).etm_reserve
                for a in ("eth", token, "btc")}  # fmt: skip
    assert reserves == {"eth": 300 + 6_750, token: 100 + 2_250, "btc": 500}  # other chain: 0
    assert s.escrow_total(xr.ESCROW) == 900 + 9_000
    assert s.escrow_total(cr.BOND_ESCROW) == 0 and s.escrow_total(DEPOSIT_ESCROW) == 0
    assert s.account(address_hash(reporter.public_key)).balance == 1_000 + 100
    assert s.get(cr.CURRENT, b"pending_rotation") == b"slashed_member"
