"""Hostile inputs of issue 11 item 3, built in linear time, for regression tests and benchmarks.

Each is under the 1 MiB payload limit and was seen to crash or stall the node before the fix:
``nested_json(400_000)`` (``json.loads`` overflowed the C stack with py_ecc's recursion limit).
A chain's own hostile encodings live in its folder (``etm_bridge.chains.<name>.hostile``).
"""

from __future__ import annotations


def nested_json(depth: int) -> bytes:
    """``depth`` opening brackets: JSON that ``json.loads`` recurses into once per bracket."""
    return b"[" * depth
