"""RLP from outside (relay payloads, proofs, headers, receipts), decoded in linear time.

pyrlp's ``rlp.decode`` recurses once per nesting level and re-concatenates every list's bytes
item by item, so hostile input costs quadratic time: 120,000 nested lists (under 1 MiB) kept the
node busy for tens of seconds, and a flat list of 200,000 one-byte items for over a second
(issue 11, item 3). :func:`decode` is an iterative decoder with pyrlp's strict rules:

* one item, no trailing bytes; every length inside the input;
* a single byte below 0x80 is never wrapped as a one-byte string;
* long-form lengths (strings or lists of 56 bytes or more) have no leading zero byte and are
  never used for shorter payloads;
* a list's items end exactly at the list's end.

It returns what ``rlp.decode`` returns (``bytes`` and nested ``list``), differentially tested
against pyrlp (``tests/unit/spv/test_spv_rlp_bounded.py``). It refuses nesting deeper than
``max_depth`` (real Ethereum data stays under 16: a header is 1 deep, a receipt 3, a trie node
with inline children less than 16 since an inline node is under 32 bytes) and more than
``max_items`` items in all (a header has 21, a receipt 8 per log). Errors are
:class:`~etm_bridge.errors.ValidationError` naming the rule. Pure.
"""

from __future__ import annotations

from typing import Any

from etm_bridge.errors import ValidationError

#: Deepest list nesting accepted; see the module docstring for what real data needs.
MAX_RLP_DEPTH = 32
#: Most items (strings and lists, at every depth) accepted in one input: a receipt of 16,000
#: four-topic logs fits; a megabyte of one-byte items (1,000,000) does not.
MAX_RLP_ITEMS = 1 << 17
_SHORT = 56


def _fail(rule: str) -> ValidationError:
    return ValidationError(f"not canonical RLP: {rule}")


def _long_length(data: bytes, pos: int, width: int, kind: str) -> int:
    """The big-endian length of ``width`` bytes at ``pos`` (a long-form prefix)."""
    if pos + width > len(data):
        raise _fail(f"{kind} length prefix runs past the end")
    if data[pos] == 0:
        raise _fail(f"{kind} length has a leading zero byte")
    length = int.from_bytes(data[pos : pos + width], "big")
    if length < _SHORT:
        raise _fail(f"long {kind} prefix used for a {length}-byte {kind}")
    return length


def _string(data: bytes, pos: int) -> tuple[bytes, int]:
    """The string item at ``pos`` (first byte below 0xC0) and the position after it."""
    first = data[pos]
    if first < 0x80:
        return data[pos : pos + 1], pos + 1
    if first < 0xB8:
        start, length = pos + 1, first - 0x80
        if length == 1 and start < len(data) and data[start] < 0x80:
            raise _fail("a single byte below 0x80 encoded as a string")
    else:
        width = first - 0xB7
        start = pos + 1 + width
        length = _long_length(data, pos + 1, width, "string")
    end = start + length
    if end > len(data):
        raise _fail("a string runs past the end")
    return data[start:end], end


def decode(data: bytes, max_depth: int = MAX_RLP_DEPTH, max_items: int = MAX_RLP_ITEMS) -> Any:
    """The item encoded by ``data`` (``bytes`` or nested lists of them); ValidationError if
    ``data`` is not exactly one canonical RLP item, nested at most ``max_depth`` lists deep,
    of at most ``max_items`` items."""
    data = bytes(data)
    if not data:
        raise _fail("empty input")
    root: list[Any] = []
    # Open lists: (items so far, end position). The root pseudo-list takes the one top item.
    stack: list[tuple[list[Any], int]] = [(root, len(data))]
    pos = count = 0
    while True:
        items, end = stack[-1]
        if pos == end:
            stack.pop()
            if not stack:
                break
            stack[-1][0].append(items)
            continue
        if pos > end:
            raise _fail("an item runs past the end of its list")
        if len(stack) == 1 and root:
            raise _fail(f"{len(data) - pos} superfluous bytes after the item")
        count += 1
        if count > max_items:
            raise ValidationError(f"RLP holds more than {max_items} items")
        first = data[pos]
        if first < 0xC0:
            item, pos = _string(data, pos)
            items.append(item)
            continue
        if first < 0xF8:
            start, length = pos + 1, first - 0xC0
        else:
            width = first - 0xF7
            start, length = pos + 1 + width, _long_length(data, pos + 1, width, "list")
        if start + length > end:
            raise _fail("a list runs past the end of its parent")
        if len(stack) > max_depth:
            raise ValidationError(f"RLP nested more than {max_depth} lists deep")
        stack.append(([], start + length))
        pos = start
    return root[0]
