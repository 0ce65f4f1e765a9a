"""The linear RLP decoder agrees with pyrlp on every input, and refuses depth/size bombs fast.

pyrlp's own decoder is the reference: hypothesis feeds both encodings of random structures,
mutations of them and raw bytes, and the two must return the same item or both refuse (at the
default caps, which no generated input reaches). The hostile inputs of issue 11 item 3 (deep
nesting, a megabyte of one-byte items) are refused by the caps before any real work.
"""

from __future__ import annotations

import rlp
from hypothesis import given, settings
from hypothesis import strategies as st

from etm_bridge.chains.ethereum.hostile import flat_rlp, nested_rlp
from etm_bridge.chains.ethereum.spv import rlp_bounded
from etm_bridge.errors import ValidationError

SETTINGS = settings(max_examples=400, deadline=None, derandomize=True)

items = st.recursive(
    st.binary(max_size=70),
    lambda children: st.lists(children, max_size=6),
    max_leaves=40,
)


def _depth(item: object) -> int:
    return 1 + max(map(_depth, item), default=0) if isinstance(item, list) else 0


def _pyrlp(data: bytes) -> tuple[bool, object]:
    try:
        return True, rlp.decode(data)
    except rlp.exceptions.DecodingError:
        return False, None


def _ours(data: bytes) -> tuple[bool, object]:
    try:
        return True, rlp_bounded.decode(data)
    except ValidationError:
        return False, None


@SETTINGS
@given(items)
def test_round_trip_of_any_structure(item: object) -> None:
    assert rlp_bounded.decode(rlp.encode(item)) == item


@SETTINGS
@given(items, st.data())
def test_mutated_encodings_are_judged_like_pyrlp(item: object, data: st.DataObject) -> None:
    raw = bytearray(rlp.encode(item))
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "append"]))
        pos = data.draw(st.integers(0, len(raw)))
        byte = data.draw(st.integers(0, 255))
        if action == "flip" and pos < len(raw):
            raw[pos] = byte
        elif action == "cut":
            del raw[pos:]
        elif action == "insert":
            raw.insert(pos, byte)
        else:
            raw.append(byte)
    assert _ours(bytes(raw)) == _pyrlp(bytes(raw))


@SETTINGS
@given(st.binary(max_size=120))
def test_raw_bytes_are_judged_like_pyrlp(raw: bytes) -> None:
    assert _ours(raw) == _pyrlp(raw)


def test_non_canonical_forms_are_refused_with_the_rule() -> None:
    cases = {
        b"\x81\x05": "single byte",
        b"\xb8\x05" + b"a" * 5: "long string prefix",
        b"\xb9\x00\x40" + b"a" * 64: "leading zero",
        b"\xf8\x01\x80": "long list prefix",
        b"\xc1\x80\x80": "superfluous",
        b"\xc2\x82\x01": "past",
        b"": "empty",
    }
    for raw, rule in cases.items():
        try:
            rlp_bounded.decode(raw)
        except ValidationError as exc:
            assert rule in str(exc), (raw, exc)
        else:
            raise AssertionError(f"{raw.hex()} was accepted")


def test_depth_and_item_caps() -> None:
    nested: object = []
    for _ in range(5):
        nested = [nested]
    encoded = rlp.encode(nested)
    assert rlp_bounded.decode(encoded, max_depth=6) == nested
    try:
        rlp_bounded.decode(encoded, max_depth=5)
    except ValidationError as exc:
        assert "more than 5 lists deep" in str(exc)
    else:
        raise AssertionError("depth cap not applied")
    flat = rlp.encode([b"\x01"] * 10)
    assert len(rlp_bounded.decode(flat, max_items=11)) == 10
    try:
        rlp_bounded.decode(flat, max_items=10)
    except ValidationError as exc:
        assert "more than 10 items" in str(exc)
    else:
        raise AssertionError("item cap not applied")


def test_bombs_are_refused_at_the_caps() -> None:
    try:
        rlp_bounded.decode(nested_rlp(100_000))
    except ValidationError as exc:
        assert "deep" in str(exc)
    else:
        raise AssertionError("100,000 nested lists accepted")
    try:
        rlp_bounded.decode(flat_rlp(1_000_000))
    except ValidationError as exc:
        assert "items" in str(exc)
    else:
        raise AssertionError("a million items accepted")


def test_hostile_builders_match_pyrlp() -> None:
    nested: object = []
    for _ in range(60):
        nested = [nested]
    assert nested_rlp(60) == rlp.encode(nested) and _depth(nested) == 61
    assert flat_rlp(300) == rlp.encode([b"\x01"] * 300)
