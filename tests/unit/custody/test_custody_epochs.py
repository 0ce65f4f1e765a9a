"""Committees and epochs formed by the custody round hook on a real ledger (design-14 1.2-1.3):
the first committee forms at the first round close with enough registered members; an epoch
boundary with the same selection changes nothing; a delegate voted into the elected set that
registered takes its seat at the next boundary; a node replaying the blocks agrees."""

from __future__ import annotations

import pytest
from custody_world import DOMAIN
from test_custody_txtypes import World

from etm_bridge.chain.codec import U32
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.tx_delegates import VOTE
from etm_bridge.custody import plans
from etm_bridge.custody import records as cr
from etm_bridge.store import ChainStore

pytestmark = pytest.mark.unit

SECTION = {"domain": DOMAIN.hex(), "chains": ["btc", "eth"], "min_bond": 1_000,
           "min_committee": 3, "max_committee": 3, "epoch_rounds": 4}  # fmt: skip


def committee(w: World) -> cr.Committee | None:
    view = w.chain.store_view()
    epoch = plans.current_epoch(view)
    if epoch is None:
        return None
    return cr.decode(cr.Committee, view.get_json(cr.EPOCHS, U32.pack(epoch)))


def forge_rounds(w: World, rounds: int) -> None:
    end = w.chain.tip.height + rounds * w.params.delegates_per_round
    while w.chain.tip.height < end:
        w.forge()


def test_first_committee_epochs_and_a_new_member() -> None:
    w = World(section=SECTION, n_delegates=4, per_round=3)
    ranked_by_key = sorted(w.delegates, key=lambda d: d.pk)
    first_three, fourth = ranked_by_key[:3], ranked_by_key[3]
    for d in first_three[:2]:
        w.register(d, bond=2_000)
    forge_rounds(w, 2)
    assert committee(w) is None  # two registered: fewer than min_committee
    w.register(first_three[2], bond=2_000)
    w.register(fourth, bond=2_000)
    forge_rounds(w, 2)
    c = committee(w)
    assert c is not None and c.epoch == 0 and c.reason == "first"
    assert c.members == tuple(sorted(d.pk for d in first_three)) and (c.m, c.n) == (3, 3)
    assert c.keys["btc"] == tuple(sorted(d.custody["btc"] for d in first_three))
    forge_rounds(w, 4)  # a boundary passes with the same selection: no new epoch
    assert committee(w).epoch == 0  # type: ignore[union-attr]
    # a voter backs the fourth delegate: it enters the elected top 3 and takes a seat
    voter = dev_key("user-1")
    w.send(voter, VOTE, fourth.pk)
    forge_rounds(w, 7)
    c = committee(w)
    assert c is not None and c.epoch == 1 and c.reason == "epoch"
    assert fourth.pk in c.members and len(c.members) == 3
    # a second node replaying the blocks reaches the same state
    other = Chain(ChainStore.memory(), w.cfg)
    for height in range(1, w.chain.tip.height + 1):
        block = w.chain.store.block_at(height)
        assert other.apply_block(block, block.header.timestamp)
    tip = w.chain.tip.height
    assert other.store.digest_at(tip) == w.chain.store.digest_at(tip)
