"""The CommitteeVault's events as ETM reads them (pure): ABIs pinned to the artifact, foreign
or malformed logs refused, and the rule that closes a mandate (id, digest and terms). Real
receipts from anvil: tests/integration/ethereum/test_eth_committee_vault_proofs.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_abi import encode
from etm_bridge_ethereum.committee_vault_eip712 import (
    CounterLock,
    Payout,
    Rotate,
    VaultDomain,
    digest,
)
from etm_bridge_ethereum.committee_vault_events import (
    COUNTER_LOCKED_EVENT,
    PAID_EVENT,
    ROTATED_SIGNATURE,
    ROTATED_TOPIC,
    STATIC_EVENTS,
    check_outcome,
    counter_swap_hash,
    read_log,
)

from etm_bridge.chains.ethereum.spv.headers import EthLog, EventAbi
from etm_bridge.errors import InclusionProofError, ValidationError

ROOT = Path(__file__).resolve().parents[3]
ABI = json.loads((ROOT / "contracts/ethereum/artifacts/CommitteeVault.json").read_text())["abi"]
VAULT = b"\x11" * 20
DOMAIN = VaultDomain(31337, VAULT, b"\x22" * 32)
PAYOUT = Payout(b"\x01" * 32, 0, bytes(20), 10**18, b"\x5e" * 20, 4_102_444_800)
LOCK = CounterLock(b"\x02" * 32, 0, b"\x03" * 32, bytes(20), 5, b"\x77" * 20, 900, 4_102_444_800)
ROTATE = Rotate(b"\x04" * 32, 0, 1, (b"\x05" * 20, b"\x06" * 20, b"\x07" * 20, b"\x08" * 20), 3)


def word(value: bytes | int) -> bytes:
    return value.rjust(32, b"\x00") if isinstance(value, bytes) else value.to_bytes(32, "big")


def paid_log(p: Payout, emitter: bytes = VAULT, dig: bytes | None = None) -> EthLog:
    data = encode(["bytes32", "address", "uint256"], [dig or digest(DOMAIN, p), p.token, p.amount])
    return EthLog(emitter, (PAID_EVENT.topic0, p.mandate_id, word(p.to)), data)


def rotated_log(r: Rotate) -> EthLog:
    data = encode(["bytes32", "address[]", "uint8"],
                  [digest(DOMAIN, r), list(r.new_signers), r.new_threshold])  # fmt: skip
    return EthLog(VAULT, (ROTATED_TOPIC, r.mandate_id, word(r.new_epoch)), data)


def test_event_abis_are_the_artifacts() -> None:
    events = {e["name"]: e for e in ABI if e["type"] == "event"}
    for abi in STATIC_EVENTS.values():
        assert EventAbi.from_json(events[abi.name]) == abi
    rotated = events["Rotated"]
    assert f"Rotated({','.join(i['type'] for i in rotated['inputs'])})" == ROTATED_SIGNATURE
    assert set(events) == {e.name for e in STATIC_EVENTS.values()} | {"Rotated"}


def test_a_paid_log_closes_exactly_its_payout() -> None:
    event = read_log(paid_log(PAYOUT), VAULT)
    check_outcome(event, DOMAIN, PAYOUT)
    for other in (
        Payout(PAYOUT.mandate_id, 0, PAYOUT.token, PAYOUT.amount + 1, PAYOUT.to, PAYOUT.deadline),
        Payout(PAYOUT.mandate_id, 0, PAYOUT.token, PAYOUT.amount, b"\x5f" * 20, PAYOUT.deadline),
        Payout(b"\x09" * 32, *PAYOUT.values()[1:]),
    ):
        with pytest.raises(ValidationError):
            check_outcome(event, DOMAIN, other)
    with pytest.raises(ValidationError, match="digest"):  # same fields, another vault's domain
        check_outcome(event, VaultDomain(1, VAULT, DOMAIN.salt), PAYOUT)
    with pytest.raises(ValidationError, match="does not close"):
        check_outcome(event, DOMAIN, LOCK)


def test_a_log_whose_digest_or_terms_disagree_is_refused() -> None:
    with pytest.raises(ValidationError, match="digest"):
        check_outcome(read_log(paid_log(PAYOUT, dig=b"\x00" * 32), VAULT), DOMAIN, PAYOUT)
    forged = paid_log(Payout(*PAYOUT.values()[:4], b"\x5f" * 20, PAYOUT.deadline),
                      dig=digest(DOMAIN, PAYOUT))  # fmt: skip
    with pytest.raises(ValidationError, match="event's to differs"):
        check_outcome(read_log(forged, VAULT), DOMAIN, PAYOUT)


def test_a_counter_lock_log_names_the_htlc_swap_with_the_vault_as_refund_address() -> None:
    swap = counter_swap_hash(LOCK, VAULT)
    data = encode(["bytes32", "address", "uint256"], [digest(DOMAIN, LOCK), LOCK.token, 5])
    log = EthLog(VAULT, (COUNTER_LOCKED_EVENT.topic0, LOCK.mandate_id, swap), data)
    check_outcome(read_log(log, VAULT), DOMAIN, LOCK)
    other = EthLog(VAULT, (COUNTER_LOCKED_EVENT.topic0, LOCK.mandate_id,
                           counter_swap_hash(LOCK, b"\x12" * 20)), data)  # fmt: skip
    with pytest.raises(ValidationError, match="swapHash"):
        check_outcome(read_log(other, VAULT), DOMAIN, LOCK)


def test_a_rotated_log_carries_the_new_set() -> None:
    event = read_log(rotated_log(ROTATE), VAULT)
    assert event["signers"] == ROTATE.new_signers and event["newEpoch"] == 1
    check_outcome(event, DOMAIN, ROTATE)
    smaller = Rotate(ROTATE.mandate_id, 0, 1, ROTATE.new_signers[:3], 3)
    with pytest.raises(ValidationError):
        check_outcome(event, DOMAIN, smaller)


def test_foreign_unknown_and_malformed_logs_are_refused() -> None:
    good = paid_log(PAYOUT)
    rot = rotated_log(ROTATE)
    bad = [
        paid_log(PAYOUT, emitter=b"\x12" * 20),  # a look-alike contract's log
        EthLog(VAULT, (), b""),
        EthLog(VAULT, (b"\x00" * 32,), b""),
        EthLog(VAULT, good.topics, good.data[:-1]),
        EthLog(VAULT, good.topics[:2], good.data),
        EthLog(VAULT, rot.topics, rot.data[:-32]),
        EthLog(VAULT, rot.topics[:2], rot.data),
        EthLog(VAULT, (*rot.topics[:2], b"\x01" * 32), rot.data),  # newEpoch over 64 bits
    ]
    for log in bad:
        with pytest.raises(InclusionProofError):
            read_log(log, VAULT)
