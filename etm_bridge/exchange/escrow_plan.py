"""What a planner returns: state writes and ETM moves into / out of one escrow account.

The exchange's and the custody's transaction types share one pattern: a planner reads state,
runs pure rules and returns an :class:`EscrowPlan` without writing anything, so mempool
admission (``check``) and block application (``apply``) share one code path and a refused tx
writes nothing. ``check`` calls :meth:`EscrowPlan.check_balances`, ``apply`` calls
:meth:`EscrowPlan.commit`. Each user names its escrow (``ESCROW``): the exchange's
:class:`~.plans.TxPlan`, the custody's ``CustodyPlan`` (bonds). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..chain.address import encode_address
from ..chain.state import State, StateView
from ..errors import TxRejectedError


@dataclass
class EscrowPlan:
    """Writes (``None`` deletes) and ETM moves into / out of the escrow :attr:`ESCROW`."""

    ESCROW: ClassVar[str]

    writes: dict[tuple[str, bytes], Any] = field(default_factory=dict)
    escrow_in: list[tuple[bytes, int]] = field(default_factory=list)
    escrow_out: list[tuple[bytes, int]] = field(default_factory=list)

    def check_balances(self, view: StateView) -> None:
        """Every sender can pay what it moves into the escrow (summed per address)."""
        need: dict[bytes, int] = {}
        for address, amount in self.escrow_in:
            need[address] = need.get(address, 0) + amount
        for address, amount in need.items():
            balance = view.account(address).balance
            if balance < amount:
                raise TxRejectedError(
                    "insufficient_balance",
                    f"{encode_address(address)} has {balance} base units after the fee, "
                    f"needs {amount}",
                )

    def commit(self, state: State) -> None:
        """Moves in, then the writes (a dict as JSON, bytes as they are), then moves out."""
        for address, amount in self.escrow_in:
            state.to_escrow(address, amount, self.ESCROW)
        for (table, key), value in self.writes.items():
            if isinstance(value, dict):
                state.put_json(table, key, value)
            else:
                state.put(table, key, value)
        for address, amount in self.escrow_out:
            state.from_escrow(self.ESCROW, address, amount)
