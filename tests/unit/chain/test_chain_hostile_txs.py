"""Issue 11 items 3, 10 and 11 on an in-memory chain: hostile transactions never crash the node,
stop forging, or leave half-applied state behind.

* item 3: nothing that needs decoding is looked at before the network, type, size, fee and
  signature checks pass, and a signed, fee-paying payload nested 400,000 deep is refused by the
  decoder's depth cap (before the fix it overflowed the C stack: this process would segfault);
* item 10: transfers whose amounts sum past u64 no longer stop forging: each block takes what fits
  its u64 ``totalAmount`` (a valid block, accepted by a second node) and the rest waits;
  a pending tx that stops applying is evicted and the node says why;
* item 11: any exception while applying a tx (a library's, or a decoder bug) is rolled back and
  becomes a rejection; the mempool keeps no half-applied write.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from conftest import FEE, DevChain, addr

from etm_bridge.chain.address import address_hash
from etm_bridge.chain.codec import MAX_U64
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import TxContext
from etm_bridge.chain.rules import apply_tx
from etm_bridge.chain.state import State
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER
from etm_bridge.chains.ethereum.etm.relay_types import ETH_RECEIPT_PROOF, ETH_RELAY_HEADERS
from etm_bridge.chains.ethereum.hostile import flat_rlp, nested_rlp
from etm_bridge.errors import NotFoundError, StoreError, TxRejectedError
from etm_bridge.exchange.txtypes import POOL_CREATE
from etm_bridge.node.setup import NODE_TX_PLUGINS
from etm_bridge.store import ChainStore
from etm_bridge.testing.hostile import nested_json


def _node_chain(make_dev_chain: Any) -> DevChain:
    return make_dev_chain(tx_plugins=NODE_TX_PLUGINS)


def _min_fee(dev: DevChain, type_id: int, payload: bytes) -> int:
    size = dev.tx(dev.users[0], type_id, payload, nonce=0).size
    return dev.params.fee_base + dev.params.fee_per_byte * size


def _reason(dev: DevChain, tx: Tx) -> str:
    with pytest.raises(TxRejectedError) as info:
        dev.chain.submit_tx(tx)
    return info.value.reason


# --- item 3: cheap checks first, capped decoders --------------------------------------------


@pytest.mark.parametrize(
    ("type_id", "payload", "cap"),
    [(POOL_CREATE, nested_json(400_000), "arrays/objects"),
     (ETH_RELAY_HEADERS, nested_rlp(120_000), "deep"),
     (ETH_RECEIPT_PROOF, nested_rlp(120_000), "deep"),
     (ETH_RELAY_HEADERS, flat_rlp(1_000_000), "items")],
)  # fmt: skip
def test_hostile_payloads_meet_the_cheap_checks_first(
    make_dev_chain: Any, type_id: int, payload: bytes, cap: str
) -> None:
    dev = _node_chain(make_dev_chain)
    user, fee = dev.users[0], _min_fee(dev, type_id, payload)
    unsigned = dev.tx(user, type_id, payload, nonce=0, fee=fee)
    unsigned = replace(unsigned, signature=bytes(64))
    assert _reason(dev, unsigned) == "bad_signature"
    assert _reason(dev, dev.tx(user, type_id, payload, nonce=0, fee=fee - 1)) == "fee_too_low"
    other = dev.params.network_id + 1
    assert _reason(dev, dev.tx(user, type_id, payload, nonce=0, network=other)) == "wrong_network"
    assert _reason(dev, dev.tx(user, type_id, payload, nonce=1, fee=fee)) == "wrong_nonce"
    with pytest.raises(TxRejectedError) as info:
        dev.chain.submit_tx(dev.tx(user, type_id, payload, nonce=0, fee=fee))
    assert info.value.reason == "malformed_field"
    assert cap in info.value.detail
    assert len(dev.chain.mempool) == 0
    dev.chain.submit_tx(dev.transfer(user, addr(dev.users[1]), 5, nonce=0))
    assert len(dev.forge().transactions) == 1


def test_a_payload_is_not_decoded_before_the_signature_and_fee_pass(make_dev_chain: Any) -> None:
    dev = make_dev_chain(tx_plugins=("chain_toy_plugin",))
    decoded: list[bytes] = []
    toy = dev.chain.registry.type_of(300)
    spy = replace(toy, decode=lambda payload: decoded.append(payload) or toy.decode(payload))
    dev.chain.registry._types[300] = spy
    user = dev.users[0]
    assert _reason(dev, replace(dev.tx(user, 300, b"note", nonce=0), signature=bytes(64))) == (
        "bad_signature"
    )
    assert _reason(dev, dev.tx(user, 300, b"note", nonce=0, fee=1)) == "fee_too_low"
    assert _reason(dev, dev.tx(user, 300, b"note", nonce=7)) == "wrong_nonce"
    assert decoded == []
    dev.chain.submit_tx(dev.tx(user, 300, b"note", nonce=0))
    assert decoded == [b"note"]


def test_a_tx_no_block_can_hold_is_refused_at_admission(make_dev_chain: Any) -> None:
    dev = make_dev_chain(max_block_payload_bytes=1_000)
    user = dev.users[0]
    big = dev.tx(user, TRANSFER, bytes(2_000), nonce=0, fee=10**8)
    assert _reason(dev, big) == "tx_too_large"


def test_a_decoder_bug_is_a_rejection_not_a_crash(make_dev_chain: Any) -> None:
    dev = make_dev_chain(tx_plugins=("chain_toy_plugin",))
    with pytest.raises(TxRejectedError) as info:
        dev.chain.submit_tx(dev.tx(dev.users[0], 300, b"\xff\x01", nonce=0))
    assert info.value.reason == "malformed_field" and "IndexError" in info.value.detail


# --- item 10: the header's u64 totalAmount never overflows ----------------------------------


def _rich_chain() -> tuple[DevChain, Chain]:
    """A chain whose one funded user holds 2**62 base units, and a second node of it."""
    params = ChainParams(block_time_s=1, delegates_per_round=3)
    cfg, keys = dev_genesis(params, 3, funded=1, each=2**62)
    dev = DevChain(Chain(ChainStore.memory(), cfg), cfg, keys, [dev_key("user-0")])
    return dev, Chain(ChainStore.memory(), cfg)


def test_amounts_summing_past_u64_are_spread_over_valid_blocks() -> None:
    dev, other_node = _rich_chain()
    rich = dev.users[0]
    amount = 2**62 - 10**6  # four fit one header's u64 totalAmount, five do not
    sent = [dev.chain.submit_tx(dev.transfer(rich, addr(rich), amount)) for _ in range(6)]
    assert amount * 4 <= MAX_U64 < amount * 5
    blocks = [dev.forge() for _ in range(2)]
    assert [len(b.transactions) for b in blocks] == [4, 2]
    assert all(b.header.total_amount == amount * len(b.transactions) for b in blocks)
    assert [tx.id for b in blocks for tx in b.transactions] == sent
    for block in blocks:  # valid blocks: a second node accepts them
        assert other_node.apply_block(block)
    assert other_node.status()["stateDigest"] == dev.chain.status()["stateDigest"]
    assert len(dev.chain.mempool) == 0


def test_a_forger_leaves_a_tx_that_does_not_fit_the_amount_for_the_next_block() -> None:
    dev, _ = _rich_chain()
    rich = dev.users[0]
    state = State(dev.chain.store, dev.chain.registry.table_names)
    ctx = TxContext(dev.params, 1, 1, bytes(32))
    tx = dev.transfer(rich, addr(rich), 10)
    with pytest.raises(TxRejectedError) as info:
        apply_tx(state, dev.chain.registry, tx, ctx, amount_room=9)
    assert info.value.reason == "block_amount_full"
    assert state.changes() == {}
    assert apply_tx(state, dev.chain.registry, tx, ctx, amount_room=10) == 10


def test_a_pending_tx_that_stops_applying_is_evicted_with_its_reason(make_dev_chain: Any) -> None:
    dev = make_dev_chain()
    peer = Chain(ChainStore.memory(), dev.cfg)
    user = dev.users[0]
    ours = dev.transfer(user, addr(dev.users[1]), 7, nonce=0)
    theirs = dev.transfer(user, addr(dev.users[2]), 9, nonce=0)  # same nonce: a double spend
    dev.chain.submit_tx(ours)
    peer.submit_tx(theirs)
    for _ in range(1000):  # the peer forges the next block, with its tx
        dev.now += dev.params.block_time_s
        block = peer.forge_next(dev.now, dev.keys)
        if block is not None:
            break
    assert dev.chain.apply_block(block)
    assert ours.id not in dev.chain.mempool
    with pytest.raises(NotFoundError, match=r"evicted from the mempool \(wrong_nonce"):
        dev.chain.tx_by_id(ours.id)


# --- item 11: every failure inside a tx is rolled back ----------------------------------------


def test_a_library_exception_in_apply_is_rolled_back_and_rejected(make_dev_chain: Any) -> None:
    dev = make_dev_chain(tx_plugins=("chain_toy_plugin",))
    user = dev.users[0]
    digest = dev.chain.status()["stateDigest"]
    with pytest.raises(TxRejectedError) as info:
        dev.chain.submit_tx(dev.tx(user, 300, b"oops", nonce=0))
    assert info.value.reason == "rejected_by_type" and "KeyError" in info.value.detail
    assert len(dev.chain.mempool) == 0
    assert dev.chain.status()["stateDigest"] == digest
    # Nothing half-applied in the mempool: the same nonce is still free, the balance untouched.
    dev.chain.submit_tx(dev.tx(user, 300, b"fine", nonce=0))
    block = dev.forge()
    assert len(block.transactions) == 1
    assert dev.chain.account(addr(user)).nonce == 1
    assert dev.chain.store_view().escrow_total("toy_escrow") == 4


class _BrokenStore:
    """A backend whose reads fail like a disk that went away."""

    def __init__(self, store: ChainStore) -> None:
        self.store = store
        self.broken = False

    def get(self, table: str, key: bytes) -> bytes | None:
        if self.broken:
            raise OSError(5, "Input/output error")
        return self.store.get(table, key)

    def scan(self, table: str, prefix: bytes) -> Any:
        return self.store.scan(table, prefix)


def test_a_failing_store_is_not_blamed_on_the_tx(make_dev_chain: Any) -> None:
    dev = make_dev_chain(tx_plugins=("chain_toy_plugin",))
    backend = _BrokenStore(dev.chain.store)
    state = State(backend, dev.chain.registry.table_names)
    user = dev.users[0]
    state.account(address_hash(user.public_key))
    backend.broken = True
    ctx = TxContext(dev.params, 1, 1, bytes(32))
    with pytest.raises(StoreError, match="Input/output error"):
        apply_tx(state, dev.chain.registry, dev.tx(user, 300, b"note", nonce=0), ctx)
    assert state.changes() == {}
    assert FEE  # the fixture's fee paid the tx above
