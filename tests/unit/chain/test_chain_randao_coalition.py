"""Two colluding forgers at a round's end steer the next order with their transactions.

The RANDAO rule (docs/consensus.md 3.1) stops one forger from grinding: nobody can vary a VRF
output, and the round close ignores the closing block's own transactions. But a forger that
colludes with the round's closing forger (two delegates of one operator, e.g. a node holding two
delegate keys) knows the closing forger's beta in advance, so when it forges block N-1 it knows
the next round's seed. If the election counts block N-1's transactions, it can place votes that
pick one of many elected sets and so one of many next orders (each elected set is shuffled
afresh), far beyond the "one draw per withheld slot" the docs allow, and keep the round's last
two slots for ever.

Fix: a round's election uses the vote weights snapshot taken at the *previous* round's close
(``rounds.py``), fixed before any beta of the round being closed is published, so no
transaction of the round can move the next order.
"""

from __future__ import annotations

from itertools import combinations

from etm_bridge.chain import vrf
from etm_bridge.chain.block import Block
from etm_bridge.chain.consensus import elect, forging_order
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.rounds import randao_seed, reveal_alpha, round_order
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_delegates import VOTE
from etm_bridge.store import ChainStore

PER_ROUND, DELEGATES, BLOCK_TIME = 5, 10, 10
PARAMS = ChainParams(block_time_s=BLOCK_TIME, delegates_per_round=PER_ROUND, tx_plugins=())
FEE = 100_000


class RoundEnd:
    """A chain two blocks before the end of round 1; A forges block N-1, B the closing block."""

    def __init__(self) -> None:
        self.cfg, self.keys = dev_genesis(PARAMS, DELEGATES, funded=1)
        self.voter = dev_key("user-0")  # the coalition's tribunal account
        chain = Chain(ChainStore.memory(), self.cfg)
        self.blocks: list[Block] = []
        now = 0
        while len(self.blocks) < PER_ROUND - 2:
            now += BLOCK_TIME
            block = chain.forge_next(now, self.keys)
            if block is not None:
                self.blocks.append(block)
        self.now_a = now + BLOCK_TIME
        slot_a = PARAMS.slot_of(self.now_a)
        order = chain.round_order()
        self.a = self.keys[order[slot_a % PER_ROUND]]
        self.b = self.keys[order[(slot_a + 1) % PER_ROUND]]
        #: round 2 (no missed slot) ends in slots slot_a + 5, slot_a + 6: these positions
        self.closing_positions = (slot_a % PER_ROUND, (slot_a + 1) % PER_ROUND)
        self.outsiders = sorted(k for k in self.keys if k not in order)

    def twin(self) -> Chain:
        twin = Chain(ChainStore.memory(), self.cfg)
        for block in self.blocks:
            assert twin.apply_block(block)
        return twin

    def vote(self, nonce: int, delegate: bytes) -> Tx:
        return Tx.create(self.voter, network=PARAMS.network_id, type_id=VOTE, nonce=nonce,
                         fee=FEE, payload=delegate)  # fmt: skip

    def play(self, backed: tuple[bytes, ...]) -> tuple[list[Block], list[bytes]]:
        """A puts the coalition's votes for ``backed`` in block N-1, B closes the round; returns
        (blocks N-1 and N, the order of round 2)."""
        twin = self.twin()
        for i, delegate in enumerate(backed):
            twin.submit_tx(self.vote(i, delegate))
        block_a = twin.forge_next(self.now_a, {self.a.public_key: self.a})
        block_b = twin.forge_next(self.now_a + BLOCK_TIME, {self.b.public_key: self.b})
        assert block_a is not None and block_b is not None
        assert len(block_a.transactions) == len(backed) and PARAMS.is_round_end(block_b.height)
        return [block_a, block_b], round_order(twin.store_view(), 2)


def _known_seed(setup: RoundEnd, block_a: Block, b: SigningKey) -> bytes:
    """What A knows before publishing block N-1: every beta, B's included (B tells it)."""
    betas = [vrf.proof_to_hash(x.header.reveal) for x in (*setup.blocks, block_a)]
    betas.append(vrf.proof_to_hash(vrf.prove(b.seed, reveal_alpha(PARAMS.network_id, 1))))
    return randao_seed(setup.twin().block_by_height(0).id, betas)


def test_colluding_last_two_forgers_cannot_pick_the_next_order_with_votes() -> None:
    setup = RoundEnd()
    coalition = {setup.a.public_key, setup.b.public_key}
    # the coalition's choices: always back A and B, plus any set of up to 3 outsiders
    choices = [tuple(coalition) + extra for n in range(4)
               for extra in combinations(setup.outsiders, n)]  # fmt: skip
    assert len(choices) == 26
    old_rule: set[tuple[bytes, ...]] = set()
    chosen = []
    new_rule = set()
    for backed in choices:
        blocks, order = setup.play(backed)
        new_rule.add(tuple(order))
        # the rule before the fix: elect from the weights after block N-1's transactions
        weights = {k: 0 for k in setup.keys}
        for k in backed:
            weights[k] = 1
        seed = _known_seed(setup, blocks[0], setup.b)
        assert seed == randao_seed(setup.twin().block_by_height(0).id,
                                   [vrf.proof_to_hash(x.header.reveal)
                                    for x in (*setup.blocks, *blocks)])  # fmt: skip
        old = forging_order(seed, elect(weights, PER_ROUND, set()))
        old_rule.add(tuple(old))
        if {old[p] for p in setup.closing_positions} == coalition:
            chosen.append(backed)
    # before the fix: 26 different next orders, known to A before it published, and some keep
    # both of round 2's closing slots in the coalition (then the same again, round after round)
    assert len(old_rule) == 26 and chosen
    # now: the votes are counted from the next election on, whatever A puts in its block
    assert len(new_rule) == 1
