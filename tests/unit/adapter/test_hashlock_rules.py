"""Cross-chain hashlock rules: sha256, exactly 32-byte preimages, every-push extraction, margins."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.errors import HashlockError, TimelockError
from etm_bridge.hashlock import (
    LEG_MARGIN_S,
    blocks_for_seconds,
    check_leg_margin,
    check_preimage,
    check_refund_allowed,
    find_preimage_in_bytes,
    find_preimage_in_pushes,
    hashlock_of,
    refund_allowed,
    seconds_left,
)
from etm_bridge.testing.preimages import new_preimage


def test_hashlock_is_single_sha256_of_the_preimage() -> None:
    preimage = bytes(range(32))
    assert hashlock_of(preimage) == hashlib.sha256(preimage).digest()


def test_new_preimages_are_32_bytes_and_distinct() -> None:
    assert len(new_preimage()) == 32
    assert new_preimage() != new_preimage()


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_preimage_of_wrong_length_is_rejected_with_its_length(length: int) -> None:
    with pytest.raises(HashlockError, match=f"got {length}"):
        hashlock_of(b"\x01" * length)


def test_check_preimage_names_the_mismatch() -> None:
    with pytest.raises(HashlockError, match="does not match"):
        check_preimage(new_preimage(), hashlock_of(new_preimage()))


def test_check_preimage_rejects_a_short_hashlock() -> None:
    with pytest.raises(HashlockError, match="hashlock must be 32 bytes"):
        check_preimage(new_preimage(), b"\x00" * 20)


def test_extraction_scans_every_push_not_a_fixed_position() -> None:
    preimage = new_preimage()
    pushes = [b"\x30" * 71, b"", b"\x01", preimage, b"script"]
    assert find_preimage_in_pushes(pushes, hashlock_of(preimage)) == preimage
    assert find_preimage_in_pushes(pushes[:3], hashlock_of(preimage)) is None


def test_extraction_ignores_a_33_byte_push_even_if_it_hashes_to_the_lock() -> None:
    long_secret = b"\x07" * 33
    lock = hashlib.sha256(long_secret).digest()
    assert find_preimage_in_pushes([long_secret], lock) is None


@given(st.binary(max_size=100), st.binary(max_size=100))
def test_extraction_finds_the_preimage_at_any_offset_of_call_data(
    prefix: bytes, suffix: bytes
) -> None:
    preimage = hashlib.sha256(prefix + suffix).digest()  # any 32 bytes
    assert find_preimage_in_bytes(prefix + preimage + suffix, hashlock_of(preimage)) == preimage


def test_refund_is_valid_only_strictly_after_the_timelock_block() -> None:
    assert not refund_allowed(timelock_height=100, next_block_height=100)
    assert refund_allowed(timelock_height=100, next_block_height=101)


def test_refund_check_names_the_lock_and_the_first_valid_block() -> None:
    check_refund_allowed("lock x", timelock_height=100, next_block_height=101)
    with pytest.raises(TimelockError, match=r"lock x can be refunded from block 101; .* is 100"):
        check_refund_allowed("lock x", timelock_height=100, next_block_height=100)


def test_blocks_for_seconds_rounds_up() -> None:
    assert blocks_for_seconds(LEG_MARGIN_S, 600) == 36
    assert blocks_for_seconds(601, 600) == 2
    assert blocks_for_seconds(LEG_MARGIN_S, 12) == 1800


def test_bad_block_time_is_rejected() -> None:
    with pytest.raises(TimelockError, match="block time"):
        blocks_for_seconds(10, 0)


def test_leg_margin_is_enforced_in_seconds_across_chains() -> None:
    long_leg = seconds_left(timelock_height=300, tip_height=200, block_time_s=600)  # BTC
    short_leg = seconds_left(timelock_height=3000, tip_height=1000, block_time_s=12)  # ETH
    check_leg_margin(long_leg, short_leg)  # 60000 s vs 24000 s: 36000 s >= 21600 s
    with pytest.raises(TimelockError, match="margin"):
        check_leg_margin(short_leg + LEG_MARGIN_S - 1, short_leg)
