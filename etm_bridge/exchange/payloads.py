"""Payloads of the exchange transaction types: canonical JSON objects, one dataclass each.

A payload is the state's canonical JSON (sorted keys, no spaces, UTF-8) of the dataclass,
bytes as lowercase hex. :func:`decode_payload` rejects anything else (unknown or missing
fields, wrong types, non-canonical spelling), so one payload has exactly one encoding and a
malformed one raises :class:`~etm_bridge.errors.ValidationError` naming the field.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

from ..chain.state import canonical_json
from ..errors import ValidationError
from . import records

T = TypeVar("T")


@dataclass(frozen=True)
class PoolCreate:
    asset: str
    claim_key: bytes
    fee_ppm: int
    obligation_blocks: int
    min_confirmations: int


@dataclass(frozen=True)
class Bind:
    chain: str
    key: bytes
    nonce: int
    expiry_height: int
    signature: bytes
    rebind: bool


@dataclass(frozen=True)
class Unbind:
    chain: str


@dataclass(frozen=True)
class HtlcLock:
    recipient: str
    amount: int
    hashlock: bytes
    expiry_height: int


@dataclass(frozen=True)
class HtlcClaim:
    htlc_id: bytes
    preimage: bytes


@dataclass(frozen=True)
class HtlcRefund:
    htlc_id: bytes


@dataclass(frozen=True)
class LpDeposit:
    asset: str
    etm_max: int
    min_shares: int
    proof: bytes


@dataclass(frozen=True)
class LpWithdraw:
    asset: str
    shares: int


@dataclass(frozen=True)
class SwapIn:
    asset: str
    recipient: str
    amount_in: int
    hashlock: bytes
    min_out: int
    proof: bytes


@dataclass(frozen=True)
class SwapIntent:
    asset: str
    hashlock: bytes
    amount_in: int
    min_out: int


@dataclass(frozen=True)
class SwapOut:
    asset: str
    amount_in: int
    hashlock: bytes
    expiry_height: int
    min_out: int


@dataclass(frozen=True)
class ObligationPaid:
    obligation_id: int
    proof: bytes


@dataclass(frozen=True)
class ObligationDefault:
    obligation_id: int


def encode_payload(payload: Any) -> bytes:
    """The canonical bytes of a payload dataclass."""
    return canonical_json(records.encode(payload))


def _check_field(name: str, kind: Any, raw: Any) -> None:
    expected = {bytes: str, str: str, bool: bool, int: int}[kind]
    if not isinstance(raw, expected) or (expected is int and isinstance(raw, bool)):
        raise ValidationError(f"payload field {name!r} must be {kind.__name__}, got {raw!r}")
    if isinstance(raw, int) and not 0 <= raw < 2**64:
        raise ValidationError(f"payload field {name!r} must be a u64, got {raw}")
    if kind is bytes and isinstance(raw, str):
        try:
            if bytes.fromhex(raw).hex() != raw:
                raise ValueError(raw)
        except ValueError:
            raise ValidationError(f"payload field {name!r} must be lowercase hex") from None


def decode_payload(cls: type[T], payload: bytes) -> T:
    """Parse a canonical JSON payload into ``cls``; ValidationError names what is wrong."""
    try:
        raw = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(f"{cls.__name__} payload is not JSON") from None
    if not isinstance(raw, dict):
        raise ValidationError(f"{cls.__name__} payload must be a JSON object")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    if set(raw) != names:
        raise ValidationError(
            f"{cls.__name__} payload fields must be {sorted(names)}, got {sorted(raw)}"
        )
    for name in names:
        _check_field(name, hints[name], raw[name])
    if canonical_json(raw) != payload:
        raise ValidationError(f"{cls.__name__} payload is not in canonical JSON form")
    return records.decode(cls, raw)
