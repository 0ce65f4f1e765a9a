"""The CommitteeVault's events as ETM reads them from a proven receipt (pure, no node).

design-14 §3.7: ETM learns what the vault did only from receipt proofs of logs **emitted by
the vault address**. This module owns the step after the receipt proof
(:func:`etm_bridge.chains.ethereum.spv.headers.verify_receipt_proof` + ``decode_receipt``):
:func:`read_log` turns one log into a :class:`VaultEvent` (refusing a log of any other emitter,
an unknown topic or a malformed body), and :func:`check_outcome` is the rule that closes a
mandate: the event names the mandate id **and** the EIP-712 digest ETM computed for it (the
digest binds every signed field, the chain, the vault and the ETM domain), and repeats the
struct's terms (payee, token, amount; a counter lock's HTLC swap hash with the vault as refund
address; a rotation's new set). ``Deposited`` has PoolVault's signature, so the exchange's
reader (``chains.ethereum.etm.verifier.DEPOSITED_EVENT``) reads both. The ETM transactions that
carry these proofs (``custody_outcome_proof``, on the committee-attested relay, §8) are not
built yet; a unit test pins the event ABIs to the artifact, an anvil test reads real receipts.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import decode
from eth_utils import keccak

from etm_bridge.chains.ethereum.spv.headers import EthLog, EventAbi, decode_event
from etm_bridge.errors import InclusionProofError, ValidationError

from .committee_vault_eip712 import CounterLock, Payout, Rotate, VaultDomain, VaultStruct, digest

_IDX, _DATA = True, False
DEPOSITED_EVENT = EventAbi(
    "Deposited",
    (("etmOwner", "bytes20", _IDX), ("from", "address", _IDX),
     ("token", "address", _DATA), ("amount", "uint256", _DATA)),
)  # fmt: skip
COUNTER_LOCKED_EVENT = EventAbi(
    "CounterLocked",
    (("mandateId", "bytes32", _IDX), ("swapHash", "bytes32", _IDX), ("digest", "bytes32", _DATA),
     ("token", "address", _DATA), ("amount", "uint256", _DATA)),
)  # fmt: skip
PAID_EVENT = EventAbi(
    "Paid",
    (("mandateId", "bytes32", _IDX), ("to", "address", _IDX), ("digest", "bytes32", _DATA),
     ("token", "address", _DATA), ("amount", "uint256", _DATA)),
)  # fmt: skip
SWAP_IN_CLAIMED_EVENT = EventAbi(
    "SwapInClaimed",
    (("preimageHash", "bytes32", _IDX), ("swapHash", "bytes32", _IDX),
     ("token", "address", _DATA), ("amount", "uint256", _DATA)),
)  # fmt: skip
COUNTER_REFUNDED_EVENT = EventAbi(
    "CounterRefunded",
    (("preimageHash", "bytes32", _IDX), ("swapHash", "bytes32", _IDX),
     ("token", "address", _DATA), ("amount", "uint256", _DATA)),
)  # fmt: skip
#: Rotated carries a dynamic ``address[]`` in its data, which ``decode_event`` (static types
#: only) does not read: its data is decoded here with eth_abi (strict).
ROTATED_SIGNATURE = "Rotated(bytes32,uint64,bytes32,address[],uint8)"
ROTATED_TOPIC = keccak(text=ROTATED_SIGNATURE)
STATIC_EVENTS = {
    e.topic0: e
    for e in (
        DEPOSITED_EVENT,
        COUNTER_LOCKED_EVENT,
        PAID_EVENT,
        SWAP_IN_CLAIMED_EVENT,
        COUNTER_REFUNDED_EVENT,
    )
}


@dataclass(frozen=True)
class VaultEvent:
    """One decoded vault log: its event name and fields (addresses and words as bytes;
    ``signers`` a tuple of 20-byte addresses)."""

    name: str
    fields: dict[str, object]

    def __getitem__(self, key: str) -> object:
        return self.fields[key]


def read_log(log: EthLog, vault: bytes) -> VaultEvent:
    """The vault event in ``log``; InclusionProofError if another address emitted it, or it
    is no vault event, or its topics/data do not fit."""
    if log.address != vault:
        raise InclusionProofError(
            "bad-event", f"log emitted by 0x{log.address.hex()}, not the vault 0x{vault.hex()}"
        )
    topic0 = log.topics[0] if log.topics else b""
    if topic0 == ROTATED_TOPIC:
        return _read_rotated(log)
    abi = STATIC_EVENTS.get(topic0)
    if abi is None:
        raise InclusionProofError("bad-event", "log is not a CommitteeVault event")
    return VaultEvent(abi.name, dict(decode_event(log, abi)))


def _read_rotated(log: EthLog) -> VaultEvent:
    if len(log.topics) != 3:
        raise InclusionProofError("bad-event", "Rotated has 2 indexed fields")
    try:
        dig, signers, threshold = decode(["bytes32", "address[]", "uint8"], log.data, strict=True)
    except Exception as exc:  # eth_abi raises several unrelated types
        raise InclusionProofError("bad-event", f"Rotated data: {exc}") from None
    if log.topics[2][:24] != bytes(24):
        raise InclusionProofError("bad-event", "Rotated newEpoch is not a uint64")
    return VaultEvent(
        "Rotated",
        {
            "mandateId": log.topics[1],
            "newEpoch": int.from_bytes(log.topics[2], "big"),
            "digest": dig,
            "signers": tuple(bytes.fromhex(a[2:]) for a in signers),
            "threshold": threshold,
        },
    )


def counter_swap_hash(c: CounterLock, vault: bytes) -> bytes:
    """EtherSwapHTLC's key of the lock ``c`` makes (refund address = the vault)."""
    packed = (
        c.preimage_hash + c.amount.to_bytes(32, "big") + c.token + c.claim_address + vault
        + c.timelock.to_bytes(32, "big")
    )  # fmt: skip
    return keccak(packed)


_EVENT_OF = {CounterLock: "CounterLocked", Payout: "Paid", Rotate: "Rotated"}


def check_outcome(event: VaultEvent, domain: VaultDomain, s: VaultStruct) -> None:
    """ValidationError unless ``event`` (read from ``domain.vault``'s log) executed exactly the
    mandated struct ``s``: same kind, mandate id, digest, and the terms the event repeats."""
    expected = _EVENT_OF[type(s)]
    if event.name != expected:
        raise ValidationError(f"a {event.name} event does not close a {s.PRIMARY} mandate")
    if event["mandateId"] != s.mandate_id:
        raise ValidationError(f"the event names another mandate than 0x{s.mandate_id.hex()}")
    if event["digest"] != digest(domain, s):
        raise ValidationError("the event's digest is not the one ETM computed for this mandate")
    if isinstance(s, Payout):
        repeated: dict[str, object] = {"to": s.to, "token": s.token, "amount": s.amount}
    elif isinstance(s, CounterLock):
        repeated = {
            "swapHash": counter_swap_hash(s, domain.vault),
            "token": s.token,
            "amount": s.amount,
        }
    else:
        repeated = {
            "newEpoch": s.new_epoch,
            "signers": s.new_signers,
            "threshold": s.new_threshold,
        }
    for key, value in repeated.items():
        if event[key] != value:
            raise ValidationError(f"the event's {key} differs from the mandate's")
