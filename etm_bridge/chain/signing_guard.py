"""Never sign twice: the rule a forger's slashing protection enforces, and its seam.

A key may sign a block header only at a slot strictly above the highest slot it ever signed.
This is stricter than "not twice for one slot" and is what beacon-chain validators enforce for
blocks after an EIP-3076 import (a lower bound): it needs one number per key, survives a restart,
a reorg that takes the signed block away, and a move of the key to another machine (export and
import the record), and it costs nothing honest: slots only go forward, and a forger never needs
to sign an older slot again.

``Chain.forge_next(now, keys, guard)`` asks ``guard.approve(key, slot, signing_root)`` after the
header is complete and *before* it signs; the guard must have made its record durable when
``approve`` returns, or raise :class:`~etm_bridge.errors.SigningRefusedError`. The node's guard is
``etm_bridge.node.slashing_protection.SlashingProtection`` (SQLite, fsync'd); without one the chain
uses a :class:`MemorySigningGuard` (protects within one process only: tests and tools).
"""

from __future__ import annotations

from typing import Protocol

from ..errors import SigningRefusedError


class SigningGuard(Protocol):
    def approve(self, public_key: bytes, slot: int, signing_root: bytes) -> None:
        """Durably record the signature about to be made, or raise SigningRefusedError."""
        ...


def refusal(public_key: bytes, slot: int, highest: int | None) -> SigningRefusedError | None:
    """The error to raise if ``public_key`` may not sign at ``slot``, else None."""
    if highest is None or slot > highest:
        return None
    return SigningRefusedError(
        f"delegate {public_key.hex()[:16]}… already signed a block at slot {highest}; refusing to"
        f" sign slot {slot} (slashing protection: only slots above the highest signed)"
    )


class MemorySigningGuard:
    """The rule kept in memory: enough inside one process, lost on restart."""

    def __init__(self) -> None:
        self.highest: dict[bytes, int] = {}

    def approve(self, public_key: bytes, slot: int, signing_root: bytes) -> None:
        error = refusal(public_key, slot, self.highest.get(public_key))
        if error is not None:
            raise error
        self.highest[public_key] = slot
