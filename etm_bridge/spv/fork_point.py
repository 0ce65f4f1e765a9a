"""The fork point: the highest height where two chains' views agree (the one function for it).

A relayer compares a foreign node's best chain with the ETM relay's best chain and sends what
comes after the last height where they hold the same block; a swap engine asks the same before
it proves a lock (after a reorg the relay may be on the losing branch). Chains and relays are
seen through one callable, ``agree(height) -> bool``, so this works for any chain and any
source (an adapter, a node's API, a relay in memory). Pure.
"""

from __future__ import annotations

from collections.abc import Callable


def common_height(top: int, agree: Callable[[int], bool], floor: int = 0) -> int | None:
    """The highest ``h`` in ``[floor, top]`` with ``agree(h)``, walking down from ``top``; None
    when they agree nowhere down to ``floor`` (e.g. the source lacks the relay's checkpoint:
    each caller says what that means for it)."""
    height = top
    while height >= floor:
        if agree(height):
            return height
        height -= 1
    return None
