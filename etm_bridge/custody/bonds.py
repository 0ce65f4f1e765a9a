"""Custody bonds, tx 301 ``custody_bond`` (design-14 section 1.5).

Payload ``u8 op (1 add, 2 withdraw) || u64 amount``. Add: the sender's balance -> escrow
``custody_bonds``. Withdraw: refused (``bond_locked``) while the member sits in any committee
whose vault on some chain is not ``retired`` (the vault may hold value its bond answers for),
or until ``unbond_delay_rounds`` after the last such vault retired (a theft proven late must
still find the bond). A member may withdraw down to any amount; below ``min_bond`` it is not
selected again. A slashed member's bond is 0 (nothing to withdraw). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

from ..chain.codec import U64, Reader
from ..errors import CustodyError, ValidationError
from .params import CustodyParams
from .records import Member, Reason


class BondOp(IntEnum):
    ADD = 1
    WITHDRAW = 2


@dataclass(frozen=True)
class Bond:
    op: BondOp
    amount: int

    def encode(self) -> bytes:
        return bytes([self.op]) + U64.pack(self.amount)


def decode_bond(payload: bytes) -> Bond:
    r = Reader(payload, "custody_bond")
    op = r.u8("op")
    amount = r.u64("amount")
    r.done()
    if op not in (BondOp.ADD, BondOp.WITHDRAW):
        raise ValidationError(f"custody_bond: op must be 1 (add) or 2 (withdraw), got {op}")
    if amount == 0:
        raise ValidationError("custody_bond: amount must be positive")
    return Bond(BondOp(op), amount)


def bond_add(member: Member | None, amount: int, balance: int) -> Member:
    """The member with ``amount`` more bond (moved from a balance of ``balance``)."""
    if member is None:
        raise CustodyError(
            Reason.NOT_CUSTODY_MEMBER, "register custody keys (custody_register) before bonding"
        )
    if member.slashed:
        raise CustodyError(Reason.ALREADY_SLASHED, "a slashed member cannot bond again")
    if balance < amount:
        raise CustodyError(
            Reason.INSUFFICIENT_BALANCE, f"the bond {amount} exceeds the balance {balance}"
        )
    return replace(member, bond=member.bond + amount)


def bond_withdraw(
    member: Member | None,
    amount: int,
    serving: bool,
    round_no: int,
    p: CustodyParams,
) -> Member:
    """The member with ``amount`` less bond, or ``bond_locked`` (see the module docstring).

    ``serving``: the member sits in a committee whose vault on some chain is pending, active or
    retiring (``member.last_retired_round``: the round its last such vault retired)."""
    if member is None:
        raise CustodyError(Reason.NOT_CUSTODY_MEMBER, "this sender has no custody bond")
    if serving:
        raise CustodyError(
            Reason.BOND_LOCKED,
            "the bond is locked while a vault of a committee this member sits in is not "
            "retired: it answers for the value that vault holds",
        )
    last = member.last_retired_round
    if last is not None and round_no < last + p.unbond_delay_rounds:
        raise CustodyError(
            Reason.BOND_LOCKED,
            f"the bond is locked until round {last + p.unbond_delay_rounds} "
            f"({p.unbond_delay_rounds} rounds after its last vault retired in round {last})",
        )
    if amount > member.bond:
        raise CustodyError(
            Reason.INSUFFICIENT_BALANCE, f"the bond is {member.bond}, cannot withdraw {amount}"
        )
    return replace(member, bond=member.bond - amount)
