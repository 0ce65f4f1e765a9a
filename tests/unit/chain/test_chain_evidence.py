"""Double forging found by the chain itself, the evidence API, and the slashing tx that lands on
its own; the network id in the signed header keeps other networks' signatures out, and the genesis
id in the signing root (the signing domain) other chains' signatures of the same network."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from conftest import DevChain, addr

from etm_bridge.chain.address import address_hash
from etm_bridge.chain.block import Block, BlockHeader
from etm_bridge.chain.codec import sha256
from etm_bridge.chain.evidence import DoubleForgingEvidence, EvidencePool
from etm_bridge.chain.genesis import dev_genesis, genesis_block
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.tx_slash import DOUBLE_FORGING_PROOF
from etm_bridge.errors import (
    BlockRejectedError,
    EvidenceRejectedError,
    TxRejectedError,
    ValidationError,
)
from etm_bridge.store import ChainStore


def _twin_header(dev: DevChain, h: BlockHeader, **changes: Any) -> BlockHeader:
    """Another header of ``h``'s generator for ``h``'s slot (what a second machine would sign)."""
    key = dev.keys[h.generator_public_key]
    draft = replace(h, **{"nonce": 0, **changes}).solve(dev.params.hash_target)
    return draft.signed(key, dev.chain.genesis_id)


def _funded_round(dev: DevChain) -> None:
    """One round so every delegate forged once (a reporter pays the slashing tx's fee)."""
    for _ in range(dev.params.delegates_per_round):
        dev.forge()


def test_a_second_block_for_a_slot_becomes_evidence_and_the_slash_lands_on_its_own(
    dev: DevChain,
) -> None:
    _funded_round(dev)
    observer = Chain(ChainStore.memory(), dev.cfg)  # another node, it forges nothing
    for h in range(1, dev.chain.tip.height + 1):
        observer.apply_block(dev.chain.block_by_height(h))
    x = dev.forge()
    offender = x.header.generator_public_key
    assert observer.apply_block(x) and observer.pending_evidence() == []
    y = Block(_twin_header(dev, x.header, nonce=x.header.nonce + 1), x.transactions)
    assert y.id != x.id
    assert observer.apply_block(y)  # valid: kept as a side block (equal length keeps x) ...
    assert observer.tip.block_id == x.id
    [seen] = observer.evidence_to_slash()  # ... and evidence against its generator
    assert seen.offender == offender and {seen.first.id, seen.second.id} == {x.id, y.id}
    assert observer.pending_evidence() == [(seen.first.encoded, seen.second.encoded)]
    # the node that forged x gets another block for x's slot, on a parent it does not know
    other = Block(_twin_header(dev, x.header, previous_block=sha256(b"elsewhere")))
    with pytest.raises(BlockRejectedError) as info:
        dev.chain.apply_block(other)  # rejected, but validly signed: still evidence
    assert info.value.reason == "unknown_parent"
    [ev] = dev.chain.evidence_to_slash()
    assert ev.offender == offender and {ev.first.id, ev.second.id} == {x.id, other.id}
    assert dev.chain.status()["pendingEvidence"] == 1
    deposit = dev.params.delegate_deposit
    supply0 = dev.chain.store_view().supply()
    block = dev.forge()  # the next forger includes the slashing tx, signed by its own key
    reporter = block.header.generator_public_key
    assert reporter != offender
    [tx] = [t for t in block.transactions if t.type_id == DOUBLE_FORGING_PROOF]
    assert tx.sender_public_key == reporter
    slashed = {d.public_key: d for d in dev.chain.delegates()}[offender]
    assert slashed.slashed and slashed.deposit == 0
    burnt = deposit - deposit // 10
    assert dev.chain.store_view().supply() == supply0 - burnt + dev.params.block_reward
    assert dev.chain.pending_evidence() == []  # slashed: nothing left to gossip
    assert dev.forge().transactions == ()  # and nobody includes it again


def test_note_evidence_validates_and_deduplicates(dev: DevChain) -> None:
    _funded_round(dev)
    x = dev.forge().header
    y = _twin_header(dev, x, total_fee=x.total_fee + 1)
    chain = dev.chain
    assert chain.note_evidence(x, y) is True
    assert chain.note_evidence(y, x) is False  # the same pair, either order
    assert [e.id for e in chain.evidence_to_slash()] == [DoubleForgingEvidence.of(x, y).id]
    [(first, second)] = chain.pending_evidence()  # the gossip form: encoded headers
    assert DoubleForgingEvidence.decode(first + second) == DoubleForgingEvidence.of(x, y)
    assert chain.report_double_forging(second, first) is False  # bytes in, the peer layer's name
    with pytest.raises(ValidationError, match="block header"):
        chain.note_evidence(first[:-1], second)
    other_key = next(k for k in dev.keys if k != x.generator_public_key)
    cases = {
        "same block": (x, x, "not_double_forging"),
        "other generator": (x, _twin_header(dev, x, generator_public_key=other_key),
                            "not_double_forging"),
        "other slot": (x, _twin_header(dev, x, timestamp=x.timestamp + 5), "not_double_forging"),
        "bad signature": (x, replace(y, block_signature=bytes(64)), "bad_signature"),
        "other network": (x, _twin_header(dev, x, network=dev.params.network_id + 1),
                          "wrong_network"),
    }  # fmt: skip
    for name, (a, b, reason) in cases.items():
        with pytest.raises(EvidenceRejectedError) as info:
            chain.note_evidence(a, b)
        assert info.value.reason == reason, name
    stranger = dev_key("not-a-delegate")
    s1 = replace(x, generator_public_key=stranger.public_key).signed(stranger, chain.genesis_id)
    s2 = replace(s1, nonce=s1.nonce + 1).signed(stranger, chain.genesis_id)
    assert chain.note_evidence(s1, s2) is False  # not a delegate here: worthless, not kept
    assert len(chain.pending_evidence()) == 1


def test_a_key_reused_on_another_network_gives_no_evidence_here(dev: DevChain) -> None:
    """Two headers the same key signed for network B (a legitimate chain elsewhere) are not
    slashable on network A: neither as gossiped evidence nor as a slashing transaction."""
    _funded_round(dev)
    x = dev.forge().header
    net_b = dev.params.network_id + 1
    b1 = _twin_header(dev, x, network=net_b)
    b2 = _twin_header(dev, x, network=net_b, total_fee=x.total_fee + 7)
    with pytest.raises(EvidenceRejectedError) as info:
        dev.chain.note_evidence(b1, b2)
    assert info.value.reason == "wrong_network"
    reporter = dev.users[0]
    with pytest.raises(TxRejectedError) as tx_info:
        dev.chain.submit_tx(dev.tx(reporter, DOUBLE_FORGING_PROOF, b1.encoded + b2.encoded))
    assert tx_info.value.reason == "wrong_network"
    with pytest.raises(BlockRejectedError) as block_info:  # nor is such a header a block here
        Chain(ChainStore.memory(), dev.cfg).apply_block(Block(b1))
    assert block_info.value.reason in {"wrong_network", "unknown_parent"}
    assert dev.chain.pending_evidence() == []


def test_a_header_signed_for_another_genesis_is_neither_evidence_nor_a_block(
    dev: DevChain,
) -> None:
    """The attack (docs/security.md, "slash a key through another chain"): every ``node init``
    chain shares the network id and the development keys, so a delegate of this chain (A) also
    signs headers on chain B, another genesis with the same network id. The attacker takes the
    header the key signed on B for the slot of its block on A and hands the pair in here. The
    signing domain (the genesis id in the signing root) makes B's header no valid signature on
    A: refused as evidence (gossip), as a slashing tx and as a block; the same pair signed for
    A's genesis is evidence (the control)."""
    _funded_round(dev)
    other_cfg, _ = dev_genesis(dev.params, len(dev.cfg.delegates), funded=4)  # chain B
    genesis_b = genesis_block(other_cfg).id
    assert other_cfg.params.network_id == dev.params.network_id
    assert genesis_b != dev.chain.genesis_id
    x = dev.forge()
    key = dev.keys[x.header.generator_public_key]
    on_b = replace(x.header, total_fee=x.header.total_fee + 7, nonce=0)
    on_b = on_b.solve(dev.params.hash_target).signed(key, genesis_b)  # what the key signed on B
    assert on_b.signature_ok(genesis_b) and not on_b.signature_ok(dev.chain.genesis_id)
    with pytest.raises(EvidenceRejectedError) as info:
        dev.chain.note_evidence(x.header, on_b)
    assert info.value.reason == "bad_signature"
    with pytest.raises(TxRejectedError) as tx_info:
        dev.chain.submit_tx(dev.tx(dev.users[0], DOUBLE_FORGING_PROOF,
                                   x.header.encoded + on_b.encoded))  # fmt: skip
    assert tx_info.value.reason == "bad_signature"
    twin = Chain(ChainStore.memory(), dev.cfg)  # a node of A one block behind: B's header as x
    for h in range(1, x.height):
        twin.apply_block(dev.chain.block_by_height(h))
    for header in (on_b, x.header.signed(key, genesis_b)):  # B's header; x itself signed for B
        with pytest.raises(BlockRejectedError) as block_info:
            twin.apply_block(Block(header, x.transactions))
        assert block_info.value.reason == "bad_signature"
    assert twin.apply_block(x) and dev.chain.pending_evidence() == twin.pending_evidence() == []
    # the control: the same second header signed for A's own genesis is double forging here
    on_a = _twin_header(dev, x.header, total_fee=x.header.total_fee + 7)
    assert dev.chain.note_evidence(x.header, on_a)


def test_a_forger_that_cannot_pay_the_fee_skips_the_slashing_tx(make_dev_chain: Any) -> None:
    dev = make_dev_chain(n_delegates=3, per_round=3)
    x = dev.forge()  # the first forger; the others have no balance yet
    y = _twin_header(dev, x.header, total_fee=x.header.total_fee + 1)
    assert dev.chain.note_evidence(x.header, y)
    block = dev.forge()
    assert all(t.type_id != DOUBLE_FORGING_PROOF for t in block.transactions)
    assert len(dev.chain.pending_evidence()) == 1  # kept until someone can include it
    balance = dev.chain.account(address_hash(block.header.generator_public_key)).balance
    assert balance == dev.params.block_reward


def test_evidence_pool_is_bounded_one_per_offender() -> None:
    pool = EvidencePool(capacity=2)
    headers = []
    for i in range(3):
        key = dev_key(f"offender-{i}")
        h = BlockHeader(2, 1, 0, 1, bytes(32), 0, 0, 0, 0, 0, bytes(32), key.public_key)
        headers.append((h.signed(key, bytes(32)), replace(h, nonce=1).signed(key, bytes(32))))
    assert pool.add(DoubleForgingEvidence.of(*headers[0]))
    assert not pool.add(DoubleForgingEvidence.of(headers[0][0], replace(headers[0][1], nonce=2)))
    assert pool.add(DoubleForgingEvidence.of(*headers[1]))
    assert pool.add(DoubleForgingEvidence.of(*headers[2]))
    assert len(pool) == 2 and [e.offender for e in pool.all()] == [
        headers[1][0].generator_public_key, headers[2][0].generator_public_key]  # fmt: skip


def test_reporter_is_paid_the_finders_share(dev: DevChain) -> None:
    _funded_round(dev)
    x = dev.forge().header
    assert dev.chain.note_evidence(x, _twin_header(dev, x, total_fee=x.total_fee + 1))
    before = {k: dev.chain.account(address_hash(k)).balance for k in dev.keys}
    block = dev.forge()
    reporter = block.header.generator_public_key
    [tx] = block.transactions
    gain = dev.chain.account(address_hash(reporter)).balance - before[reporter]
    deposit = dev.params.delegate_deposit
    assert gain == deposit // 10 + dev.params.block_reward  # the fee goes back to itself
    assert tx.fee > 0 and addr(dev.users[0]) != address_hash(reporter)
