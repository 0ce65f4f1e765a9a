"""Addresses: bech32m round trips and decoding errors that name the problem."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.chain.address import address_hash, address_of, decode_address, encode_address
from etm_bridge.chain.keys import dev_key
from etm_bridge.errors import AddressError

GOOD = address_of(dev_key("a").public_key)


@given(st.binary(min_size=20, max_size=20))
def test_encode_decode_round_trip(h: bytes) -> None:
    text = encode_address(h)
    assert text.startswith("etm1") and len(text) == 42
    assert decode_address(text) == h
    assert decode_address(text.upper()) == h


def test_address_is_sha256_prefix_of_public_key() -> None:
    import hashlib

    pk = dev_key("a").public_key
    assert address_hash(pk) == hashlib.sha256(pk).digest()[:20]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (GOOD[:-1] + ("q" if GOOD[-1] != "q" else "p"), "bad checksum"),
        (GOOD[:6] + GOOD[6].upper() + GOOD[7:], "mixes upper and lower case"),
        ("bc" + GOOD[3:], "prefix 'bc'"),
        (GOOD[:5] + "b" + GOOD[6:], "character 'b' at position 5"),
        ("etmqqqq", "no '1' separator"),
        ("etm1qqq", "too short"),
        (encode_address(bytes(20))[:-8] + "qqqqqqqq", "bad checksum"),
    ],
)
def test_decode_errors_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(AddressError, match=problem):
        decode_address(text)


def test_wrong_payload_length_is_named() -> None:
    from etm_bridge.chain import address as a

    data = a._convert_bits(bytes(21), 8, 5, pad=True)
    poly = a._polymod([*a._hrp_expand("etm"), *data, 0, 0, 0, 0, 0, 0]) ^ a._BECH32M_CONST
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    text = "etm1" + "".join(a._CHARSET[d] for d in data + checksum)
    with pytest.raises(AddressError, match="holds 21 bytes, expected 20"):
        decode_address(text)


@given(st.integers(min_value=4, max_value=41), st.sampled_from("qpzry9x8gf2tvdw0"))
def test_any_single_substitution_is_detected(pos: int, ch: str) -> None:
    if GOOD[pos] == ch:
        return
    with pytest.raises(AddressError):
        decode_address(GOOD[:pos] + ch + GOOD[pos + 1 :])
