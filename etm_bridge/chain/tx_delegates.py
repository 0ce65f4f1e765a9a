"""Delegates and tribunal votes: types 2 ``delegate_register``, 3 ``vote``, 4 ``unvote``.

* ``delegate_register`` payload: u8 length || name (1-20 chars of ``a-z 0-9 _ . -``). The sender's
  public key becomes a delegate; ``params.delegate_deposit`` moves from its balance into the
  ``delegate_deposits`` escrow (locked; burnt if the delegate is slashed for double forging).
* ``vote`` / ``unvote`` payload: the delegate's 32-byte public key. A tribunal (any account) backs
  at most ``params.max_votes_per_account`` delegates; its round weight ``vote_weight(balance)`` is
  split equally over the delegates it backs (so voting for more delegates never multiplies
  weight). Weights are evaluated only at round boundaries (``rounds.py``), from a snapshot of
  balances at that instant, so coins moved during a round cannot be counted twice; the weights
  of one boundary elect at the next one.

Tables: ``delegates`` (public key -> JSON {name, deposit, height, slashed}), ``delegate_names``
(name -> public key), ``votes`` (voter address || delegate key -> 0x01), ``vote_counts``
(voter address -> u64).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import TxRejectedError, ValidationError
from .registry import Registry, TxContext, TxType
from .state import State, StateView, TableSpec
from .tx import Tx

DELEGATE_REGISTER, VOTE, UNVOTE = 2, 3, 4
DELEGATES, NAMES, VOTES, VOTE_COUNTS = "delegates", "delegate_names", "votes", "vote_counts"
DEPOSIT_ESCROW = "delegate_deposits"
_NAME = re.compile(r"[a-z0-9_.\-]{1,20}")


@dataclass(frozen=True)
class DelegateName:
    name: str

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValidationError(f"delegate name {self.name!r} must be 1-20 of a-z 0-9 _ . -")

    def encode(self) -> bytes:
        raw = self.name.encode()
        return bytes((len(raw),)) + raw


@dataclass(frozen=True)
class DelegateKey:
    public_key: bytes

    def __post_init__(self) -> None:
        if len(self.public_key) != 32:
            raise ValidationError(
                f"delegate public key must be 32 bytes, not {len(self.public_key)}"
            )

    def encode(self) -> bytes:
        return self.public_key


def decode_name(payload: bytes) -> DelegateName:
    if not payload or payload[0] != len(payload) - 1:
        raise ValidationError("delegate name payload must be u8 length || name")
    try:
        return DelegateName(payload[1:].decode("ascii"))
    except UnicodeDecodeError:
        raise ValidationError("delegate name must be ASCII") from None


def decode_key(payload: bytes) -> DelegateKey:
    return DelegateKey(payload)


def delegate_record(view: StateView, public_key: bytes) -> dict[str, Any] | None:
    record: dict[str, Any] | None = view.get_json(DELEGATES, public_key)
    return record


def put_delegate(state: State, public_key: bytes, name: str, deposit: int, height: int) -> None:
    """Create a delegate record (also used by genesis)."""
    record = {"name": name, "deposit": deposit, "height": height, "slashed": False}
    state.put_json(DELEGATES, public_key, record)
    state.put(NAMES, name.encode(), public_key)


def check_register(view: StateView, tx: Tx, p: DelegateName, ctx: TxContext) -> None:
    if delegate_record(view, tx.sender_public_key) is not None:
        raise TxRejectedError("already_delegate", "sender is already a registered delegate")
    if view.get(NAMES, p.name.encode()) is not None:
        raise TxRejectedError("name_taken", f"delegate name {p.name!r} is taken")
    need, have = ctx.params.delegate_deposit, view.account(tx.sender).balance
    if have < need:
        raise TxRejectedError("insufficient_balance", f"deposit needs {need}, sender has {have}")


def apply_register(state: State, tx: Tx, p: DelegateName, ctx: TxContext) -> None:
    state.to_escrow(tx.sender, ctx.params.delegate_deposit, DEPOSIT_ESCROW)
    put_delegate(state, tx.sender_public_key, p.name, ctx.params.delegate_deposit, ctx.height)


def _vote_key(tx: Tx, p: DelegateKey) -> bytes:
    return tx.sender + p.public_key


def check_vote(view: StateView, tx: Tx, p: DelegateKey, ctx: TxContext) -> None:
    record = delegate_record(view, p.public_key)
    if record is None:
        raise TxRejectedError("unknown_delegate", f"{p.public_key.hex()} is not a delegate")
    if record["slashed"]:
        raise TxRejectedError("delegate_slashed", f"delegate {record['name']!r} was slashed")
    if view.get(VOTES, _vote_key(tx, p)) is not None:
        raise TxRejectedError("already_voted", f"sender already backs {record['name']!r}")
    count, limit = view.get_u64(VOTE_COUNTS, tx.sender), ctx.params.max_votes_per_account
    if count >= limit:
        raise TxRejectedError("too_many_votes", f"sender already backs {count} of {limit}")


def apply_vote(state: State, tx: Tx, p: DelegateKey, ctx: TxContext) -> None:
    state.put(VOTES, _vote_key(tx, p), b"\x01")
    state.put_u64(VOTE_COUNTS, tx.sender, state.get_u64(VOTE_COUNTS, tx.sender) + 1)


def check_unvote(view: StateView, tx: Tx, p: DelegateKey, ctx: TxContext) -> None:
    if view.get(VOTES, _vote_key(tx, p)) is None:
        raise TxRejectedError("not_voted", f"sender does not back {p.public_key.hex()}")


def apply_unvote(state: State, tx: Tx, p: DelegateKey, ctx: TxContext) -> None:
    state.delete(VOTES, _vote_key(tx, p))
    remaining = state.get_u64(VOTE_COUNTS, tx.sender) - 1
    if remaining:
        state.put_u64(VOTE_COUNTS, tx.sender, remaining)
    else:
        state.delete(VOTE_COUNTS, tx.sender)


TYPES: tuple[TxType[Any], ...] = (
    TxType(
        DELEGATE_REGISTER, "delegate_register", decode_name, check_register, apply_register,
        describe=lambda p: {"name": p.name},
    ),
    TxType(VOTE, "vote", decode_key, check_vote, apply_vote,
           describe=lambda p: {"delegate": p.public_key.hex()}),
    TxType(UNVOTE, "unvote", decode_key, check_unvote, apply_unvote,
           describe=lambda p: {"delegate": p.public_key.hex()}),
)  # fmt: skip
TABLES = (
    TableSpec(DELEGATES, "core", "delegate public key -> JSON {name, deposit, height, slashed}"),
    TableSpec(NAMES, "core", "delegate name -> public key"),
    TableSpec(VOTES, "core", "voter address || delegate public key -> 0x01"),
    TableSpec(VOTE_COUNTS, "core", "voter address -> number of delegates backed (u64)"),
)


def register(registry: Registry) -> None:
    for table in TABLES:
        registry.add_table(table)
    for tx_type in TYPES:
        registry.add_type(tx_type)
