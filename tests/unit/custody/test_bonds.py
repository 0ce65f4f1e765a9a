"""Custody bonds, tx 301 (design-14 section 1.5), with the attack of withdrawing a bond while
the committee it backs still holds value."""

from __future__ import annotations

from dataclasses import replace

import pytest
from custody_world import PARAMS, delegate

from etm_bridge.custody import bonds as bd
from etm_bridge.custody.records import Reason
from etm_bridge.errors import CustodyError, ValidationError

pytestmark = pytest.mark.unit

ALICE = delegate("alice").member(bond=10_000)


def reason_of(call: object) -> str:
    with pytest.raises(CustodyError) as exc:
        call()  # type: ignore[operator]
    return exc.value.reason


def test_payload_round_trip_and_refusals() -> None:
    b = bd.Bond(bd.BondOp.WITHDRAW, 5)
    assert bd.decode_bond(b.encode()) == b
    for raw in (b"", b"\x03" + b"\x00" * 7 + b"\x01", b"\x01" + b"\x00" * 8, b.encode() + b"\x00"):
        with pytest.raises(ValidationError):
            bd.decode_bond(raw)


def test_add_moves_balance_into_the_bond() -> None:
    assert bd.bond_add(ALICE, 500, balance=500).bond == 10_500
    assert reason_of(lambda: bd.bond_add(ALICE, 501, balance=500)) == Reason.INSUFFICIENT_BALANCE
    assert reason_of(lambda: bd.bond_add(None, 1, 1)) == Reason.NOT_CUSTODY_MEMBER
    slashed = replace(ALICE, slashed=True, bond=0)
    assert reason_of(lambda: bd.bond_add(slashed, 1, 1)) == Reason.ALREADY_SLASHED


def test_attack_withdrawing_the_bond_while_the_committee_holds_value_is_refused() -> None:
    """A member of the active committee (its vault holds the pool's BTC) withdraws its whole
    bond before signing a theft, so slashing finds nothing: refused bond_locked."""
    assert reason_of(lambda: bd.bond_withdraw(ALICE, 10_000, True, 50, PARAMS)) == "bond_locked"
    # the vault retired in round 40: still locked for unbond_delay_rounds
    retired = replace(ALICE, last_retired_round=40)
    late = 40 + PARAMS.unbond_delay_rounds
    assert reason_of(lambda: bd.bond_withdraw(retired, 1, False, late - 1, PARAMS)) == (
        "bond_locked"
    )
    assert bd.bond_withdraw(retired, 10_000, False, late, PARAMS).bond == 0


def test_a_member_out_of_every_vault_withdraws_down_to_any_amount() -> None:
    out = bd.bond_withdraw(ALICE, 9_999, False, 1, PARAMS)
    assert out.bond == 1 and not out.eligible(PARAMS.chains, PARAMS.min_bond)
    assert reason_of(lambda: bd.bond_withdraw(ALICE, 10_001, False, 1, PARAMS)) == (
        "insufficient_balance"
    )
