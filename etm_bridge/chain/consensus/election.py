"""Round election: the top ``n`` delegates by vote weight become the round's SCV miners.

Whitepaper 4.4 / 5.1: tribunals' weights elect the SCV miners each period, and a miner that
misbehaved (here: missed its slot or failed the hashing test in the last round) is expelled at
the next election. Ties are broken by public key bytes (ascending), so every node agrees.

Liveness over punishment: if fewer than ``n`` eligible delegates remain, the free seats are
backfilled with the best *ineligible* delegates (in the same weight order). Without this, one
round in which every delegate missed a slot (e.g. the only node was down) would elect nobody and
halt the chain for good. Ineligible delegates are therefore pushed behind every eligible one but
not removed from a round that would otherwise be short.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet

from ...errors import ValidationError


def ranking(weights: Mapping[bytes, int]) -> list[bytes]:
    """All delegates, highest weight first, ties by public key bytes ascending."""
    for key, weight in weights.items():
        if not isinstance(key, bytes) or not key:
            raise ValidationError("delegate keys must be non-empty bytes")
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
            raise ValidationError(f"vote weight of {key.hex()} must be a non-negative int")
    return sorted(weights, key=lambda key: (-weights[key], key))


def elect(weights: Mapping[bytes, int], n: int, ineligible: AbstractSet[bytes]) -> list[bytes]:
    """The round's ``min(n, len(weights))`` forgers, best first (eligible before ineligible).

    ``weights`` maps every registered delegate's public key to its total vote weight (0 allowed).
    The result is in rank order, not forging order (see ``shuffle.forging_order``).
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValidationError(f"number of forgers must be a positive int, got {n!r}")
    ranked = ranking(weights)
    eligible = [key for key in ranked if key not in ineligible]
    expelled = [key for key in ranked if key in ineligible]
    return (eligible + expelled)[:n]
