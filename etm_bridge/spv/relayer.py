"""What a relayer must send: the headers of a Bitcoin node's best chain the relay lacks.

Pure: the node is seen through two callables (``hash_at(height)`` in internal byte order, or
None above the node's tip, and ``header_at(height)`` raw 80 bytes), so the CLI can feed them
from JSON-RPC and tests from anything. The fork point is the highest height where the node's
best chain and the relay's best chain agree (a node reorg makes it drop below the relay's tip);
the headers after it are returned in batches of at most ``batch_size`` (one ETM tx each).
"""

from __future__ import annotations

from collections.abc import Callable

from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay
from etm_bridge.errors import ChainError


def fork_point(relay: BitcoinRelay, hash_at: Callable[[int], bytes | None]) -> int:
    """The highest height at which the node and the relay have the same best block."""
    height = relay.tip().height
    while height >= relay.checkpoint_height:
        node_hash = hash_at(height)
        if node_hash is not None and node_hash == relay.best_hash_at(height):
            return height
        height -= 1
    raise ChainError(
        f"the node's chain does not contain the relay's checkpoint at {relay.checkpoint_height}"
    )


def headers_to_relay(
    relay: BitcoinRelay,
    node_height: int,
    hash_at: Callable[[int], bytes | None],
    header_at: Callable[[int], bytes],
    batch_size: int = 2000,
) -> list[list[bytes]]:
    """Batches of the node's headers after the fork point, up to ``node_height``."""
    start = fork_point(relay, hash_at) + 1
    headers = [header_at(h) for h in range(start, node_height + 1)]
    return [headers[i : i + batch_size] for i in range(0, len(headers), batch_size)]
