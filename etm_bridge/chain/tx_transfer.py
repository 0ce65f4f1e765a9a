"""Transaction type 1, ``transfer``: move ETM from the sender to a recipient address.

Payload: ``recipient`` 20-byte address hash || ``amount`` u64 (base units, > 0). 28 bytes exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import TxRejectedError, ValidationError
from .address import encode_address
from .codec import U64, Reader, check_bytes, check_uint
from .registry import Registry, TxContext, TxType
from .state import State, StateView
from .tx import Tx

TRANSFER = 1


@dataclass(frozen=True)
class TransferPayload:
    recipient: bytes
    amount: int

    def __post_init__(self) -> None:
        check_bytes("recipient", self.recipient, 20)
        check_uint("amount", self.amount, 64)
        if self.amount == 0:
            raise ValidationError("transfer amount must be positive")

    def encode(self) -> bytes:
        return self.recipient + U64.pack(self.amount)


def decode(payload: bytes) -> TransferPayload:
    if len(payload) == 28:  # fast path: the benchmark's hot loop
        return TransferPayload(payload[:20], int.from_bytes(payload[20:], "big"))
    r = Reader(payload, "transfer payload")
    out = TransferPayload(r.take(20, "recipient"), r.u64("amount"))
    r.done()
    return out


def check(view: StateView, tx: Tx, p: TransferPayload, ctx: TxContext) -> None:
    balance = view.account(tx.sender).balance
    if balance < p.amount:
        raise TxRejectedError(
            "insufficient_balance",
            f"sender has {balance} base units after the fee, transfer needs {p.amount}",
        )


def apply(state: State, tx: Tx, p: TransferPayload, ctx: TxContext) -> None:
    state.transfer(tx.sender, p.recipient, p.amount)


def describe(p: TransferPayload) -> dict[str, Any]:
    return {"recipient": encode_address(p.recipient), "amount": p.amount}


TYPE: TxType[TransferPayload] = TxType(
    TRANSFER, "transfer", decode, check, apply, amount=lambda p: p.amount, describe=describe
)


def register(registry: Registry) -> None:
    registry.add_type(TYPE)
