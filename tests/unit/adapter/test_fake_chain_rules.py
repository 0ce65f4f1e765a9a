"""Rules of the in-memory chain beyond the conformance suite: keys, dust, funds, headers."""

from __future__ import annotations

import itertools

import pytest

from etm_bridge.adapter import HtlcTerms
from etm_bridge.chains.bitcoin.spv.headers import BlockHeader
from etm_bridge.errors import ConfigError, InsufficientFundsError, InvalidTransactionError
from etm_bridge.hashlock import hashlock_of
from etm_bridge.testing.fake import FakeAdapter
from etm_bridge.testing.fakechain import DUST_LIMIT, FEE, FakeChain
from etm_bridge.testing.preimages import new_preimage

_ids = itertools.count()


@pytest.fixture
def parties():
    name = f"rules-{next(_ids)}"
    chain = FakeChain.named(name)
    us = FakeAdapter.from_config({"chain": name, "secret_hex": "aa" * 32})
    them = FakeAdapter.from_config({"chain": name, "secret_hex": "bb" * 32})
    chain.credit(us.our_key(), 1_000_000)
    chain.mine(1)
    yield chain, us, them
    FakeChain.forget(name)


def _terms(us, them, amount=10_000, blocks=5) -> HtlcTerms:
    return HtlcTerms(
        amount=amount,
        hashlock=hashlock_of(new_preimage()),
        claim_key=them.our_key(),
        refund_key=us.our_key(),
        timelock_height=us.tip().height + blocks,
    )


def test_only_the_refund_key_can_refund(parties) -> None:
    chain, us, them = parties
    lock = us.lock(_terms(us, them, blocks=1))
    chain.mine(2)
    with pytest.raises(InvalidTransactionError, match="refund key"):
        them.refund(lock)


def test_lock_costs_amount_plus_fee_and_refund_returns_amount_minus_fee(parties) -> None:
    chain, us, them = parties
    lock = us.lock(_terms(us, them, blocks=1))
    assert us.balance() == 1_000_000 - 10_000 - FEE
    chain.mine(2)
    us.refund(lock)
    assert us.balance() == 1_000_000 - 2 * FEE


def test_dust_and_unfunded_locks_are_rejected(parties) -> None:
    _, us, them = parties
    with pytest.raises(InvalidTransactionError, match="dust"):
        us.lock(_terms(us, them, amount=DUST_LIMIT - 1))
    with pytest.raises(InsufficientFundsError):
        them.lock(_terms(them, us))


def test_headers_are_linked_bitcoin_format_headers(parties) -> None:
    chain, us, _ = parties
    chain.mine(3)
    raw = us.headers(0, 10)
    assert len(raw) == chain.tip_height + 1
    parsed = [BlockHeader.from_bytes(h) for h in raw]
    for parent, child in itertools.pairwise(parsed):
        assert child.prev_hash_le == parent.hash_le
    assert us.tip().block_hash_hex == parsed[-1].hash_le[::-1].hex()


def test_config_needs_a_secret() -> None:
    with pytest.raises(ConfigError, match="secret_hex"):
        FakeAdapter.from_config({"chain": "x"})
