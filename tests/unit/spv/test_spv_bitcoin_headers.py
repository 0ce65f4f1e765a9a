"""Header parsing, nBits decoding, PoW and the retarget formula against Core and real data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv.params import MAINNET, REGTEST, TESTNET3, params_for
from etm_bridge.errors import HeaderRejectedError, ValidationError

# (compact, value, negative, overflow, re-encoded) from Core's arith_uint256 SetCompact tests.
CORE_COMPACT_CASES = [
    (0x00000000, 0, False, False, 0),
    (0x00123456, 0, False, False, 0),
    (0x01003456, 0, False, False, 0),
    (0x02000056, 0, False, False, 0),
    (0x03000000, 0, False, False, 0),
    (0x04000000, 0, False, False, 0),
    (0x00923456, 0, False, False, 0),
    (0x01803456, 0, False, False, 0),
    (0x04800000, 0, False, False, 0),
    (0x01123456, 0x12, False, False, 0x01120000),
    (0x01FEDCBA, 0x7E, True, False, None),
    (0x02123456, 0x1234, False, False, 0x02123400),
    (0x03123456, 0x123456, False, False, 0x03123456),
    (0x04123456, 0x12345600, False, False, 0x04123456),
    (0x04923456, 0x12345600, True, False, None),
    (0x05009234, 0x92340000, False, False, 0x05009234),
    (0x20123456, 0x123456 << (8 * 29), False, False, 0x20123456),
]


@pytest.mark.parametrize(("bits", "value", "negative", "overflow", "again"), CORE_COMPACT_CASES)
def test_compact_decoding_matches_core(
    bits: int, value: int, negative: bool, overflow: bool, again: int | None
) -> None:
    assert bh.decode_compact(bits) == (value, negative, overflow)
    if again is not None:
        assert bh.encode_compact(value) == again


def test_compact_overflow_is_detected_like_core() -> None:
    assert bh.decode_compact(0xFF123456)[2] is True
    assert bh.decode_compact(0x22000001)[2] is False  # word <= 0xff and size 34 is fine
    assert bh.decode_compact(0x23000001)[2] is True


@pytest.mark.parametrize("bits", [0x04923456, 0xFF123456, 0x00000000, 0x1E00FFFF, 0x1D010000])
def test_invalid_or_too_easy_bits_are_rejected_as_bad_diffbits(bits: int) -> None:
    with pytest.raises(HeaderRejectedError) as info:
        bh.target_from_bits(bits, MAINNET.pow_limit)
    assert info.value.reason == "bad-diffbits"


@given(st.integers(min_value=1, max_value=(1 << 255)))
def test_compact_round_trip_never_increases_the_target(target: int) -> None:
    bits = bh.encode_compact(target)
    decoded, negative, overflow = bh.decode_compact(bits)
    assert not negative and not overflow
    assert decoded <= target
    assert bh.encode_compact(decoded) == bits


@given(st.binary(min_size=80, max_size=80))
def test_header_parse_round_trips_any_80_bytes(raw: bytes) -> None:
    header = bh.BlockHeader.from_bytes(raw)
    assert header.to_bytes() == raw
    assert header.hash_le == bh.dsha256(raw)
    assert header.hash_hex == header.hash_le[::-1].hex()


@given(st.binary(max_size=200).filter(lambda b: len(b) != 80))
def test_header_of_wrong_length_is_rejected(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        bh.BlockHeader.from_bytes(raw)


def test_genesis_headers_have_the_known_hashes() -> None:
    assert bh.BlockHeader.from_bytes(MAINNET.genesis_header).hash_hex == (
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    )
    assert bh.BlockHeader.from_bytes(TESTNET3.genesis_header).hash_hex == (
        "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943"
    )
    assert bh.BlockHeader.from_bytes(REGTEST.genesis_header).hash_hex == (
        "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
    )
    assert params_for("testnet") is TESTNET3


def test_genesis_work_is_cores_chainwork_at_height_0() -> None:
    assert bh.work_from_bits(0x1D00FFFF) == 0x100010001


def test_pow_of_real_headers_passes_and_a_changed_nonce_fails(vectors) -> None:
    for raw in vectors.headers("mainnet_headers_822528_826560.hex")[:50]:
        header = bh.BlockHeader.from_bytes(raw)
        bh.check_proof_of_work(header.hash_le, header.bits, MAINNET.pow_limit)
        bumped = bh.BlockHeader.from_bytes(raw[:76] + bytes([raw[76] ^ 1]) + raw[77:])
        with pytest.raises(HeaderRejectedError) as info:
            bh.check_proof_of_work(bumped.hash_le, bumped.bits, MAINNET.pow_limit)
        assert info.value.reason == "high-hash"


def test_all_250_real_retargets_are_reproduced(vectors) -> None:
    cases = vectors.json("bitcoin/mainnet_retarget_cases_2016_504000.json")["cases"]
    assert len(cases) == 250
    for case in cases:
        first, last, new = (
            bh.BlockHeader.from_hex(case[k])
            for k in ("period_first_header", "period_last_header", "new_header")
        )
        assert last.hash_le == new.prev_hash_le
        got = bh.calculate_next_work_required(MAINNET, last.bits, last.time, first.time)
        assert got == new.bits == int(case["new_bits"], 16)


def test_summa_retarget_vectors(vectors) -> None:
    cases = vectors.json("bitcoin/summa-bitcoin-spv/testVectors.json")["retargetAlgorithm"]
    real = [
        c
        for c in cases
        if c["input"][2]["height"] % 2016 == 0
        and c["input"][1]["height"] == c["input"][2]["height"] - 1
    ]
    assert len(real) >= 8
    for case in real:
        first, last, new = (bh.BlockHeader.from_hex(h["hex"][2:]) for h in case["input"])
        got = bh.calculate_next_work_required(MAINNET, last.bits, last.time, first.time)
        assert got == new.bits


def test_summa_extract_target_vectors(vectors) -> None:
    for case in vectors.json("bitcoin/summa-bitcoin-spv/testVectors.json")["extractTarget"]:
        header = bytes.fromhex(case["input"][2:])
        bits = int.from_bytes(header[72:76], "little")
        assert bh.decode_compact(bits)[0] == int(case["output"], 16)


def test_retarget_clamps_to_4x_and_pow_limit() -> None:
    bits = 0x1B0404CB
    target = bh.decode_compact(bits)[0]
    fast = bh.calculate_next_work_required(MAINNET, bits, 1_000, 1_000)  # timespan 0 -> /4
    assert bh.decode_compact(fast)[0] == bh.decode_compact(bh.encode_compact(target // 4))[0]
    slow = bh.calculate_next_work_required(MAINNET, 0x1D00FFFF, 10**9, 0)
    assert slow == 0x1D00FFFF  # capped at powLimit
    assert bh.calculate_next_work_required(REGTEST, 0x207FFFFF, 10**9, 0) == 0x207FFFFF


def test_median_time_past_and_time_limits() -> None:
    assert bh.median_time_past([5, 1, 9]) == 5
    assert bh.median_time_past(list(range(100))) == 94  # only the last 11 count
    with pytest.raises(HeaderRejectedError, match="time-too-old"):
        bh.check_time(10, 10, 1_000)
    with pytest.raises(HeaderRejectedError, match="time-too-new"):
        bh.check_time(1_000 + 7201, 10, 1_000)
    bh.check_time(1_000 + 7200, 10, 1_000)


def test_version_rule_follows_bip34_66_65_heights() -> None:
    bh.check_version(MAINNET, 1, MAINNET.bip34_height - 1)
    for version, height in ((1, 227931), (2, 363725), (3, 388381)):
        with pytest.raises(HeaderRejectedError, match="bad-version"):
            bh.check_version(MAINNET, version, height)
    bh.check_version(MAINNET, 0x20000000, 800_000)


@pytest.mark.parametrize(
    ("params", "bip34", "bip66", "bip65"),
    [(MAINNET, 227931, 363725, 388381), (TESTNET3, 21111, 330776, 581885)],
)
def test_version_minimum_switches_exactly_at_cores_heights(params, bip34, bip66, bip65) -> None:
    """Core's chainparams: each rule binds from its height on, never one block early."""
    for height, minimum in ((bip34, 2), (bip66, 3), (bip65, 4)):
        bh.check_version(params, minimum - 1, height - 1)  # one block earlier: still allowed
        bh.check_version(params, minimum, height)
        with pytest.raises(HeaderRejectedError, match="bad-version"):
            bh.check_version(params, minimum - 1, height)
    with pytest.raises(HeaderRejectedError, match="bad-version"):
        bh.check_version(REGTEST, 3, 1)  # regtest: all three from height 1
