"""The mempool: admission on pending state, limits, and re-admission after a new tip."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import DevChain, addr

from etm_bridge.chain.block import Block
from etm_bridge.chain.ledger import Chain
from etm_bridge.errors import TxRejectedError
from etm_bridge.store import ChainStore


def test_duplicate_and_full_mempool_are_refused(dev: DevChain) -> None:
    tx = dev.transfer(dev.users[0], addr(dev.users[1]), 5)
    dev.chain.submit_tx(tx)
    with pytest.raises(TxRejectedError) as info:
        dev.chain.submit_tx(tx)
    assert info.value.reason == "duplicate"
    dev.chain.mempool._max_txs = 1
    with pytest.raises(TxRejectedError) as info:
        dev.chain.submit_tx(dev.transfer(dev.users[1], addr(dev.users[2]), 5))
    assert info.value.reason == "mempool_full"


def test_included_txs_leave_and_conflicting_ones_are_dropped(make_dev_chain: Any) -> None:
    dev = make_dev_chain()
    other = Chain(ChainStore.memory(), dev.cfg)
    spend = dev.transfer(dev.users[0], addr(dev.users[1]), 5)  # nonce 0 on dev's node
    conflicting = dev.transfer(dev.users[0], addr(dev.users[2]), 6, nonce=0)  # same nonce
    later = dev.transfer(dev.users[3], addr(dev.users[2]), 7)
    dev.chain.submit_tx(spend)
    other.submit_tx(conflicting)
    other.submit_tx(later)
    block = dev.forge()
    other.apply_block(Block.decode(block.encoded))
    assert [tx.id for tx in other.mempool.pending()] == [later.id]
    assert len(dev.chain.mempool) == 0


def test_spending_almost_everything_charges_amount_plus_fee(dev: DevChain) -> None:
    balance = dev.chain.account(addr(dev.users[0])).balance
    dev.chain.submit_tx(dev.transfer(dev.users[0], addr(dev.users[1]), balance - 200_000))
    block = dev.forge()
    assert len(block.transactions) == 1
    assert dev.chain.account(addr(dev.users[0])).balance == balance - (balance - 200_000) - 100_000
