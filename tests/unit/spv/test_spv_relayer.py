"""The relayer's plan: fork point between a node's best chain and the relay, then batches."""

from __future__ import annotations

import pytest
from spv_testkit import mine_chain

from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.params import REGTEST
from etm_bridge.errors import ChainError
from etm_bridge.spv.kvstore import MemoryKeyValueStore
from etm_bridge.spv.relayer import fork_point, headers_to_relay

T0, NOW, BITS = 1_700_000_000, 2_000_000_000, 0x207FFFFF


def _node(chain: list[bytes]):
    """A node's best chain as the two callables the relayer needs (height 0 = genesis)."""
    full = [REGTEST.genesis_header, *chain]

    def hash_at(height: int) -> bytes | None:
        return bh.dsha256(full[height]) if height < len(full) else None

    return len(full) - 1, hash_at, lambda height: full[height]


def test_relayer_sends_what_is_missing_and_follows_a_node_reorg() -> None:
    relay = BitcoinRelay.initialise(MemoryKeyValueStore(), REGTEST, Checkpoint.genesis(REGTEST))
    genesis = bh.dsha256(REGTEST.genesis_header)
    old = mine_chain(genesis, T0, 6, bits=BITS)
    batches = headers_to_relay(relay, *_node(old), batch_size=4)
    assert [len(b) for b in batches] == [4, 2]
    for batch in batches:
        relay.submit_headers(batch, NOW)
    assert headers_to_relay(relay, *_node(old)) == []
    new = old[:3] + mine_chain(bh.dsha256(old[2]), T0 + 90_000, 5, bits=BITS)
    height, hash_at, header_at = _node(new)
    assert fork_point(relay, hash_at) == 3
    (batch,) = headers_to_relay(relay, height, hash_at, header_at)
    assert batch == new[3:]
    assert relay.submit_headers(batch, NOW).reorg


def test_a_node_without_the_checkpoint_is_refused() -> None:
    relay = BitcoinRelay.initialise(MemoryKeyValueStore(), REGTEST, Checkpoint.genesis(REGTEST))
    with pytest.raises(ChainError, match="checkpoint"):
        fork_point(relay, lambda height: b"\x01" * 32)
