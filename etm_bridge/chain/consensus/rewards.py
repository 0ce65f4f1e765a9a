"""Per-round tribunal rewards: a fixed part by tickets plus a dynamic part by productive tickets.

Whitepaper 5.1 item 2: ``token = fixed(tickets1) + dynamic(tickets2)``. The fixed part rewards
every tribunal by the vote weight ("tickets") it committed; the dynamic part rewards only the
tickets that went to delegates that actually forged in the round ("the right SCV miners"). The
whitepaper lets each tribunal choose its own split; we use one chain-wide ``fixed_share_ppm``
(parts per million of the pool) so the round's payout is one deterministic function.

Every unit of the pool is paid: each part is split with the largest-remainder method (floor
shares, then one unit to each of the largest remainders, ties by tribunal key ascending). If no
ticket was productive, the dynamic part joins the fixed part. If there are no tickets at all,
nothing is paid and the caller must not mint the pool (the result is an empty dict).
"""

from __future__ import annotations

from collections.abc import Mapping

from ...errors import ValidationError

PPM = 1_000_000


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValidationError(f"{name} must be an int >= {low}, got {value!r}")
    if high is not None and value > high:
        raise ValidationError(f"{name} must be <= {high}, got {value}")
    return value


def largest_remainder(amount: int, shares: Mapping[bytes, int]) -> dict[bytes, int]:
    """Split ``amount`` in proportion to ``shares`` (total > 0); the result sums to ``amount``."""
    total = sum(shares.values())
    if total <= 0:
        raise ValidationError("cannot split an amount over zero total shares")
    floors: dict[bytes, int] = {}
    remainders: list[tuple[int, bytes]] = []
    for key, share in shares.items():
        quotient, remainder = divmod(amount * share, total)
        floors[key] = quotient
        remainders.append((-remainder, key))
    leftover = amount - sum(floors.values())
    for _, key in sorted(remainders)[:leftover]:
        floors[key] += 1
    return floors


def split_round_rewards(
    pool: int,
    fixed_share_ppm: int,
    tickets: Mapping[bytes, int],
    productive_tickets: Mapping[bytes, int],
) -> dict[bytes, int]:
    """Each tribunal's reward for the round; the values sum to ``pool`` exactly.

    ``tickets[t]`` is tribunal ``t``'s vote weight in the round; ``productive_tickets[t]`` the
    part of it that backed delegates which forged (``<= tickets[t]``). Tribunals with a zero
    reward are omitted.
    """
    _check_int("reward pool", pool, 0)
    _check_int("fixed_share_ppm", fixed_share_ppm, 0, PPM)
    for key, value in tickets.items():
        _check_int(f"tickets of {key.hex()}", value, 0)
    for key, value in productive_tickets.items():
        _check_int(f"productive tickets of {key.hex()}", value, 0, tickets.get(key, 0))
    if pool == 0 or sum(tickets.values()) == 0:
        return {}
    fixed = pool * fixed_share_ppm // PPM
    dynamic = pool - fixed
    if sum(productive_tickets.values()) == 0:
        fixed, dynamic = pool, 0
    rewards = largest_remainder(fixed, tickets)
    if dynamic:
        for key, amount in largest_remainder(dynamic, productive_tickets).items():
            rewards[key] = rewards.get(key, 0) + amount
    return {key: amount for key, amount in sorted(rewards.items()) if amount > 0}
