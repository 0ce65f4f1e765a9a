"""Payloads of the exchange transaction types: canonical JSON objects, one dataclass each.

A payload is the state's canonical JSON (sorted keys, no spaces, UTF-8) of the dataclass,
bytes as lowercase hex. :func:`decode_payload` rejects anything else (unknown or missing
fields, wrong types, non-canonical spelling), so one payload has exactly one encoding and a
malformed one raises :class:`~etm_bridge.errors.ValidationError` naming the field. A payload is
one flat object, so text nested deeper than one object is refused before it is parsed
(:func:`~etm_bridge.jsonsafe.loads_bounded`, issue 11 item 3).

Integers are u64 (``0 <= n < 2**64``: ETM amounts, the chain's native amount type, shares,
heights, nonces) except the external-asset amounts listed in :data:`U128_FIELDS`, which are
u128 (``0 <= n < 2**128``): with 18 decimals, 2**64 base units are only about 18.4 whole
units. An integer out of its range raises :class:`~etm_bridge.errors.AmountError` (the chain
rejects the tx with ``bad_amount``). See docs/exchange.md, "Amount encoding".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from ..chain.state import canonical_json
from ..errors import AmountError, ValidationError
from ..jsonsafe import loads_bounded
from . import records

T = TypeVar("T")


@dataclass(frozen=True)
class PoolCreate:
    """``min_withdrawal``: the least asset one LP withdrawal may pay (0: the chain's floor)."""

    asset: str
    claim_key: bytes
    fee_ppm: int
    obligation_blocks: int
    min_confirmations: int
    min_withdrawal: int = 0


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
class HtlcLockPayload:
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
    """``min_etm`` / ``min_asset``: the least the burn may pay on each side (else ``slippage``)."""

    asset: str
    shares: int
    min_etm: int = 0
    min_asset: int = 0


@dataclass(frozen=True)
class SwapIn:
    asset: str
    recipient: str
    amount_in: int
    hashlock: bytes
    min_out: int
    proof: bytes


@dataclass(frozen=True)
class SwapIntentPayload:
    asset: str
    hashlock: bytes
    amount_in: int
    min_out: int


@dataclass(frozen=True)
class SwapIntentCancel:
    """Issue 15: the sender cancels their intent for ``hashlock`` (reservation released, bond
    back less :func:`~.intents.cancel_charge`)."""

    hashlock: bytes


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


#: Every payload is one flat JSON object: anything nested deeper is refused before ``json.loads``.
MAX_PAYLOAD_JSON_DEPTH = 1
#: ``[`` and ``{`` bytes a payload may hold at all (in strings too): a valid one has exactly one
#: ``{`` (no field value is a list, and no accepted string contains a bracket).
MAX_PAYLOAD_CONTAINERS = 16
#: Largest u64 (ETM amounts and every other integer field).
MAX_U64 = 2**64 - 1
#: Largest u128 (external-asset amounts in their base units).
MAX_U128 = 2**128 - 1
#: The u128 fields of each payload: the external-asset amounts (the rest are u64).
U128_FIELDS: dict[type, frozenset[str]] = {
    SwapIn: frozenset({"amount_in"}),  # the asset paid in
    SwapIntentPayload: frozenset({"amount_in"}),  # the asset the coming swap in pays
    SwapOut: frozenset({"min_out"}),  # the least asset the ETM buys
    LpWithdraw: frozenset({"min_asset"}),  # the least asset the burn pays
    PoolCreate: frozenset({"min_withdrawal"}),  # the least asset one withdrawal pays
}


def int_bound(cls: type, name: str) -> int:
    """The largest value of integer field ``name`` of payload ``cls`` (u128 or u64)."""
    return MAX_U128 if name in U128_FIELDS.get(cls, frozenset()) else MAX_U64


def encode_payload(payload: Any) -> bytes:
    """The canonical bytes of a payload dataclass."""
    return canonical_json(records.encode(payload))


def _check_field(name: str, kind: Any, raw: Any, bound: int) -> None:
    expected = {bytes: str, str: str, bool: bool, int: int}[kind]
    if not isinstance(raw, expected) or (expected is int and isinstance(raw, bool)):
        raise ValidationError(f"payload field {name!r} must be {kind.__name__}, got {raw!r}")
    if isinstance(raw, int) and not 0 <= raw <= bound:
        width = "u128" if bound == MAX_U128 else "u64"
        raise AmountError(f"payload field {name!r} must be a {width} (0..{bound}), got {raw}")
    if kind is bytes and isinstance(raw, str):
        try:
            if bytes.fromhex(raw).hex() != raw:
                raise ValueError(raw)
        except ValueError:
            raise ValidationError(f"payload field {name!r} must be lowercase hex") from None


def decode_payload(cls: type[T], payload: bytes) -> T:
    """Parse a canonical JSON payload into ``cls``; ValidationError names what is wrong."""
    containers = payload.count(b"[") + payload.count(b"{")
    if containers > MAX_PAYLOAD_CONTAINERS:  # C-speed count: valid payloads have one object
        raise ValidationError(
            f"{cls.__name__} payload holds {containers} JSON arrays/objects, at most"
            f" {MAX_PAYLOAD_CONTAINERS}: a payload is one flat object (refused unparsed)"
        )
    try:
        raw = loads_bounded(payload, max_depth=MAX_PAYLOAD_JSON_DEPTH)
    except ValidationError as exc:  # nested deeper than a flat object: never parsed
        raise ValidationError(f"{cls.__name__} payload: {exc}") from None
    except ValueError:  # UnicodeDecodeError is a ValueError too
        raise ValidationError(f"{cls.__name__} payload is not JSON") from None
    if not isinstance(raw, dict):
        raise ValidationError(f"{cls.__name__} payload must be a JSON object")
    hints = dict(records.field_types(cls))
    if set(raw) != set(hints):
        raise ValidationError(
            f"{cls.__name__} payload fields must be {sorted(hints)}, got {sorted(raw)}"
        )
    for name, kind in hints.items():
        _check_field(name, kind, raw[name], int_bound(cls, name))
    if canonical_json(raw) != payload:
        raise ValidationError(f"{cls.__name__} payload is not in canonical JSON form")
    return records.decode(cls, raw)
