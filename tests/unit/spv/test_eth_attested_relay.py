"""The committee-attested Ethereum relay (issue 14, design-14 section 8): ``attested_tip`` over
hand-built header trees, the relay in committee mode, and tx 113 against a legacy relay's rule.

The paired forgery (a forged header with a fake EtherSwapHTLC ``Locked`` receipt) lives in
``test_eth_attested_forgery.py``."""

from __future__ import annotations

import hashlib

import pytest
from spv_testkit import GENESIS, anvil_chain

from etm_bridge.chains.ethereum.spv import headers as eth
from etm_bridge.chains.ethereum.spv.attestation import (
    WINDOW,
    Attestation,
    attested_tip,
    decode_attestations,
    encode_attestations,
    with_attestation,
)
from etm_bridge.chains.ethereum.spv.header_relay import COMMITTEE, EthRelay
from etm_bridge.errors import ConfigError, HeaderRejectedError
from etm_bridge.spv.kvstore import MemoryKeyValueStore

pytestmark = pytest.mark.unit

A, B, C, D, E = (bytes([i]) * 32 for i in range(1, 6))
MEMBERS = frozenset({A, B, C, D})  # 3 of 4


class Tree:
    """A header tree by (branch, number): ``h("main", 7)``; parents by a dict, as the relay's
    ``p<hash>`` index."""

    def __init__(self) -> None:
        self.parent: dict[bytes, bytes] = {}

    @staticmethod
    def h(branch: str, number: int) -> bytes:
        return hashlib.sha256(f"{branch}/{number}".encode()).digest()

    def grow(self, branch: str, base: tuple[str, int], top: int) -> None:
        """``branch`` numbers base+1..top on top of ``base``."""
        prev = self.h(*base)
        for n in range(base[1] + 1, top + 1):
            self.parent[self.h(branch, n)] = prev
            prev = self.h(branch, n)

    def tip(self, attestations: list[Attestation], m: int = 3, floor: int = 0):
        return attested_tip(attestations, MEMBERS, m, floor, self.parent.get)


def at(member: bytes, branch: str, number: int) -> Attestation:
    return Attestation(member, number, Tree.h(branch, number))


@pytest.fixture
def tree() -> Tree:
    t = Tree()
    t.grow("main", ("main", 0), 600)
    t.grow("side", ("main", 5), 20)
    return t


def test_scattered_tips_agree_on_their_common_part(tree: Tree) -> None:
    votes = [at(A, "main", 10), at(B, "main", 12), at(C, "main", 15), at(D, "main", 20)]
    assert tree.tip(votes) == (12, Tree.h("main", 12))  # 12, 15 and 20 all descend from 12


def test_a_two_two_split_stays_at_the_common_ancestor(tree: Tree) -> None:
    votes = [at(A, "main", 8), at(B, "main", 9), at(C, "side", 9), at(D, "side", 12)]
    assert tree.tip(votes) == (5, Tree.h("main", 5))


def test_a_member_switching_branch_moves_the_tip(tree: Tree) -> None:
    votes = [at(A, "main", 9), at(B, "main", 9), at(C, "main", 9), at(D, "side", 9)]
    assert tree.tip(votes) == (9, Tree.h("main", 9))
    votes = with_attestation(votes, at(C, "side", 10), MEMBERS)  # C replaces its attestation
    assert len(votes) == 4 and tree.tip(votes) == (5, Tree.h("main", 5))  # 2|2: back down
    votes = with_attestation(votes, at(B, "side", 11), MEMBERS)
    assert tree.tip(votes) == (9, Tree.h("side", 9))  # the reorg is followed at m (D, C, B)


def test_fewer_than_m_attestations_move_nothing(tree: Tree) -> None:
    assert tree.tip([]) is None
    assert tree.tip([at(A, "main", 9), at(B, "main", 9)]) is None
    assert tree.tip([at(A, "main", 9), at(B, "main", 9)], m=2) == (9, Tree.h("main", 9))


def test_a_non_members_attestation_does_not_count(tree: Tree) -> None:
    votes = [at(A, "side", 9), at(B, "side", 9), at(E, "side", 9), at(C, "main", 9)]
    assert tree.tip(votes) == (5, Tree.h("main", 5))  # E is nobody: 2 + 1 + 1
    assert with_attestation(votes, at(D, "main", 9), MEMBERS)[-1].member == D
    assert E not in {a.member for a in with_attestation(votes, at(D, "main", 9), MEMBERS)}


def test_an_attestation_more_than_256_below_the_window_is_ignored(tree: Tree) -> None:
    high = 300
    votes = [at(A, "main", high), at(B, "main", high), at(C, "main", high - WINDOW - 1)]
    # C's walk cannot reach the window (it starts below high - 256): 2 walks, no tip at m = 3
    assert tree.tip(votes) is None
    votes[2] = at(C, "main", high - WINDOW)  # exactly at the bottom of the window: it counts
    assert tree.tip(votes) == (high - WINDOW, Tree.h("main", high - WINDOW))


def test_one_rogue_member_far_above_cannot_freeze_the_tip(tree: Tree) -> None:
    """Design-14 anchors the window at the *highest* attestation: a rogue member attesting 257+
    above the honest ones would push them all out and freeze the relay. Anchored at the m-th
    highest, the honest m still agree."""
    votes = [at(A, "main", 20), at(B, "main", 20), at(C, "main", 20), at(D, "main", 600)]
    assert tree.tip(votes) == (20, Tree.h("main", 20))


def test_walks_stop_at_the_checkpoint_floor(tree: Tree) -> None:
    votes = [at(A, "side", 7), at(B, "main", 7), at(C, "main", 8)]
    assert tree.tip(votes, floor=6) is None  # they meet only at 5, below the checkpoint
    assert tree.tip(votes, floor=5) == (5, Tree.h("main", 5))


def test_a_missing_parent_link_is_a_corrupt_store_not_a_silent_tip(tree: Tree) -> None:
    del tree.parent[Tree.h("main", 9)]
    with pytest.raises(ConfigError, match="no parent link"):
        tree.tip([at(A, "main", 9), at(B, "main", 9), at(C, "main", 9)])


def test_the_stored_form_round_trips_one_per_member() -> None:
    votes = [at(C, "main", 3), at(A, "side", 2**40)]
    raw = encode_attestations(votes)
    assert len(raw) == 144 and raw[:32] == A  # ascending by member
    assert decode_attestations(raw) == sorted(votes, key=lambda a: a.member)
    with pytest.raises(ConfigError):
        decode_attestations(raw[:-1])


# --- the relay in committee mode ----------------------------------------------------------------


def _committee_relay() -> EthRelay:
    return EthRelay.initialise(MemoryKeyValueStore(), eth.ANVIL, GENESIS, [], COMMITTEE)


def _hash(raw: bytes) -> bytes:
    return eth.parse_header(raw, eth.ANVIL).hash


def test_committee_relay_takes_anyones_headers_but_only_attestations_move_the_tip() -> None:
    relay = _committee_relay()
    main = anvil_chain(GENESIS, 6, 2_000)
    relay.submit_headers(main[:4], b"\x99" * 32)  # anyone
    assert relay.tip().number == 0 and relay.relayed_tip() == (4, _hash(main[3]))
    assert relay.confirmations(_hash(main[0])) == 0
    relay.submit_headers(main[2:], b"\x98" * 32)  # stored ones are skipped, the rest kept
    assert relay.relayed_tip() == (6, _hash(main[5]))
    with pytest.raises(HeaderRejectedError, match="duplicate"):
        relay.submit_headers(main[4:], b"\x98" * 32)  # nothing new
    for member in (A, B):
        assert relay.submit_attestation(member, 5, _hash(main[4]), MEMBERS, 3).number == 0
    assert relay.submit_attestation(C, 4, _hash(main[3]), MEMBERS, 3).number == 4
    assert relay.confirmations(_hash(main[3])) == 1
    assert relay.confirmations(_hash(main[0])) == 4
    assert relay.confirmations(_hash(main[4])) == 0  # attested by two only
    assert relay.best_hash_at(2) == _hash(main[1])


def test_committee_relay_follows_a_reorg_only_when_m_members_attest_it() -> None:
    relay = _committee_relay()
    main = anvil_chain(GENESIS, 4, 2_000)
    side = anvil_chain(main[1], 4, 9_000)  # numbers 3..6
    relay.submit_headers(main, b"\x99" * 32)
    relay.submit_headers(side, b"\x99" * 32)
    for member in (A, B, C):
        relay.submit_attestation(member, 4, _hash(main[3]), MEMBERS, 3)
    assert relay.tip().hash == _hash(main[3])
    relay.submit_attestation(D, 6, _hash(side[3]), MEMBERS, 3)  # the longer branch, one member
    assert relay.tip().hash == _hash(main[3])
    relay.submit_attestation(A, 6, _hash(side[3]), MEMBERS, 3)
    assert relay.tip().number == 2  # 2|2: the common ancestor
    assert relay.confirmations(_hash(main[3])) == 0
    relay.submit_attestation(B, 5, _hash(side[2]), MEMBERS, 3)
    assert relay.tip().hash == _hash(side[2])
    assert relay.best_hash_at(3) == _hash(side[0]) and relay.best_hash_at(4) == _hash(side[1])
    assert relay.confirmations(_hash(main[2])) == 0 and relay.confirmations(_hash(side[0])) == 3


def test_attestations_name_a_stored_block_by_its_number() -> None:
    relay = _committee_relay()
    main = anvil_chain(GENESIS, 2, 2_000)
    relay.submit_headers(main[:1], b"\x99" * 32)
    with pytest.raises(HeaderRejectedError, match="unknown-block"):
        relay.submit_attestation(A, 2, _hash(main[1]), MEMBERS, 3)
    with pytest.raises(HeaderRejectedError, match="bad-number"):
        relay.submit_attestation(A, 7, _hash(main[0]), MEMBERS, 3)
    assert relay.attestations() == []


def test_a_legacy_relay_takes_no_attestations_and_committee_mode_needs_no_relayer() -> None:
    legacy = EthRelay.initialise(MemoryKeyValueStore(), eth.ANVIL, GENESIS, [A])
    with pytest.raises(HeaderRejectedError, match="not-committee-mode"):
        legacy.submit_attestation(A, 0, legacy.tip().hash, MEMBERS, 3)
    assert legacy.mode == "unsafe_trusted_relayers" and legacy.store.get(b"mode") is None
    with pytest.raises(ConfigError, match="relayer key"):
        EthRelay.initialise(MemoryKeyValueStore(), eth.ANVIL, GENESIS, [])
    with pytest.raises(ConfigError, match="mode"):
        EthRelay.initialise(MemoryKeyValueStore(), eth.ANVIL, GENESIS, [A], "everyone")
    with pytest.raises(ConfigError, match="no trusted relayer keys"):  # never silently ignored
        EthRelay.initialise(MemoryKeyValueStore(), eth.ANVIL, GENESIS, [A], COMMITTEE)


# --- pinned encodings (consensus: tx 113's payload and the stored attestation record) -----------

ATTEST_113_VECTORS = [
    ((0x1234, bytes(range(32))),
     "e4821234a0000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
    ((0, b"\xab" * 32),
     "e280a0abababababababababababababababababababababababababababababababab"),
]  # fmt: skip
STORED_VECTOR = (
    "0101010101010101010101010101010101010101010101010101010101010101" "0000010000000001"
    "0808080808080808080808080808080808080808080808080808080808080808"
    "0202020202020202020202020202020202020202020202020202020202020202" "0000000000000007"
    "0909090909090909090909090909090909090909090909090909090909090909"
)  # fmt: skip


def test_the_attestation_payload_and_record_are_pinned() -> None:
    from etm_bridge.chains.ethereum.etm.relay_types import EthAttestation, decode_eth_attestation

    for (number, block_hash), hex_payload in ATTEST_113_VECTORS:
        assert EthAttestation(number, block_hash).encode().hex() == hex_payload
        assert decode_eth_attestation(bytes.fromhex(hex_payload)) == EthAttestation(
            number, block_hash
        )
    votes = [
        Attestation(b"\x02" * 32, 7, b"\x09" * 32),
        Attestation(b"\x01" * 32, 2**40 + 1, b"\x08" * 32),
    ]
    assert encode_attestations(votes).hex() == STORED_VECTOR


def test_the_genesis_key_is_written_only_when_set_and_checked() -> None:
    from etm_bridge.chains.ethereum.etm import genesis

    legacy = genesis.EthRelayGenesis(chain="anvil", checkpoint_rlp=GENESIS, relayers=(A,))
    assert "eth_attestation" not in genesis.to_json(legacy)  # older genesis ids do not move
    committee = genesis.EthRelayGenesis(
        chain="anvil", checkpoint_rlp=GENESIS, attestation=COMMITTEE
    )
    data = genesis.to_json(committee)
    assert data["eth_attestation"] == "committee"
    assert genesis.from_json(data) == committee and committee.mode == COMMITTEE
    with pytest.raises(ConfigError, match="eth_attestation"):
        genesis.from_json({**data, "eth_attestation": "anyone"})
