"""Committee selection, threshold, epochs and vault statuses (design-14 sections 1.2-1.6)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from custody_world import DOMAIN, PARAMS

from etm_bridge.custody import committee as cm
from etm_bridge.custody.params import CustodyParams
from etm_bridge.custody.records import Committee, Member, VaultStatus
from etm_bridge.custody.spec import CustodyModel
from etm_bridge.errors import ConfigError, CustodyError

pytestmark = pytest.mark.unit

D = [bytes([i]) * 32 for i in range(1, 21)]
SORTERS = {"btc": lambda ks: tuple(sorted(ks)), "eth": lambda ks: tuple(sorted(ks))}


def member(d: bytes, bond: int = 10_000, **kw: object) -> Member:
    keys = {"btc": b"\x02" + d, "eth": d[:20]}
    return replace(Member(d, d, keys, bond), **kw)  # type: ignore[arg-type]


def members(*ds: bytes, **kw: object) -> dict[bytes, Member]:
    return {d: member(d, **kw) for d in ds}


def test_threshold_is_more_than_two_thirds() -> None:
    assert [cm.threshold(n) for n in range(1, 16)] == [
        1, 2, 3, 3, 4, 5, 5, 6, 7, 7, 8, 9, 9, 10, 11]  # fmt: skip
    for n in range(1, 16):
        assert 3 * cm.threshold(n) > 2 * n and 3 * (cm.threshold(n) - 1) <= 2 * n
    with pytest.raises(ValueError):
        cm.threshold(0)


def test_selection_takes_the_vote_ranking_ties_by_key() -> None:
    voters = {D[0]: 5, D[1]: 9, D[2]: 9, D[3]: 1, D[4]: 0}
    got = cm.select(voters, 4, members(*D[:5]), PARAMS)
    assert got == tuple(sorted([D[1], D[2], D[0], D[3]]))  # D[4] ranked 5th: not elected


def test_slot_misses_do_not_matter_only_votes_do() -> None:
    """select() takes weights only: the forging election's missed-slot ineligibility has no
    input here, so a delegate that missed a slot keeps its custody seat."""
    voters = {d: 10 - i for i, d in enumerate(D[:4])}
    assert cm.select(voters, 4, members(*D[:4]), PARAMS) == tuple(D[:4])


def test_unregistered_slashed_keyless_or_underbonded_delegates_are_skipped() -> None:
    voters = {d: 100 - i for i, d in enumerate(D[:8])}
    ms = members(*D[:8])
    del ms[D[0]]  # never registered
    ms[D[1]] = member(D[1], slashed=True)
    ms[D[2]] = member(D[2], bond=PARAMS.min_bond - 1)
    ms[D[3]] = replace(member(D[3]), keys={"btc": b"\x02" + D[3]})  # no eth key
    assert cm.select(voters, 8, ms, PARAMS) == tuple(D[4:8])
    # only elected delegates count: the four eligible ones ranked 5-8 are outside the top 7
    assert cm.select(voters, 7, ms, PARAMS) is None


def test_fewer_than_min_committee_is_none_and_the_cap_is_max_committee() -> None:
    voters = {d: 0 for d in D}
    assert cm.select(voters, 3, members(*D), PARAMS) is None  # 3 < min 4
    got = cm.select(voters, 20, members(*D), PARAMS)
    assert got is not None and len(got) == 15 and got == tuple(sorted(D)[:15])


def test_make_committee_sorts_keys_per_chain_and_refuses_shared_keys() -> None:
    ms = members(*D[:4])
    c = cm.make_committee(2, [D[3], D[0], D[2], D[1]], ms, SORTERS, PARAMS, 50, "epoch")
    assert c.members == tuple(D[:4]) and (c.m, c.n) == (3, 4)
    assert c.keys["eth"] == tuple(sorted(d[:20] for d in D[:4]))
    ms[D[1]] = replace(ms[D[1]], keys=ms[D[0]].keys)
    with pytest.raises(CustodyError):
        cm.make_committee(2, D[:4], ms, SORTERS, PARAMS, 50, "epoch")


def committee(ds: tuple[bytes, ...], epoch: int = 0) -> Committee:
    return cm.make_committee(epoch, ds, members(*ds), SORTERS, PARAMS, 0, "genesis")


def make(ds: tuple[bytes, ...], reason: str) -> Committee:
    return cm.make_committee(1, ds, members(*ds), SORTERS, PARAMS, 99, reason)


def test_epochs_change_only_at_boundaries_or_after_a_slash() -> None:
    p = replace(PARAMS, epoch_rounds=10)
    cur = committee(tuple(D[:4]))
    new = tuple(D[1:5])
    assert cm.next_epoch(cur, 7, None, False, new, make, p).why == "not_due"
    change = cm.next_epoch(cur, 10, None, False, new, make, p)
    assert change.committee is not None and change.committee.members == new
    assert change.committee.reason == "epoch"
    slashed = cm.next_epoch(cur, 7, "slashed_member", False, new, make, p)
    assert slashed.committee is not None and slashed.committee.reason == "slashed_member"
    assert cm.next_epoch(cur, 10, None, False, tuple(D[:4]), make, p).why == "unchanged"
    assert cm.next_epoch(cur, 10, None, False, None, make, p).why == "too_few"
    assert cm.next_epoch(cur, 10, None, True, new, make, p).why == "rotation_in_progress"


def test_coalition_bond_is_the_m_smallest_unslashed_bonds() -> None:
    ds = tuple(D[:4])
    ms = {d: member(d, bond=b) for d, b in zip(ds, (50, 10, 40, 30), strict=True)}
    c = committee(ds)
    assert cm.coalition_bond(c, ms) == 10 + 30 + 40
    ms[D[0]] = member(D[0], bond=50, slashed=True)  # a slashed bond is gone: counts 0
    assert cm.coalition_bond(c, ms) == 0 + 10 + 30


def test_vault_statuses_never_skip_or_go_back() -> None:
    assert cm.vault_step(VaultStatus.PENDING, VaultStatus.ACTIVE) is VaultStatus.ACTIVE
    assert cm.vault_step(VaultStatus.ACTIVE, VaultStatus.RETIRING) is VaultStatus.RETIRING
    for old, new in [(VaultStatus.PENDING, VaultStatus.RETIRED),
                     (VaultStatus.RETIRED, VaultStatus.ACTIVE),
                     (VaultStatus.RETIRING, VaultStatus.ACTIVE)]:  # fmt: skip
        with pytest.raises(CustodyError) as exc:
            cm.vault_step(old, new)
        assert exc.value.reason == "bad_transition"
    assert cm.rotation_statuses(CustodyModel.UTXO) == (VaultStatus.ACTIVE, VaultStatus.RETIRING)
    assert cm.rotation_statuses(CustodyModel.ACCOUNT) == (VaultStatus.PENDING, VaultStatus.ACTIVE)


def test_genesis_committee_is_ranked_by_key_and_refused_when_too_small() -> None:
    ms = members(*D[:5])
    c = cm.genesis_committee(ms, {d: 0 for d in D[:5]}, 4, SORTERS, PARAMS)
    assert c.epoch == 0 and c.members == tuple(D[:4]) and c.reason == "genesis"
    with pytest.raises(ConfigError, match="forms no committee"):
        cm.genesis_committee(members(*D[:3]), {d: 0 for d in D[:3]}, 4, SORTERS, PARAMS)
    assert CustodyParams(DOMAIN, ("btc",)).max_committee == 15
