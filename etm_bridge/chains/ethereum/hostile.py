"""Hostile RLP of issue 11 item 3, built in linear time, for regression tests and benchmarks.

Each is under the 1 MiB payload limit and was seen to stall the node before the fix:
``nested_rlp(120_000)`` (pyrlp decodes nesting in quadratic time) and ``flat_rlp(1_000_000)``
(pyrlp re-concatenates a list's bytes item by item: quadratic too). The chain-neutral hostile
inputs (deep JSON) are in :mod:`etm_bridge.testing.hostile`.
"""

from __future__ import annotations


def _rlp_list_prefix(length: int) -> bytes:
    if length < 56:
        return bytes((0xC0 + length,))
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0xF7 + len(size),)) + size


def nested_rlp(depth: int) -> bytes:
    """Canonical RLP of ``[[[...[]...]]]``: an empty list inside ``depth`` more lists."""
    prefixes, length = [], 1
    for _ in range(depth):
        prefix = _rlp_list_prefix(length)
        prefixes.append(prefix)
        length += len(prefix)
    return b"".join(reversed(prefixes)) + b"\xc0"


def flat_rlp(count: int) -> bytes:
    """Canonical RLP of a list of ``count`` one-byte strings."""
    return _rlp_list_prefix(count) + b"\x01" * count
