"""ETM's view of a UTXO chain's vault outputs (design-14 sections 2.2-2.3), the pure rules.

ETM knows a vault output only from a proof, never from a claim. An output's status moves
``unspent -> reserved`` (named as an input by a mandate revision) ``-> spent`` (that mandate
proven) and ``unspent | reserved -> stolen`` (a proven spend no mandate covers); nothing else
(:func:`step`). Coin selection (:func:`select_inputs`) is deterministic: the **active** epoch's
unspent outputs by amount descending, then outpoint ascending, taken greedily until they pay
the target plus the fee for that many inputs, at most ``max_inputs``; None when they cannot (the
mandate waits ``queued``). A retiring vault's outputs are never selected: its sweep owns them.
Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from ..errors import CustodyError
from .records import CustodyUtxo, Reason, UtxoStatus

U = UtxoStatus
STEPS: dict[UtxoStatus, frozenset[UtxoStatus]] = {
    U.UNSPENT: frozenset({U.RESERVED, U.STOLEN}),
    U.RESERVED: frozenset({U.SPENT, U.STOLEN}),
    U.SPENT: frozenset(),
    U.STOLEN: frozenset(),
}


def step(utxo: CustodyUtxo, new: UtxoStatus, mandate: bytes | None = None) -> CustodyUtxo:
    """``utxo`` with status ``new`` (reserving names ``mandate``; spending needs the mandate
    that reserved it); raises bad_transition otherwise."""
    if new not in STEPS[utxo.status]:
        raise CustodyError(
            Reason.BAD_TRANSITION,
            f"vault output {utxo.outpoint.hex()} cannot go from {utxo.status} to {new}",
        )
    if new is U.RESERVED:
        if mandate is None:
            raise CustodyError(Reason.BAD_TRANSITION, "reserving an output names its mandate")
        return replace(utxo, status=new, mandate=mandate)
    if new is U.SPENT and mandate != utxo.mandate:
        raise CustodyError(
            Reason.OUTCOME_MISMATCH,
            f"vault output {utxo.outpoint.hex()} is reserved by another mandate",
        )
    return replace(utxo, status=new)


def select_inputs(
    candidates: Sequence[CustodyUtxo],
    active_epoch: int,
    target: int,
    fee_for: Callable[[int], int],
    max_inputs: int,
) -> tuple[CustodyUtxo, ...] | None:
    """The inputs of a new spend paying ``target`` plus ``fee_for(k inputs)``, or None."""
    usable = sorted(
        (u for u in candidates if u.status is U.UNSPENT and u.epoch == active_epoch),
        key=lambda u: (-u.amount, u.outpoint),
    )
    chosen: list[CustodyUtxo] = []
    total = 0
    for utxo in usable[:max_inputs]:
        chosen.append(utxo)
        total += utxo.amount
        if total >= target + fee_for(len(chosen)):
            return tuple(sorted(chosen, key=lambda u: u.outpoint))
    return None
