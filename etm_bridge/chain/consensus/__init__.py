"""Kantorovich consensus rules (pure): vote weights, election, chaotic shuffling, rewards.

Nothing here does I/O; the ledger (``etm_bridge.chain``) calls these functions when it applies
blocks and closes rounds. ``docs/consensus.md`` explains each choice and every deviation from the
whitepaper.
"""

from __future__ import annotations

from .election import elect, ranking
from .rewards import largest_remainder, split_round_rewards
from .shuffle import derive_schedule, forging_order
from .votes import DEFAULT_SCHEDULE, WeightSchedule, split_weight, vote_weight

__all__ = [
    "DEFAULT_SCHEDULE",
    "WeightSchedule",
    "derive_schedule",
    "elect",
    "forging_order",
    "largest_remainder",
    "ranking",
    "split_round_rewards",
    "split_weight",
    "vote_weight",
]
