"""Bounded bookkeeping of the peer layer: seen-sets, per-peer rate limits and ban scores.

Pure (time is an argument): :class:`SeenSet` remembers at most ``capacity`` ids (oldest dropped
first), :class:`SeenMap` the same with a value per id, :class:`TokenBucket` is a per-peer rate
limit, :class:`BanList` adds up a ban score per peer key and bans the key for ``ban_s`` seconds
once the score reaches the threshold.

Penalties (:data:`PENALTY`) for what a peer sent: an invalid block or a malformed message costs
half the threshold (two and the peer is out), an invalid transaction a fifth. State-dependent
failures (a nonce already used, a block that arrived late, an unknown parent) cost nothing: an
honest peer can send them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

BAN_THRESHOLD = 100
DEFAULT_BAN_S = 3600
PENALTY = {
    "invalid_block": 50,
    "malformed": 50,
    "too_large": 50,
    "unknown_type": 50,
    "unexpected": 25,
    "invalid_tx": 20,
    "invalid_evidence": 20,
    "invalid_share": 20,
    "bad_claim": 20,
    "conflicting_final": 20,
    "rate_limited": 10,
}


class SeenSet:
    """The last ``capacity`` keys added (an LRU of ids)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Hashable) -> bool:
        """Remember ``key``; True if it was new."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return True

    def discard(self, key: Hashable) -> None:
        """Forget ``key`` (absent: nothing)."""
        self._keys.pop(key, None)


class SeenMap(Generic[K, V]):
    """The last ``capacity`` keys added, each with a value (an LRU map)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def add(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: float, now: float):
        self.rate, self.burst = rate, burst
        self._tokens, self._at = burst, now

    def take(self, now: float, amount: float = 1.0) -> bool:
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < amount:
            return False
        self._tokens -= amount
        return True


class BanList:
    """Ban scores per peer key (an IP, or ``ip|nodeId`` on loopback) and the bans they earned."""

    def __init__(
        self, threshold: int = BAN_THRESHOLD, ban_s: float = DEFAULT_BAN_S, capacity: int = 10_000
    ):
        self.threshold, self.ban_s, self.capacity = threshold, ban_s, capacity
        self._scores: OrderedDict[str, int] = OrderedDict()
        self._banned: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def score(self, key: str) -> int:
        return self._scores.get(key, 0)

    def penalize(self, key: str, what: str, now: float, detail: str = "") -> bool:
        """Add the penalty for ``what``; True if the key is (now) banned."""
        score = self._scores.pop(key, 0) + PENALTY[what]
        self._scores[key] = score
        if len(self._scores) > self.capacity:
            self._scores.popitem(last=False)
        if score >= self.threshold:
            self._banned.pop(key, None)
            self._banned[key] = (now + self.ban_s, f"{what}: {detail}"[:100])
            if len(self._banned) > self.capacity:
                self._banned.popitem(last=False)
            self._scores.pop(key, None)
            return True
        return False

    def banned(self, key: str, now: float) -> str | None:
        """The reason ``key`` is banned, or None (an expired ban is forgotten)."""
        entry = self._banned.get(key)
        if entry is None:
            return None
        until, reason = entry
        if now >= until:
            del self._banned[key]
            return None
        return reason

    def entries(self, now: float) -> list[dict[str, object]]:
        return [
            {"peer": key, "until": until, "reason": reason}
            for key, (until, reason) in self._banned.items()
            if until > now
        ]
