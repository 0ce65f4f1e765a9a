"""Chain behaviour: forging order, rounds and elections, rewards, slashing, replay, forks."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import DevChain, addr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etm_bridge.chain import vrf
from etm_bridge.chain.address import address_hash
from etm_bridge.chain.block import Block
from etm_bridge.chain.consensus import elect, forging_order
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.rounds import randao_seed, round_order
from etm_bridge.chain.state import ACCOUNTS, ESCROW
from etm_bridge.chain.tx_delegates import DELEGATE_REGISTER, VOTE
from etm_bridge.chain.tx_slash import DOUBLE_FORGING_PROOF
from etm_bridge.errors import BlockRejectedError, TxRejectedError
from etm_bridge.store import ChainStore


def _supply_holds(chain: Chain) -> int:
    view = chain.store_view()
    balances = sum(int.from_bytes(v[:8], "big") for _, v in view.scan(ACCOUNTS))
    escrows = sum(int.from_bytes(v, "big") for _, v in view.scan(ESCROW))
    assert balances + escrows == view.supply()
    return view.supply()


def test_blocks_follow_the_round_order_slot_by_slot(dev: DevChain) -> None:
    for _ in range(7):
        block = dev.forge()
        view = dev.chain.store_view()
        order = round_order(view, dev.params.round_of(block.height))
        slot = dev.params.slot_of(block.header.timestamp)
        assert block.header.generator_public_key == order[slot % len(order)]


def test_forge_next_only_for_own_slot_and_new_slot(dev: DevChain) -> None:
    dev.forge()
    assert dev.chain.forge_next(dev.now, dev.keys) is None  # same slot again
    assert dev.chain.forge_next(dev.now + 1, {}) is None  # not our key


def test_next_round_order_is_shuffled_from_the_rounds_reveals(dev: DevChain) -> None:
    per_round = dev.params.delegates_per_round
    blocks = [dev.forge() for _ in range(per_round)]
    seed = randao_seed(dev.chain.block_by_height(0).id,
                       [vrf.proof_to_hash(b.header.reveal) for b in blocks])  # fmt: skip
    weights = {d.public_key: 0 for d in dev.cfg.delegates}
    expected = forging_order(seed, elect(weights, per_round, set()))
    assert round_order(dev.chain.store_view(), 2) == expected


def test_votes_elect_a_delegate_and_tribunals_are_paid(dev: DevChain) -> None:
    order1 = set(dev.chain.round_order())
    outsider = next(d.public_key for d in dev.cfg.delegates if d.public_key not in order1)
    voter = dev.users[0]
    dev.chain.submit_tx(dev.tx(voter, VOTE, outsider))
    supply0 = _supply_holds(dev.chain)
    for _ in range(dev.params.delegates_per_round):
        dev.forge()
    # weights recorded at this close elect at the next one (rounds.py: the election lags a round)
    assert outsider not in dev.chain.round_order()
    reward = dev.params.round_voter_reward
    forged_reward = dev.params.block_reward * dev.params.delegates_per_round
    assert _supply_holds(dev.chain) == supply0 + forged_reward + reward
    for _ in range(dev.params.delegates_per_round):
        dev.forge()
    assert outsider in dev.chain.round_order()
    info = dev.chain.account(addr(voter))
    assert info.votes == (outsider,)
    top = dev.chain.delegates()[0]
    assert top.public_key == outsider and top.weight > 0 and top.in_round


def test_a_delegate_that_missed_its_slot_is_not_reelected(make_dev_chain: Any) -> None:
    dev = make_dev_chain(n_delegates=4, per_round=3)
    absent = dev.chain.round_order()[0]
    present = {k: v for k, v in dev.keys.items() if k != absent}
    for _ in range(dev.params.delegates_per_round):
        dev.forge(present)
    assert absent not in dev.chain.round_order()
    assert len(dev.chain.round_order()) == 3


def test_delegate_registration_locks_the_deposit(dev: DevChain) -> None:
    user = dev.users[1]
    before = dev.chain.account(addr(user)).balance
    escrow0 = dev.chain.store_view().escrow_total("delegate_deposits")
    dev.chain.submit_tx(dev.tx(user, DELEGATE_REGISTER, b"\x05alice"))
    dev.forge()
    info = dev.chain.account(addr(user))
    assert info.delegate is not None and info.delegate["name"] == "alice"
    assert info.balance == before - dev.params.delegate_deposit - 100_000
    escrow = dev.chain.store_view().escrow_total("delegate_deposits")
    assert escrow == escrow0 + dev.params.delegate_deposit


def _double_sign(dev: DevChain, block: Block) -> Block:
    from dataclasses import replace

    key = dev.keys[block.header.generator_public_key]
    other = replace(block.header, total_fee=block.header.total_fee, nonce=block.header.nonce + 1)
    return Block(other.solve_and_sign(key, 2**256, dev.chain.genesis_id))


def test_double_forging_proof_slashes_the_deposit(dev: DevChain) -> None:
    block = dev.forge()
    evil = block.header.generator_public_key
    proof = block.header.encoded + _double_sign(dev, block).header.encoded
    reporter = dev.users[2]
    supply0 = _supply_holds(dev.chain)
    dev.chain.submit_tx(dev.tx(reporter, DOUBLE_FORGING_PROOF, proof))
    before = dev.chain.account(addr(reporter)).balance
    dev.forge()
    deposit = dev.params.delegate_deposit
    assert dev.chain.account(addr(reporter)).balance == before + deposit // 10 - 100_000
    assert _supply_holds(dev.chain) == supply0 - (deposit - deposit // 10) + dev.params.block_reward
    slashed = {d.public_key: d for d in dev.chain.delegates()}[evil]
    assert slashed.slashed and slashed.deposit == 0
    with pytest.raises(TxRejectedError) as info:
        dev.chain.submit_tx(dev.tx(reporter, DOUBLE_FORGING_PROOF, proof))
    assert info.value.reason == "already_slashed"
    for _ in range(dev.params.delegates_per_round):
        dev.forge()
    assert evil not in dev.chain.round_order()


def test_same_header_twice_is_not_a_proof(dev: DevChain) -> None:
    block = dev.forge()
    with pytest.raises(TxRejectedError) as info:
        dev.chain.submit_tx(dev.tx(dev.users[0], DOUBLE_FORGING_PROOF, block.header.encoded * 2))
    assert info.value.reason == "not_double_forging"


def _run(dev: DevChain, blocks: int) -> list[Block]:
    out = []
    for i in range(blocks):
        sender, recipient = dev.users[i % 5], dev.users[(i + 1) % 5]
        dev.chain.submit_tx(dev.transfer(sender, addr(recipient), 1_000 + i))
        if i % 4 == 0:
            dev.chain.submit_tx(dev.tx(dev.users[(i + 2) % 5], VOTE,
                                       dev.cfg.delegates[i % 4].public_key))  # fmt: skip
        out.append(dev.forge())
    return out


def test_replay_from_genesis_gives_the_same_digest_at_every_height(dev: DevChain) -> None:
    blocks = _run(dev, 12)
    replay = Chain(ChainStore.memory(), dev.cfg)
    for b in blocks:
        replay.apply_block(Block.decode(b.encoded))
        assert replay.store.digest_at(b.height) == dev.chain.store.digest_at(b.height)
    assert replay.store.full_state_digest() == dev.chain.store.full_state_digest()


def test_longest_chain_wins_and_reorg_is_atomic(make_dev_chain: Any) -> None:
    dev = make_dev_chain(n_delegates=3, per_round=3)
    a = Chain(ChainStore.memory(), dev.cfg)
    common = dev.forge()
    a.apply_block(common)
    # branch A: one block at the next slot; branch B (dev): skip a slot, then two blocks
    saved_now = dev.now
    a_block = a.forge_next(saved_now + 1, dev.keys)
    assert a_block is not None
    dev.now = saved_now + 1
    b1, b2 = dev.forge(), dev.forge()
    if b1.id == a_block.id:
        pytest.skip("branches coincided")
    assert a.apply_block(b1) is True and a.tip.block_id == a_block.id  # equal length: keep ours
    assert a.apply_block(b2) is True and a.tip.block_id == b2.id  # longer: reorg
    assert a.store.full_state_digest() == dev.chain.store.full_state_digest()


def test_unknown_parent_is_rejected(dev: DevChain) -> None:
    first, second = dev.forge(), dev.forge()
    fresh = Chain(ChainStore.memory(), dev.cfg)
    with pytest.raises(BlockRejectedError) as info:
        fresh.apply_block(second)
    assert info.value.reason == "unknown_parent"
    assert fresh.apply_block(first)


def test_finality_needs_two_thirds_of_distinct_delegates(dev: DevChain) -> None:
    assert dev.chain.finalized_height() == 0
    for _ in range(9):
        dev.forge()
    assert 0 < dev.chain.finalized_height() < dev.chain.tip.height


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(1, 10**14),
                          st.booleans()), min_size=1, max_size=25))  # fmt: skip
def test_total_supply_is_conserved(
    make_dev_chain: Any, ops: list[tuple[int, int, int, bool]]
) -> None:
    dev = make_dev_chain()
    minted = _supply_holds(dev.chain)
    for sender, recipient, amount, forge in ops:
        try:
            dev.chain.submit_tx(dev.transfer(dev.users[sender], addr(dev.users[recipient]), amount))
        except TxRejectedError:
            dev.nonces[dev.users[sender].public_key] -= 1
        if forge:
            dev.forge()
            minted += dev.params.block_reward
            if dev.params.is_round_end(dev.chain.tip.height) and dev.chain.store_view().scan(
                "votes"
            ):
                minted += dev.params.round_voter_reward
    assert _supply_holds(dev.chain) == minted
    assert address_hash(dev.users[0].public_key) == addr(dev.users[0])


def test_invalid_longer_branch_rolls_back_the_whole_reorg(make_dev_chain: Any) -> None:
    from dataclasses import replace

    dev = make_dev_chain(n_delegates=3, per_round=3)
    a = Chain(ChainStore.memory(), dev.cfg)
    a.apply_block(dev.forge())
    start = dev.now
    a_block = a.forge_next(start + 1, dev.keys)
    assert a_block is not None
    before = (a.status(), a.store.full_state_digest())
    dev.now = start + 1
    b1, b2 = dev.forge(), dev.forge()
    if b1.id == a_block.id:
        pytest.skip("branches coincided")
    a.apply_block(b1)
    bad = Block(replace(b2.header, block_signature=bytes(64)), b2.transactions)
    with pytest.raises(BlockRejectedError) as info:
        a.apply_block(bad)
    assert info.value.reason == "bad_signature"
    assert (a.status(), a.store.full_state_digest()) == before


def test_a_store_of_another_chain_is_refused(dev: DevChain) -> None:
    from etm_bridge.chain.genesis import dev_genesis
    from etm_bridge.chain.params import ChainParams
    from etm_bridge.errors import ConfigError

    other, _ = dev_genesis(ChainParams(block_time_s=2), 4)
    with pytest.raises(ConfigError, match="genesis id mismatch"):
        Chain(dev.chain.store, other)
    assert Chain(dev.chain.store, dev.cfg).tip.height == 0  # reopening the same chain works


def test_status_and_json_views(dev: DevChain) -> None:
    dev.chain.submit_tx(dev.transfer(dev.users[0], addr(dev.users[1]), 5))
    pending_id = dev.chain.mempool.pending()[0].id
    assert dev.chain.tx_by_id(pending_id)[1] == -1
    block = dev.forge()
    tx, height = dev.chain.tx_by_id(pending_id)
    assert height == block.height and tx.id == pending_id
    assert dev.chain.block_by_short_id(block.to_json()["id"]) == block
    assert dev.chain.block_by_id(block.id) == block
    assert [b.height for b in dev.chain.latest_blocks(5)] == [1, 0]
    status = dev.chain.status()
    assert status["height"] == 1 and status["stateDigest"] == dev.chain.store.digest_at(1).hex()
    j = dev.chain.registry.tx_json(tx)
    assert j["typeName"] == "transfer" and j["asset"]["amount"] == 5
    assert j["asset"]["recipient"].startswith("etm1")


def test_fork_below_the_finalized_height_is_refused(make_dev_chain: Any) -> None:
    dev = make_dev_chain(n_delegates=3, per_round=3)
    first = dev.forge()
    twin = Chain(ChainStore.memory(), dev.cfg)
    twin.apply_block(first)
    for _ in range(6):
        dev.forge()
    final = dev.chain.finalized_height()
    assert final >= 2
    rival = None
    for t in range(dev.now + 1, dev.now + 20):  # a later slot than every block of dev
        rival = twin.forge_next(t, dev.keys)
        if rival is not None:
            break
    assert rival is not None and rival.height == 2
    with pytest.raises(BlockRejectedError) as info:
        dev.chain.apply_block(rival)
    assert info.value.reason == "below_finality"
