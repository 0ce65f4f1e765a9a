"""A toy plug-in with a round hook (design-14 section 10.2), used by test_chain_round_hooks.py.

At every round close the hook records what it was told (round, height, timestamp, ranking and
elected set) in table ``hook_rounds``, so a test can compare what forging and validation wrote.
"""

from __future__ import annotations

from etm_bridge.chain.codec import U64
from etm_bridge.chain.registry import Registry, RoundClose
from etm_bridge.chain.state import State, TableSpec


def hook(state: State, close: RoundClose) -> None:
    state.put_json(
        "hook_rounds",
        U64.pack(close.round_no),
        {
            "height": close.height,
            "timestamp": close.timestamp,
            "ranked": [k.hex() for k in close.ranked],
            "elected": [k.hex() for k in close.elected],
        },
    )


def register(registry: Registry) -> None:
    registry.add_table(TableSpec("hook_rounds", owner="hook", doc="round u64 -> what the hook saw"))
    registry.add_round_hook("hook", hook)
    registry.provide("hook_service", "provided")
