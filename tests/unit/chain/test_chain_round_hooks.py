"""Round hooks and services of the chain registry (design-14 section 10.2, issue 14 K0).

A plug-in's round hook runs at every round close, after the next round is opened, with the
closing block's timestamp, the election's ranking and the elected set; forging and validation
run it alike (a second node applying the forged blocks reaches the same state digest). A chain
without hooks closes rounds as before (its state digest is pinned by test_consensus_pins.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from etm_bridge.chain.codec import U64
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import Registry, build_registry
from etm_bridge.chain.rounds import round_order
from etm_bridge.errors import ConfigError
from etm_bridge.store import ChainStore

pytestmark = pytest.mark.unit


def test_the_hook_sees_each_round_close_and_validation_agrees(make_dev_chain: Any) -> None:
    dev = make_dev_chain(tx_plugins=("chain_hook_plugin",))
    per_round = dev.params.delegates_per_round
    blocks = [dev.forge() for _ in range(2 * per_round + 1)]
    view = dev.chain.store_view()
    for r in (1, 2):
        seen = view.get_json("hook_rounds", U64.pack(r))
        assert seen is not None, f"the hook did not run at round {r}'s close"
        closing = next(b for b in blocks if b.header.height == r * per_round)
        assert seen["height"] == closing.header.height
        assert seen["timestamp"] == closing.header.timestamp
        order = round_order(view, r + 1)
        assert sorted(seen["elected"]) == sorted(k.hex() for k in set(order))
        assert set(seen["elected"]) <= set(seen["ranked"])
    assert view.get_json("hook_rounds", U64.pack(3)) is None  # round 3 not closed yet
    # a second node validating the same blocks runs the same hook: same state digest
    other = Chain(ChainStore.memory(), dev.cfg)
    for block in blocks:
        assert other.apply_block(block, block.header.timestamp)
    height = dev.chain.tip.height
    assert other.store.digest_at(height) == dev.chain.store.digest_at(height)


def test_without_the_hook_plugin_the_chain_writes_nothing_of_it(make_dev_chain: Any) -> None:
    dev = make_dev_chain()
    for _ in range(2 * dev.params.delegates_per_round + 1):
        dev.forge()
    assert list(dev.chain.store_view().scan("hook_rounds")) == []


def test_services_are_provided_once_and_ported_with_a_default() -> None:
    registry = build_registry(ChainParams(tx_plugins=("chain_hook_plugin",)))
    assert registry.port("hook_service", "default") == "provided"
    assert registry.port("custody", "legacy") == "legacy"
    with pytest.raises(ConfigError, match="already provided"):
        registry.provide("hook_service", "again")
    with pytest.raises(ConfigError, match="already registered"):
        registry.add_round_hook("hook", lambda state, close: None)
    assert len(registry.round_hooks) == 1
    assert Registry().round_hooks == ()
