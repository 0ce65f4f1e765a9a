"""A toy transaction-type plug-in used by the registry tests (type 300, table ``toy_notes``).

``toy_note`` stores its payload under the sender's address and locks 1 base unit per payload byte
in the ``toy_escrow`` escrow; an empty payload is malformed and a note over 8 bytes is refused
with ``note_too_long`` by ``check``. ``apply`` raising after a write proves the savepoint undo:
``boom`` raises a project error, ``oops`` a library's (``KeyError``, as trie's ``ValidationError``
did in issue 11). A payload starting with ``0xff`` makes ``decode`` itself fail with an
``IndexError`` (a decoder bug must be a rejection, never a crash).
"""

from __future__ import annotations

from etm_bridge.chain.registry import Registry, TxContext, TxType
from etm_bridge.chain.state import State, StateView, TableSpec
from etm_bridge.chain.tx import Tx
from etm_bridge.errors import TxRejectedError, ValidationError


def decode(payload: bytes) -> bytes:
    if not payload:
        raise ValidationError("note must not be empty")
    if payload[0] == 0xFF:
        return bytes((payload[1000],))  # IndexError on a short payload: the decoder's own bug
    return payload


def check(view: StateView, tx: Tx, note: bytes, ctx: TxContext) -> None:
    if len(note) > 8:
        raise TxRejectedError("note_too_long", f"{len(note)} bytes > 8")


def apply(state: State, tx: Tx, note: bytes, ctx: TxContext) -> None:
    state.put("toy_notes", tx.sender, note)
    state.to_escrow(tx.sender, len(note), "toy_escrow")
    if note == b"boom":
        raise ValidationError("apply failed after writing")
    if note == b"oops":
        raise KeyError("a library's own exception after writing")


def register(registry: Registry) -> None:
    registry.add_table(TableSpec("toy_notes", owner="toy", doc="address -> note"))
    registry.add_type(TxType(300, "toy_note", decode, check, apply, amount=len,
                             describe=lambda n: {"note": n.hex()}))  # fmt: skip
