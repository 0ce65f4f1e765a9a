"""The committee-attested tip of an Ethereum relay (design-14 section 8.2, with one deviation).

In committee mode (``eth_attestation: "committee"``) anyone may relay Ethereum headers, but a
header counts (is in the best chain, gives confirmations) only once **m** members of the newest
custody committee attest it or a descendant. Each member has one *latest* attestation
``(number, hash)``; :func:`attested_tip` walks each attestation down the stored parent links and
returns the highest header that at least ``m`` walks visit. Two headers at one height cannot
both reach ``m`` (``m > n/2`` and a walk visits one header per height), so the answer is unique,
and members that saw different tips still agree on their common part.

Window (bounded and deterministic): ``top`` is the **m-th highest** attestation number (no
header above it can have ``m`` walks), ``low = max(checkpoint, top - 256)``; attestations outside
``[low, top + 256]`` are ignored and walks stop at ``low``. So at most 15 walks of at most 513
steps. Design-14 takes the *highest* attestation as ``top``: then one rogue member attesting a
header 257 above the honest ones would push every honest attestation out of the window and
freeze the relay; with the m-th highest it takes ``n - m + 1`` members to move the window.

:func:`encode_attestations` / :func:`decode_attestations` are the stored form (one record:
``member 32 || number u64 BE || hash 32`` per member, ascending by member). Pure.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from etm_bridge.errors import ConfigError

#: How far below the m-th highest attestation a walk goes (and how far above it one may start).
WINDOW = 256
_ENTRY = 72


@dataclass(frozen=True)
class Attestation:
    """A member's latest attestation: the Ethereum block ``number`` with ``hash``."""

    member: bytes
    number: int
    hash: bytes


def encode_attestations(attestations: Iterable[Attestation]) -> bytes:
    by_member = {a.member: a for a in attestations}
    return b"".join(
        m + struct.pack(">Q", by_member[m].number) + by_member[m].hash for m in sorted(by_member)
    )


def decode_attestations(raw: bytes | None) -> list[Attestation]:
    if not raw:
        return []
    if len(raw) % _ENTRY:
        raise ConfigError("the Ethereum relay's attestation record is corrupt")
    return [
        Attestation(raw[i : i + 32], struct.unpack_from(">Q", raw, i + 32)[0], raw[i + 40 : i + 72])
        for i in range(0, len(raw), _ENTRY)
    ]


def with_attestation(
    current: Iterable[Attestation], new: Attestation, members: Collection[bytes]
) -> list[Attestation]:
    """``current`` with ``new`` replacing its member's previous one; members of no current
    committee are dropped (their attestations never count again)."""
    kept = {a.member: a for a in current if a.member in members}
    kept[new.member] = new
    return sorted(kept.values(), key=lambda a: a.member)


def attested_tip(
    attestations: Iterable[Attestation],
    members: Collection[bytes],
    m: int,
    floor: int,
    parent_of: Callable[[bytes], bytes | None],
) -> tuple[int, bytes] | None:
    """The highest ``(number, hash)`` visited by at least ``m`` members' walks (None: none).

    ``floor`` is the checkpoint number (no walk goes below it); ``parent_of(hash)`` reads the
    stored parent link (every stored header above the checkpoint has one)."""
    if m < 1:
        raise ConfigError("a committee threshold is at least 1")
    live = {a.member: a for a in attestations if a.member in members}
    if len(live) < m:
        return None
    top = sorted((a.number for a in live.values()), reverse=True)[m - 1]
    low = max(floor, top - WINDOW)
    counts: dict[bytes, int] = {}
    heights: dict[bytes, int] = {}
    for a in live.values():
        if not low <= a.number <= top + WINDOW:
            continue
        block, number = a.hash, a.number
        while True:
            counts[block] = counts.get(block, 0) + 1
            heights[block] = number
            if number <= low:
                break
            parent = parent_of(block)
            if parent is None:
                raise ConfigError(f"the Ethereum relay has no parent link for 0x{block.hex()}")
            block, number = parent, number - 1
    agreed = [(heights[b], b) for b, c in counts.items() if c >= m]
    return max(agreed) if agreed else None
