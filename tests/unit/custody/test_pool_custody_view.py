"""A committee pool's ``custody`` block as the node serves it and as ``lp deposit`` checks it
(issue 14, docs/custody.md 2.10): the node adds the committee's keys to the port's
``pool_view``; the client derives the vault from them and refuses, before paying, a vault the
committee does not hold (a lying node), a committee that does not add up, paused inflows or no
vault. An operator pool's JSON has no ``custody`` key.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from test_lp_custody import KEYS, PORT, World

from etm_bridge.app import committee_pools
from etm_bridge.chains.bitcoin.client import deposit_payments
from etm_bridge.chains.bitcoin.custody import scripts
from etm_bridge.chains.profile import DepositRequest
from etm_bridge.chains.registry import chain_registry
from etm_bridge.custody import records as cr
from etm_bridge.errors import NodeUnavailableError, ValidationError
from etm_bridge.exchange import views
from etm_bridge.node.exchange_api import PoolCustody

pytestmark = pytest.mark.unit
BTC = chain_registry().by_ticker("btc")


def _served(w: World) -> dict[str, Any]:
    return views.show_pool(w.s, "btc", PoolCustody(PORT))


def test_an_operator_view_has_no_custody_key_and_a_committee_pool_names_its_committee() -> None:
    w = World()
    assert "custody" not in views.show_pool(w.s, "btc")  # no port: the operator JSON
    assert _served(w)["custody"] == {"committee": None, "inflows": "paused",
                                     "reason": "custody_inactive", "solvency": None}  # fmt: skip
    c = w.seat(0, range(4))
    block = _served(w)["custody"]
    assert block["committee"] == {"epoch": 0, "m": 3, "n": 4,
                                  "keys": [k.hex() for k in c.keys["btc"]]}  # fmt: skip
    assert block["vault"]["destination"] == w.vault(0).hex() and block["inflows"] == "open"
    page = views.pools_page(w.s, None, 10, PoolCustody(PORT))
    assert page.rows == [_served(w)]
    assert block["solvency"] is None  # no record written


def test_an_insolvent_pool_shows_its_inflows_paused_and_the_client_refuses_to_pay() -> None:
    """The port refuses inflows of an insolvent pool (``pool_insolvent``) before the breaker;
    the block says so, so ``lp deposit`` refuses before paying instead of after."""
    w = World()
    w.seat(0, range(4))
    bad = cr.Solvency(cr.SolvencyStatus.INSOLVENT, 3, 10, 20, 10, 1, "test")
    w.s.put_json(cr.SOLVENCY, b"btc", cr.encode(bad))
    block = _served(w)["custody"]
    assert (block["inflows"], block["reason"]) == ("paused", "pool_insolvent")
    assert block["solvency"]["status"] == "insolvent"
    assert "inflows are paused (pool_insolvent)" in _refusal(_served(w))


def test_the_client_pays_the_vault_it_derives_from_the_committee() -> None:
    w = World()
    w.seat(0, range(4))
    vault = committee_pools.deposit_vault(BTC, _served(w))
    assert (vault.m, vault.n, vault.epoch, vault.destination) == (3, 4, 0, w.vault(0))
    req = DepositRequest(b"", 25_000, b"\x01" * 20, vault.destination.hex())
    pay, tag = deposit_payments(req)
    assert (pay.destination, pay.amount) == (w.vault(0), 25_000) and tag.destination[0] == 0x6A


def _tampered(w: World, change: Any) -> dict[str, Any]:
    pool = copy.deepcopy(_served(w))
    change(pool["custody"])
    return pool


def _refusal(pool: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as err:
        committee_pools.deposit_vault(BTC, pool)
    assert "\n" not in str(err.value) and "nothing was paid" in str(err.value)
    return str(err.value)


def test_a_lying_node_cannot_redirect_a_deposit() -> None:
    """Attack: the node names another script as the vault (the attacker's key, another
    committee's vault); or reports a committee it controls alone that does not add up."""
    w = World()
    w.seat(0, range(4))
    thief = scripts.p2wpkh(KEYS[5]).hex()
    other = scripts.p2wsh(b"\x51").hex()
    for dest in (thief, other):
        why = _refusal(_tampered(w, lambda c, d=dest: c["vault"].__setitem__("destination", d)))
        assert "not the vault of the 3-of-4 committee" in why
    one_key = _tampered(w, lambda c: c["committee"].update(m=1, n=1, keys=[KEYS[5].hex()]))
    assert "not the vault of the 1-of-1" in _refusal(one_key)  # its own key, the real vault
    # (a node lying consistently about both is what several endpoints catch, docs/custody.md)
    short = _tampered(w, lambda c: c["committee"].update(keys=c["committee"]["keys"][:3]))
    assert "does not add up" in _refusal(short)
    weak = _tampered(w, lambda c: c["committee"].update(m=2))  # the chain's m is floor(2n/3)+1
    assert "2-of-4" in _refusal(weak)
    unsorted = _tampered(w, lambda c: c["committee"]["keys"].reverse())
    assert "unsorted" in _refusal(unsorted)
    stale = _tampered(w, lambda c: c["vault"].__setitem__("epoch", 7))
    assert "epoch 7" in _refusal(stale)
    junk = _tampered(w, lambda c: c["committee"].__setitem__("keys", ["zz"]))
    assert "malformed" in _refusal(junk)


def test_no_vault_paused_inflows_or_no_block_are_refused_before_paying() -> None:
    w = World()
    assert "inflows are paused (custody_inactive)" in _refusal(_served(w))  # no committee yet
    w.seat(0, range(4))
    paused = _tampered(w, lambda c: c.update(inflows="paused", reason="custody_bond_cap"))
    assert "custody_bond_cap" in _refusal(paused)
    assert "names no vault" in _refusal(_tampered(w, lambda c: c.update(vault=None)))
    bare = {k: v for k, v in _served(w).items() if k != "custody"}
    assert "no custody block" in _refusal(bare)
    with pytest.raises(ValidationError, match="committee pool"):  # the chain client's own guard
        deposit_payments(DepositRequest(b"", 10_000, b"\x01" * 20, None))


class _Endpoints:
    """``read_everywhere`` of a client on several ETM nodes: url -> its pool answer."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def read_everywhere(self, path: str) -> dict[str, Any]:
        assert path == "/api/exchange/pools/btc"
        return self.answers


def test_a_consistent_lie_passes_one_endpoint_but_not_the_others() -> None:
    """Attack: a node reporting a 1-of-1 committee of the attacker's key and that key's vault
    is self-consistent (one endpoint cannot tell); every other trusted endpoint must name the
    same vault, so the lie is refused next to one honest endpoint."""
    w = World()
    w.seat(0, range(4))
    honest = _served(w)
    liar = World()
    liar.seat(0, range(5, 6))  # the attacker's own committee, same epoch
    lie = _served(liar)
    assert committee_pools.deposit_vault(BTC, lie).destination == liar.vault(0)  # self-consistent
    with pytest.raises(ValidationError, match="the ETM endpoints disagree about its vault"):
        committee_pools.agreed_vault(_Endpoints({"a": lie, "b": honest}), BTC, lie)
    with pytest.raises(ValidationError, match="could not confirm its vault"):
        committee_pools.agreed_vault(_Endpoints({"a": honest, "b": NodeUnavailableError("x")}),
                                     BTC, honest)  # fmt: skip
    agreed = committee_pools.agreed_vault(_Endpoints({"a": honest, "b": honest}), BTC, honest)
    assert agreed.destination == w.vault(0)
    assert committee_pools.agreed_vault(object(), BTC, honest) == agreed  # one endpoint


class _Ctx:
    def node(self) -> object:
        return object()  # one endpoint: no read_everywhere


def test_a_vault_flag_other_than_the_committees_is_refused() -> None:
    """Attack: a user talked into ``--vault <attacker's address>`` for a committee pool."""
    from etm_bridge.app.liquidity import _committee_destination

    w = World()
    w.seat(0, range(4))
    pool = _served(w)
    said: list[str] = []
    honest = pool["custody"]["vault"]["address"]
    thief = scripts.p2wpkh(KEYS[5]).hex()
    with pytest.raises(ValidationError, match="is not the btc pool's vault"):
        _committee_destination(_Ctx(), BTC, pool, thief, said.append)  # type: ignore[arg-type]
    for given in (None, honest, w.vault(0).hex()):
        got = _committee_destination(_Ctx(), BTC, pool, given, said.append)  # type: ignore[arg-type]
        assert got == w.vault(0).hex()
    assert said[-1] == f"the 3-of-4 committee's vault (epoch 0): {honest}"
