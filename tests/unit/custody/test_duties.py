"""The signer's "headers" and "prove" duties (design-14 section 5.2, ``custody/duties.py``):
when a mandate's spend is deep enough on the signer's own node, whether ETM's relay must be fed
first, and that nothing is proven twice by one signer nor before the relay policy's depth."""

from __future__ import annotations

import pytest

from etm_bridge.custody.duties import (
    ChainView,
    ProveOutcome,
    RelayHeaders,
    SignerView,
    SpendSighting,
    decide,
    deep_spends,
    rank,
)
from etm_bridge.spv.relay_policy import RelayPolicy

pytestmark = pytest.mark.unit

MID, MID2 = b"\x01" * 32, b"\x02" * 32
TXID, TXID2 = b"\xa1" * 32, b"\xa2" * 32
THREE = RelayPolicy(3)


def seen(height: int | None, relayed: bool = True, mid: bytes = MID, txid: bytes = TXID,
         rev: int = 0, moved: int = 100_000) -> SpendSighting:  # fmt: skip
    return SpendSighting("btc", mid, rev, txid, height, moved, relayed)


def view(
    *sightings: SpendSighting,
    tip: int = 110,
    relay: int | None = 110,
    policy: RelayPolicy = THREE,
    pending: frozenset[bytes] = frozenset(),
) -> SignerView:
    return SignerView({"btc": ChainView(tip, relay, policy)}, sightings, pending)


def test_a_spend_deep_enough_and_relayed_is_proven() -> None:
    assert decide(view(seen(108))) == [ProveOutcome("btc", MID, 0, TXID, 108)]


def test_a_spend_short_of_the_policy_depth_on_our_node_waits() -> None:
    """A signer whose Bitcoin node is behind (or a spend just mined): no proof, no relay; the
    302 would be refused ``insufficient-confirmations`` and cost a fee."""
    assert decide(view(seen(109))) == []
    assert decide(view(seen(None))) == []  # mempool, or a node that has not seen it
    assert decide(view(seen(108), tip=109)) == []  # our node is behind the others


def test_the_value_scaled_depth_is_the_one_asked() -> None:
    scaled = RelayPolicy(1, attacker_share="0.1", loss_budget=1_000)
    need = scaled.required_depth(10**8)
    assert need > 3
    assert decide(view(seen(110 - need + 2, moved=10**8), policy=scaled)) == []
    deep = seen(110 - need + 1, moved=10**8)
    assert decide(view(deep, policy=scaled)) == [
        ProveOutcome("btc", MID, 0, TXID, deep.height or 0)
    ]


def test_headers_etm_lacks_are_relayed_first() -> None:
    """A spend mined and deep on our node, the relay short of the depth: relay, then prove."""
    assert decide(view(seen(108), relay=105)) == [
        RelayHeaders("btc", 110),
        ProveOutcome("btc", MID, 0, TXID, 108),
    ]
    assert decide(view(seen(108), relay=None))[0] == RelayHeaders("btc", 110)


def test_a_relay_on_another_branch_is_fed_even_at_a_higher_tip() -> None:
    assert decide(view(seen(108, relayed=False), relay=120))[0] == RelayHeaders("btc", 110)


def test_one_relay_per_chain_up_to_the_highest_need_and_proofs_after() -> None:
    out = decide(view(seen(105, relayed=False), seen(108, mid=MID2, txid=TXID2), relay=100))
    assert out == [RelayHeaders("btc", 110), ProveOutcome("btc", MID, 0, TXID, 105),
                   ProveOutcome("btc", MID2, 0, TXID2, 108)]  # fmt: skip


def test_a_mandate_with_our_proof_in_flight_gets_nothing() -> None:
    assert decide(view(seen(100), pending=frozenset({MID}))) == []


def test_one_proof_per_mandate_and_unknown_chains_are_ignored() -> None:
    two_revs = view(seen(100), seen(101, txid=TXID2, rev=1))
    assert decide(two_revs) == [ProveOutcome("btc", MID, 0, TXID, 100)]
    other = SpendSighting("eth", MID2, 0, TXID2, 100, 1, True)
    assert decide(view(other)) == []


KEYS = tuple(bytes([2, i]) + bytes(31) for i in range(4))


def turn_view(me: bytes, now: float, since: float | None, tip: int = 110) -> SignerView:
    chain = ChainView(tip, 110, THREE, KEYS, me)
    deep = {} if since is None else {TXID: since}
    return SignerView({"btc": chain}, (seen(108),), frozenset(), now, deep, 10.0)


def test_the_members_take_turns_per_spend_so_honest_signers_do_not_race() -> None:
    """A 302 race among signers: every member sees the spend deep at once; if all proved (and
    relayed) at once, their nodes would refuse each other's gossiped losers and penalize the
    peers that relayed them. The spend's first member acts at once, the r-th after r graces."""
    order = sorted(KEYS, key=lambda k: rank(KEYS, k, TXID))
    assert [rank(KEYS, k, TXID) for k in order] == [0, 1, 2, 3]
    first, second, last = order[0], order[1], order[3]
    assert decide(turn_view(first, 100.0, None)) == [ProveOutcome("btc", MID, 0, TXID, 108)]
    assert decide(turn_view(second, 100.0, None)) == []  # first seen deep now: wait
    assert decide(turn_view(second, 109.9, 100.0)) == []
    assert decide(turn_view(second, 110.0, 100.0)) == [ProveOutcome("btc", MID, 0, TXID, 108)]
    assert decide(turn_view(last, 129.0, 100.0)) == []
    assert decide(turn_view(last, 130.0, 100.0)) != []
    stranger = b"\x03" * 33  # not a member: after every member
    assert rank(KEYS, stranger, TXID) == 4
    assert decide(turn_view(stranger, 139.0, 100.0)) == []


def test_the_first_member_differs_between_spends() -> None:
    firsts = {min(KEYS, key=lambda k: rank(KEYS, k, bytes([i]) * 32)) for i in range(32)}
    assert len(firsts) > 1  # nobody is always first (nor always spared)


def test_a_spend_not_deep_records_no_turn() -> None:
    assert deep_spends(turn_view(KEYS[0], 0.0, None)) == {TXID}
    assert deep_spends(turn_view(KEYS[0], 0.0, None, tip=109)) == set()
