"""The chain-neutral header tree on its own, with a toy header format no chain uses.

A toy header is ``prev hash (32) || work u64 BE || nonce u32 BE``; its hash is SHA-256. The toy
relay supplies only what a chain supplies (record format, parent position, one rule: the parent
must be stored), so these tests show what :mod:`etm_bridge.spv.header_tree` itself guarantees:
most-work tip with first-seen ties, the best-chain index rewritten on a reorg, fork tips, a
batch that writes nothing when one header fails, and the depth a proof needs.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import pytest

from etm_bridge.errors import ConfigError, HeaderRejectedError, InclusionProofError
from etm_bridge.spv.header_tree import HeaderTree, TreeOverlay, best_key
from etm_bridge.spv.kvstore import MemoryKeyValueStore

pytestmark = pytest.mark.unit

_TAIL = struct.Struct(">IQ")  # height, chain work after the raw header


def toy(prev: bytes, work: int, nonce: int = 0) -> bytes:
    return prev + struct.pack(">QI", work, nonce)


def toy_hash(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


@dataclass(frozen=True)
class ToyStored:
    key: bytes
    raw: bytes
    height: int
    chain_work: int

    @property
    def hash_hex(self) -> str:
        return self.key.hex()


class ToyBatch(TreeOverlay):
    PARENT = slice(0, 32)

    def add(self, raw: bytes, now: int) -> None:
        key, prev = toy_hash(raw), raw[:32]
        parent = self._value(prev)
        if parent is None:
            raise HeaderRejectedError("bad-prevblk", f"{prev.hex()} is not stored")
        height, work = _TAIL.unpack_from(parent, 44)
        height, work = height + 1, work + struct.unpack_from(">Q", raw, 32)[0]
        self._store(key, prev, height, work, raw + _TAIL.pack(height, work))


class ToyTree(HeaderTree[ToyStored]):
    def __init__(self, store: MemoryKeyValueStore) -> None:
        self.store, self.memory, self.checkpoint_height = store, store, 0
        self.network, self.label = "toynet", "toy toynet"

    @classmethod
    def start(cls, genesis: bytes) -> ToyTree:
        store = MemoryKeyValueStore()
        key = toy_hash(genesis)
        store.write_batch({
            b"h" + key: genesis + _TAIL.pack(0, 1), best_key(0): key, b"tip": key, b"tips": key,
        })  # fmt: skip
        return cls(store)

    def get(self, key: bytes) -> ToyStored | None:
        value = self.store.get(b"h" + key)
        if value is None:
            return None
        height, work = _TAIL.unpack_from(value, 44)
        return ToyStored(key, value[:44], height, work)

    def new_batch(self) -> TreeOverlay:
        return ToyBatch(self)


GENESIS = toy(b"\x00" * 32, 1)


def chain_from(parent: bytes, works: list[int], nonce: int = 0) -> list[bytes]:
    out = []
    for work in works:
        raw = toy(parent, work, nonce)
        out.append(raw)
        parent = toy_hash(raw)
    return out


def test_the_tip_follows_the_most_work_and_a_reorg_rewrites_the_best_chain() -> None:
    tree = ToyTree.start(GENESIS)
    main = chain_from(toy_hash(GENESIS), [1, 1, 1])
    result = tree.submit_headers(main, now=0)
    assert (result.accepted, result.tip.height, result.reorg) == (3, 3, False)
    # a shorter branch from height 1 with more work takes over: heights 2.. are rewritten
    fork = chain_from(toy_hash(main[0]), [5], nonce=1)
    result = tree.submit_headers(fork, now=0)
    assert result.reorg and result.tip.key == toy_hash(fork[0]) and result.tip.height == 2
    assert tree.best_hash_at(3) is None  # above the new tip
    assert tree.best_hash_at(2) == toy_hash(fork[0])
    assert tree.confirmations(toy_hash(main[2])) == 0  # off the best chain now
    assert tree.confirmations(toy_hash(main[0])) == 2
    tips = tree.chain_tips()
    assert [t.key for t in tips] == [toy_hash(fork[0]), toy_hash(main[2])]  # most work first


def test_an_equal_work_branch_does_not_move_the_tip_first_seen_wins() -> None:
    tree = ToyTree.start(GENESIS)
    first = chain_from(toy_hash(GENESIS), [2])
    tree.submit_headers(first, now=0)
    result = tree.submit_headers(chain_from(toy_hash(GENESIS), [2], nonce=9), now=0)
    assert not result.reorg and tree.tip().key == toy_hash(first[0])
    assert len(tree.chain_tips()) == 2


def test_a_batch_with_one_bad_header_writes_nothing_and_names_its_index() -> None:
    tree = ToyTree.start(GENESIS)
    size, batches = len(tree.memory), tree.memory.batches_written
    good = chain_from(toy_hash(GENESIS), [1, 1])
    orphan = toy(b"\x42" * 32, 1)
    with pytest.raises(HeaderRejectedError) as info:
        tree.submit_headers([*good, orphan], now=0)
    assert info.value.reason == "bad-prevblk" and "header 2" in str(info.value)
    assert tree.tip().height == 0 and tree.get(toy_hash(good[0])) is None
    assert (len(tree.memory), tree.memory.batches_written) == (size, batches)


def test_require_depth_refuses_forks_and_shallow_blocks_by_rule() -> None:
    tree = ToyTree.start(GENESIS)
    main = chain_from(toy_hash(GENESIS), [1, 1, 1])
    tree.submit_headers(main, now=0)
    stored = tree.get(toy_hash(main[0]))
    assert stored is not None
    assert tree.require_depth(stored, 3) == 3
    with pytest.raises(InclusionProofError) as shallow:
        tree.require_depth(stored, 4)
    assert shallow.value.reason == "insufficient-confirmations"
    tree.submit_headers(chain_from(toy_hash(GENESIS), [10], nonce=3), now=0)
    with pytest.raises(InclusionProofError) as forked:
        tree.require_depth(stored, 1)
    assert forked.value.reason == "not-in-best-chain"


def test_a_tree_without_a_tip_says_which_relay() -> None:
    with pytest.raises(ConfigError, match="toy toynet relay store has no tip"):
        ToyTree(MemoryKeyValueStore()).tip()
