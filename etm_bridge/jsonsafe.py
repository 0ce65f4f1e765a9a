"""JSON from servers we do not trust, decoded only when its nesting is bounded.

Importing web3 (through py_ecc) raises Python's recursion limit to 100,000, so ``json.loads``
of a reply nested a few hundred thousand arrays deep overflows the C stack and the process dies
with a segfault instead of an exception. A malicious ``--url`` server could send one. Every reply
the JSON-RPC client (:mod:`etm_bridge.jsonrpc`) and the node client
(:mod:`etm_bridge.node.client`) parse goes through :func:`loads_bounded`, which measures the
nesting first, in one linear pass that does not recurse. (The node's own API refuses request
bodies with more than ``MAX_JSON_CONTAINERS`` arrays/objects, a stricter rule for flat bodies.)
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import ValidationError

#: Deepest array/object nesting accepted in a reply; real replies (blocks, receipts with logs,
#: node API documents) stay under 10.
MAX_JSON_DEPTH = 64
_TOKENS = re.compile(r'[\\"\[\]{}]')


def json_depth(text: str, stop_above: int | None = None) -> int:
    """How deep arrays/objects nest in ``text`` (brackets inside string literals do not count).

    An upper bound for malformed text: a stray closer never lowers the depth below zero, and
    ``json.loads`` rejects such text at that point anyway. With ``stop_above``, the scan ends as
    soon as the depth exceeds it (a megabyte of ``[`` then costs microseconds, not a second).
    """
    depth = deepest = 0
    in_string, escaped_at = False, -1
    for match in _TOKENS.finditer(text):
        pos, char = match.start(), match.group()
        if pos == escaped_at:
            continue
        if in_string:
            if char == "\\":
                escaped_at = pos + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if stop_above is not None and deepest > stop_above:
                break
        elif char in "]}":
            depth = max(depth - 1, 0)
    return deepest


def loads_bounded(data: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads(data)`` unless arrays/objects nest deeper than ``max_depth``.

    ValidationError names the depth when too deep; invalid JSON or bytes that are not UTF-8/16/32
    raise ``ValueError`` as ``json.loads`` does (ValidationError is a ValueError too).
    """
    text = (
        data if isinstance(data, str) else data.decode(json.detect_encoding(data), "surrogatepass")
    )
    too_many = text.count("[") + text.count("{") > max_depth
    if too_many and json_depth(text, stop_above=max_depth) > max_depth:
        raise ValidationError(
            f"JSON nested more than {max_depth} arrays/objects deep (at most {max_depth}"
            " are accepted); refused unparsed"
        )
    return json.loads(text)
