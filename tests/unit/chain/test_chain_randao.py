"""An order nobody can steer: the round-closing forger's grinding attack, before and after RANDAO.

Old rule (baseline, reproduced here): the next round's order was ``forging_order(id of the round's
last block, elected)``; the last forger tries nonces (and timestamps, and transaction sets) until
the next order gives it what it wants, e.g. the next round-closing slot again, for ever.
New rule: the seed hashes every block's VRF output, which the forger cannot vary, and the
election ignores the closing block's transactions; only withholding the block is left
(docs/consensus.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import nacl.bindings as sodium
import pytest

from etm_bridge.chain import vrf
from etm_bridge.chain.address import address_hash
from etm_bridge.chain.block import Block, BlockHeader
from etm_bridge.chain.consensus import elect, forging_order
from etm_bridge.chain.genesis import dev_genesis, genesis_block
from etm_bridge.chain.keys import SigningKey, dev_key, verify
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.rounds import reveal_alpha, round_order
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_delegates import VOTE
from etm_bridge.errors import BlockRejectedError
from etm_bridge.store import ChainStore

PER_ROUND, DELEGATES, BLOCK_TIME = 5, 7, 10
PARAMS = ChainParams(block_time_s=BLOCK_TIME, delegates_per_round=PER_ROUND, tx_plugins=())


class Setup:
    """A chain one block before the end of round 1, and the round-closing forger's key."""

    def __init__(self) -> None:
        self.cfg, self.keys = dev_genesis(PARAMS, DELEGATES, funded=2)
        self.chain = Chain(ChainStore.memory(), self.cfg)
        self.blocks: list[Block] = []
        self.now = 0
        while len(self.blocks) < PER_ROUND - 1:
            self.now += BLOCK_TIME
            block = self.chain.forge_next(self.now, self.keys)
            if block is not None:
                self.blocks.append(block)
        self.now += BLOCK_TIME
        self.slot = PARAMS.slot_of(self.now)
        order = self.chain.round_order()
        self.attacker = self.keys[order[self.slot % len(order)]]
        #: without missed slots round 2 closes in slot ``slot + PER_ROUND``: its owner's position
        self.target_position = self.slot % PER_ROUND

    def twin(self) -> Chain:
        twin = Chain(ChainStore.memory(), self.cfg)
        for block in self.blocks:
            assert twin.apply_block(block)
        return twin

    def closing_block(self, twin: Chain) -> Block:
        block = twin.forge_next(self.now, {self.attacker.public_key: self.attacker})
        assert block is not None and PARAMS.is_round_end(block.height)
        return block


def _resigned(header: BlockHeader, key: SigningKey, **changes: Any) -> BlockHeader:
    return replace(header, **changes).solve(PARAMS.hash_target).signed(key, _genesis_id())


def _genesis_id() -> bytes:
    return genesis_block(dev_genesis(PARAMS, DELEGATES, funded=2)[0]).id


def _order_after(setup: Setup, block: Block) -> list[bytes]:
    twin = setup.twin()
    assert twin.apply_block(block)
    return round_order(twin.store_view(), 2)


def test_baseline_old_rule_the_last_forger_grinds_the_next_order_with_nonces() -> None:
    setup = Setup()
    honest = setup.closing_block(setup.twin()).header
    elected = elect({d.public_key: 0 for d in setup.cfg.delegates}, PER_ROUND, set())
    nonce, valid_headers, orders = honest.nonce, 0, set()
    while True:  # the attack: a valid header per nonce, keep the one whose order suits us
        nonce += 1
        header = replace(honest, nonce=nonce)
        if header.hash_value() >= PARAMS.hash_target:
            continue
        valid_headers += 1
        old_rule_order = forging_order(header.signed(setup.attacker, _genesis_id()).id, elected)
        orders.add(tuple(old_rule_order))
        if old_rule_order[setup.target_position] == setup.attacker.public_key:
            break  # the attacker closes round 2 too, and can do the same again then
        assert valid_headers < 200, "the old rule resisted 200 valid headers (1/5 chance each)"
    print(f"old rule: the chosen order after {valid_headers} valid headers ({nonce} nonces)")
    assert len(orders) > 1 or valid_headers == 1  # each valid nonce draws a fresh order
    # the ground header is a perfectly valid block: nothing tells it from the honest one
    assert setup.twin().apply_block(Block(header.signed(setup.attacker, _genesis_id())))


def test_new_rule_nonce_timestamp_and_transactions_do_not_change_the_next_order() -> None:
    setup = Setup()
    honest = setup.closing_block(setup.twin())
    key = setup.attacker
    variants = [honest]
    nonce = honest.header.nonce
    while len(variants) < 6:  # other valid nonces
        nonce += 1
        h = replace(honest.header, nonce=nonce)
        if h.hash_value() < PARAMS.hash_target:
            variants.append(Block(h.signed(key, _genesis_id())))
    for second in range(1, BLOCK_TIME):  # every other timestamp inside the attacker's slot
        ts = PARAMS.slot_time(setup.slot) + second
        variants.append(Block(_resigned(honest.header, key, timestamp=ts, nonce=0)))
    # a transaction set that would change the election: a vote for an outsider, in this block
    zero = {d.public_key: 0 for d in setup.cfg.delegates}
    outsider = next(k for k in zero if k not in elect(zero, PER_ROUND, set()))
    assert outsider in elect({**zero, outsider: 1}, PER_ROUND, set())  # counted, it would win
    voter = dev_key("user-0")
    twin = setup.twin()
    twin.submit_tx(Tx.create(voter, network=PARAMS.network_id, type_id=VOTE, nonce=0,
                             fee=100_000, payload=outsider))  # fmt: skip
    with_vote = setup.closing_block(twin)
    assert len(with_vote.transactions) == 1
    variants.append(with_vote)
    assert len({v.id for v in variants}) == len(variants)  # all different valid blocks
    orders = {tuple(_order_after(setup, v)) for v in variants}
    assert len(orders) == 1, "a variant of the closing block changed the next order"
    assert outsider not in orders.pop()  # the closing block's vote counts later
    assert twin.account(address_hash(voter.public_key)).votes == (outsider,)


def test_the_reveal_is_the_forgers_vrf_proof_for_the_round_and_nothing_else() -> None:
    setup = Setup()
    honest = setup.closing_block(setup.twin())
    key = setup.attacker
    other_round = vrf.prove(key.seed, reveal_alpha(PARAMS.network_id, 2))
    other_network = vrf.prove(key.seed, reveal_alpha(PARAMS.network_id + 1, 1))
    someone_else = vrf.prove(dev_key("not-the-forger").seed, reveal_alpha(PARAMS.network_id, 1))
    tampered = honest.header.reveal[:79] + bytes((honest.header.reveal[79] ^ 1,))
    for reveal in (other_round, other_network, someone_else, tampered, bytes(80)):
        bad = Block(_resigned(honest.header, key, nonce=0, reveal=reveal))
        with pytest.raises(BlockRejectedError) as info:
            setup.twin().apply_block(bad)
        assert info.value.reason == "bad_reveal"


def _nonstandard_ed25519_signature(key: SigningKey, message: bytes, r: int) -> bytes:
    """A valid ed25519 signature made with nonce ``r`` instead of RFC 8032's derived one."""
    q = 2**252 + 27742317777372353535851937790883648493
    h = bytearray(hashlib.sha512(key.seed).digest()[:32])
    h[0] &= 248
    h[31] = (h[31] & 127) | 64
    a = int.from_bytes(h, "little") % q
    big_r = sodium.crypto_scalarmult_ed25519_base_noclamp((r % q).to_bytes(32, "little"))
    k = int.from_bytes(hashlib.sha512(big_r + key.public_key + message).digest(), "little") % q
    return big_r + ((r + k * a) % q).to_bytes(32, "little")


def test_why_not_a_signature_reveal_a_signer_has_as_many_valid_signatures_as_it_likes() -> None:
    """The tempting design, an ed25519 signature over (network, round) as the reveal, can be
    ground: verification cannot tell an RFC 8032 nonce from any other."""
    key = dev_key("delegate-0")
    message = reveal_alpha(PARAMS.network_id, 2)
    signatures = {_nonstandard_ed25519_signature(key, message, r) for r in range(1, 21)}
    signatures.add(key.sign(message))
    assert len(signatures) == 21
    assert all(verify(key.public_key, message, s) for s in signatures)
    # whereas the VRF has one output per key and input
    assert vrf.verify(key.public_key, message, vrf.prove(key.seed, message)) is not None
