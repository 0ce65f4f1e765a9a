"""Block validation: every rejection has a reason code and leaves the chain untouched."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from conftest import DevChain, addr

from etm_bridge.chain.block import Block, BlockHeader, merkle_root
from etm_bridge.chain.codec import sha256
from etm_bridge.chain.ledger import Chain
from etm_bridge.errors import BlockRejectedError
from etm_bridge.store import ChainStore


def _twin(dev: DevChain) -> Chain:
    return Chain(ChainStore.memory(), dev.cfg)


def _resign(dev: DevChain, h: BlockHeader, **changes: Any) -> BlockHeader:
    key = dev.keys[changes.get("generator_public_key", h.generator_public_key)]
    return replace(h, nonce=0, **changes).solve_and_sign(
        key, dev.params.hash_target, dev.chain.genesis_id
    )


def _expect(twin: Chain, block: Block, reason: str, now: int | None = None) -> None:
    before = (twin.status(), twin.store.full_state_digest())  # type: ignore[attr-defined]
    with pytest.raises(BlockRejectedError) as info:
        twin.apply_block(block, now)
    assert info.value.reason == reason, str(info.value)
    assert (twin.status(), twin.store.full_state_digest()) == before  # type: ignore[attr-defined]


@pytest.fixture
def forged(dev: DevChain) -> tuple[DevChain, Chain, Block]:
    dev.chain.submit_tx(dev.transfer(dev.users[0], addr(dev.users[1]), 5))
    dev.chain.submit_tx(dev.transfer(dev.users[1], addr(dev.users[2]), 7))
    block = dev.forge()
    twin = _twin(dev)
    return dev, twin, block


def test_valid_block_applies_on_a_twin(forged: tuple[DevChain, Chain, Block]) -> None:
    dev, twin, block = forged
    assert twin.apply_block(block, now=dev.now)
    assert twin.status()["stateDigest"] == dev.chain.status()["stateDigest"]
    assert twin.apply_block(block) is False or twin.tip.height == 1


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"version": 9}, "wrong_version"),
        ({"height": 5}, "wrong_height"),
        ({"previous_block": bytes(32)}, "wrong_previous"),
        ({"timestamp": 0}, "stale_slot"),
        ({"reward": 1}, "wrong_reward"),
        ({"payload_hash": sha256(b"x")}, "bad_payload_hash"),
        ({"payload_length": 1}, "bad_payload_length"),
        ({"number_of_transactions": 1}, "wrong_transaction_count"),
        ({"total_amount": 13}, "wrong_total_amount"),
        ({"total_fee": 1}, "wrong_total_fee"),
    ],
)
def test_header_rejections(
    forged: tuple[DevChain, Chain, Block], changes: dict[str, Any], reason: str
) -> None:
    dev, twin, block = forged
    header = _resign(dev, block.header, **changes)
    if reason == "wrong_previous":
        with pytest.raises(BlockRejectedError) as info:
            twin.apply_block(Block(header, block.transactions))
        assert info.value.reason == "unknown_parent"
        return
    _expect(twin, Block(header, block.transactions), reason)


def test_future_block(forged: tuple[DevChain, Chain, Block]) -> None:
    _dev, twin, block = forged
    _expect(twin, block, "future_block", now=block.header.timestamp - 60)


def test_wrong_delegate(forged: tuple[DevChain, Chain, Block]) -> None:
    dev, twin, block = forged
    other = next(k for k in dev.keys if k != block.header.generator_public_key)
    _expect(twin, Block(_resign(dev, block.header, generator_public_key=other),
                        block.transactions), "wrong_delegate")  # fmt: skip


def test_bad_signature(forged: tuple[DevChain, Chain, Block]) -> None:
    _dev, twin, block = forged
    header = replace(block.header, block_signature=bytes(64))
    _expect(twin, Block(header, block.transactions), "bad_signature")


def test_hashing_test_failed(forged: tuple[DevChain, Chain, Block]) -> None:
    dev, twin, block = forged
    h = block.header
    nonce = next(
        n for n in range(1000) if replace(h, nonce=n).hash_value() >= dev.params.hash_target
    )
    key = dev.keys[h.generator_public_key]
    bad = replace(h, nonce=nonce)
    bad = replace(bad, block_signature=key.sign(sha256(bad.unsigned_bytes)))
    _expect(twin, Block(bad, block.transactions), "hashing_test_failed")


def test_invalid_transaction_in_block(forged: tuple[DevChain, Chain, Block]) -> None:
    dev, twin, block = forged
    txs = (block.transactions[1], block.transactions[0])  # order breaks nothing: distinct senders
    bad_tx = dev.transfer(dev.users[3], addr(dev.users[1]), 1, nonce=5)  # wrong nonce
    txs = (*block.transactions, bad_tx)
    length = sum(t.size for t in txs)
    header = _resign(dev, block.header, number_of_transactions=3, payload_length=length,
                     payload_hash=merkle_root([t.id for t in txs]),
                     total_amount=block.header.total_amount + 1,
                     total_fee=block.header.total_fee + bad_tx.fee)  # fmt: skip
    _expect(twin, Block(header, txs), "invalid_transaction")


def test_too_many_transactions(make_dev_chain: Any) -> None:
    dev = make_dev_chain(max_txs_per_block=1)
    for i in range(3):
        dev.chain.submit_tx(dev.transfer(dev.users[i], addr(dev.users[4]), 5))
    block = dev.forge()
    assert len(block.transactions) == 1  # the forger respects the limit
    twin = _twin(dev)
    extra = dev.chain.mempool.pending()[0]
    txs = (*block.transactions, extra)
    header = _resign(dev, block.header, number_of_transactions=2,
                     payload_length=sum(t.size for t in txs),
                     payload_hash=merkle_root([t.id for t in txs]))  # fmt: skip
    _expect(twin, Block(header, txs), "too_many_transactions")


def test_block_encoding_round_trip_and_json(forged: tuple[DevChain, Chain, Block]) -> None:
    _, _, block = forged
    assert Block.decode(block.encoded) == block
    j = block.to_json()
    for name in ("id", "version", "timestamp", "height", "previousBlock", "numberOfTransactions",
                 "totalAmount", "totalFee", "reward", "payloadLength", "payloadHash",
                 "generatorPublicKey", "blockSignature", "fullId", "nonce"):  # fmt: skip
        assert name in j
    assert j["id"] == str(int.from_bytes(block.id[:8], "big"))
    assert j["fullId"] == sha256(block.header.encoded).hex()
    assert j["numberOfTransactions"] == 2 and j["totalAmount"] == 12


def test_empty_payload_hash_is_sha256_of_nothing() -> None:
    # the whitepaper example shows it with one hex digit dropped (63 digits)
    assert merkle_root([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    a, b, c = sha256(b"a"), sha256(b"b"), sha256(b"c")
    assert merkle_root([a]) == a
    assert merkle_root([a, b, c]) == sha256(b"\x01" + sha256(b"\x01" + a + b) + c)


def test_late_block_only_when_now_is_given(forged: tuple[DevChain, Chain, Block]) -> None:
    _dev, twin, block = forged
    _expect(twin, block, "late_block", now=block.header.timestamp + 60)
    assert twin.apply_block(block, now=None)  # syncing history: no clock check


def test_payload_too_large(make_dev_chain: Any) -> None:
    dev = make_dev_chain(max_block_payload_bytes=200)
    dev.chain.submit_tx(dev.transfer(dev.users[0], addr(dev.users[4]), 5))
    dev.chain.submit_tx(dev.transfer(dev.users[1], addr(dev.users[4]), 5))
    block = dev.forge()
    assert len(block.transactions) == 1  # the forger respects the byte limit
    extra = dev.chain.mempool.pending()[0]
    txs = (*block.transactions, extra)
    header = _resign(dev, block.header, number_of_transactions=2,
                     payload_length=sum(t.size for t in txs),
                     payload_hash=merkle_root([t.id for t in txs]))  # fmt: skip
    _expect(_twin(dev), Block(header, txs), "payload_too_large")
