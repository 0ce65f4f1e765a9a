"""What ``GET /api/spv`` serves: each initialised relay's status under its chain's name.

``relay_status(view)`` -> ``{profile.name: profile.relay.status(view)}`` for every installed
chain whose relay exists in this state (tip, heights, policy, and the chain's own fields).
Pure.
"""

from __future__ import annotations

from typing import Any

from ..chain.state import StateView
from ..chains.registry import chain_registry


def relay_status(view: StateView) -> dict[str, Any]:
    """Tips, heights, policies and forks of the chain's relays (for the CLI and API)."""
    out: dict[str, Any] = {}
    for profile in chain_registry().relayed():
        assert profile.relay is not None
        status = profile.relay.status(view)
        if status is not None:
            out[profile.name] = status
    return out
