"""Frozen observation types validate on construction; the typed lock check names each reason."""

from __future__ import annotations

import dataclasses

import pytest

from etm_bridge.adapter import (
    ChainInfo,
    FeeEstimate,
    HtlcLock,
    HtlcSpend,
    HtlcTerms,
    InclusionProof,
    KeyKind,
    LockState,
    SpendKind,
    Tip,
    check_header_range,
    check_lock_terms,
    lock_mismatches,
)
from etm_bridge.chains.ethereum import ETHEREUM_ADDRESS
from etm_bridge.errors import HashlockError, LockMismatchError, ValidationError

CLAIM = b"\x02" + b"\x11" * 32
REFUND = b"\x03" + b"\x22" * 32
TERMS = HtlcTerms(
    amount=10_000, hashlock=b"\xaa" * 32, claim_key=CLAIM, refund_key=REFUND, timelock_height=150
)


def _lock(**changes: object) -> HtlcLock:
    base = HtlcLock("bitcoin", "ab" * 32 + ":0", "ab" * 32, TERMS, block_height=100)
    return dataclasses.replace(base, **changes)


def test_observations_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TERMS.amount = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", 0, "amount must be >= 1"),
        ("amount", 1.5, "amount must be an int"),
        ("claim_key", "02ab", "claim_key must be bytes"),
        ("timelock_height", 0, "timelock_height must be >= 1"),
    ],
)
def test_terms_reject_bad_values_by_name(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        dataclasses.replace(TERMS, **{field: value})


def test_terms_reject_a_31_byte_hashlock() -> None:
    with pytest.raises(HashlockError):
        dataclasses.replace(TERMS, hashlock=b"\x00" * 31)


def test_key_kind_check_names_the_expected_kind() -> None:
    TERMS.check_key_kind(KeyKind.SECP256K1_COMPRESSED)
    with pytest.raises(ValidationError, match="ethereum-address of 20 bytes"):
        TERMS.check_key_kind(ETHEREUM_ADDRESS)


def test_other_observations_validate() -> None:
    with pytest.raises(ValidationError, match="block_hash_hex"):
        Tip(1, "XYZ")
    with pytest.raises(ValidationError, match="source"):
        FeeEstimate(5, "sat/vB", "guess")
    with pytest.raises(ValidationError, match="refund carries no preimage"):
        HtlcSpend("x:0", "ab", SpendKind.REFUND, b"\x00" * 32, None)
    with pytest.raises(ValidationError, match="preimage must be 32 bytes"):
        HtlcSpend("x:0", "ab", SpendKind.CLAIM, b"\x00" * 33, None)
    with pytest.raises(ValidationError, match="header must be 80 bytes"):
        InclusionProof("bitcoin-merkle", 1, b"\x00" * 79, b"tx", (), 0)
    with pytest.raises(ValidationError, match="block_time_s"):
        ChainInfo("x", "regtest", "X", "u", 8, 0, 1, KeyKind.SECP256K1_COMPRESSED)


def test_confirmations_count_the_lock_block_itself() -> None:
    assert _lock().confirmations_at(100) == 1
    assert _lock().confirmations_at(105) == 6
    assert _lock(block_height=None).confirmations_at(105) == 0


def test_matching_lock_passes_and_overpayment_is_accepted() -> None:
    check_lock_terms(_lock(), TERMS, chain="bitcoin", min_confirmations=1, now_height=100)
    richer = _lock(terms=dataclasses.replace(TERMS, amount=20_000))
    check_lock_terms(richer, TERMS, chain="bitcoin", min_confirmations=1, now_height=100)


@pytest.mark.parametrize(
    ("lock_changes", "reason"),
    [
        ({"chain": "ethereum"}, "wrong_chain"),
        ({"terms": dataclasses.replace(TERMS, asset_id=b"\x01" * 20)}, "wrong_asset"),
        ({"terms": dataclasses.replace(TERMS, amount=9_999)}, "wrong_amount"),
        ({"terms": dataclasses.replace(TERMS, hashlock=b"\xbb" * 32)}, "wrong_hashlock"),
        ({"terms": dataclasses.replace(TERMS, claim_key=REFUND)}, "wrong_claim_key"),
        ({"terms": dataclasses.replace(TERMS, refund_key=CLAIM)}, "wrong_refund_key"),
        ({"terms": dataclasses.replace(TERMS, timelock_height=149)}, "timelock_too_short"),
        ({"state": LockState.CLAIMED}, "already_spent"),
        ({"block_height": None}, "not_confirmed"),
    ],
)
def test_each_mismatch_has_its_typed_reason(lock_changes: dict, reason: str) -> None:
    with pytest.raises(LockMismatchError) as info:
        check_lock_terms(
            _lock(**lock_changes), TERMS, chain="bitcoin", min_confirmations=1, now_height=100
        )
    assert info.value.reason == reason


def test_timelock_too_close_to_now() -> None:
    problems = lock_mismatches(
        _lock(), TERMS, chain="bitcoin", min_confirmations=1, now_height=140, min_blocks_left=20
    )
    assert [reason.value for reason, _ in problems] == ["timelock_too_close"]


@pytest.mark.parametrize(("start", "count"), [(-1, 1), (0, -1), (1.5, 1), (True, 1), (0, "2")])
def test_header_range_must_be_non_negative_ints(start: object, count: object) -> None:
    with pytest.raises(ValidationError, match="must be an int >= 0"):
        check_header_range(start, count)  # type: ignore[arg-type]
    check_header_range(0, 0)
