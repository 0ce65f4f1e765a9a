"""The LP deposit's journal: a payment made and not yet proven, so a rerun never pays twice.

``lp deposit`` pays the pool on the asset's chain, waits, relays, then proves the payment on
ETM. A run that stops in between (a crash, a timeout, Ctrl-C) has moved the coins but credited
nothing; run again as typed, it would pay a second time. So right after paying, the payment
(chain, txid, amount, owner) is written to ``<home>/deposits/<asset>.json`` (0600, atomic), and
removed once the deposit is on ETM. While it is there, a new deposit of that asset is refused,
naming the payment and how to prove it (``--txid``), or, for a chain whose payments cannot be
found again, how to check the positions and clear it. A deposit resumed by ``--txid`` clears it.

The check, the payment and its record are one step (:func:`paying`: an exclusive lock on
``<asset>.json.lock``): two runs started together both found no pending payment, both paid,
and the second record replaced the first, so a crash of the first lost its only record (review
x5). The second run is now refused until the first has recorded its payment, and then refused
by that record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ValidationError
from ..private_files import run_lock, write_private


@dataclass(frozen=True)
class PendingDeposit:
    """A payment to a pool that is not (yet) proven on ETM."""

    asset: str
    leg: str
    txid: str
    amount: int
    owner: str  # the depositor's ETM address


def path_of(deposits_dir: Path, asset: str) -> Path:
    return deposits_dir / f"{asset}.json"


def read(path: Path) -> PendingDeposit | None:
    """The pending payment recorded at ``path`` (None: none); a damaged file is an error naming
    it (it may be the only record of a payment)."""
    if not path.exists():
        return None
    try:
        return PendingDeposit(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise ValidationError(
            f"deposit journal {path} is damaged ({exc}): it records a payment made and not "
            "proven; check `lp positions`, then delete it"
        ) from None


def record(path: Path, pending: PendingDeposit) -> None:
    write_private(path, json.dumps(asdict(pending), indent=2) + "\n")


def clear(path: Path, txid: str) -> None:
    """Remove the journal if it records ``txid`` (the deposit of that payment is on ETM)."""
    pending = read(path)
    if pending is not None and pending.txid == txid:
        path.unlink()


def refuse_if_pending(path: Path, resumable: bool) -> None:
    """ValidationError when an earlier payment of this asset is not proven yet."""
    pending = read(path)
    if pending is None:
        return
    earlier = (
        f"an earlier `lp deposit` of {pending.amount} {pending.asset} base units paid "
        f"{pending.leg} tx {pending.txid} and stopped before it was proven on ETM"
    )
    if resumable:
        how = (
            f"prove it with `--txid {pending.txid}` (paying again would pay twice; if that "
            f"payment is gone from its chain for good, delete {path})"
        )
    else:
        how = "this chain's payments cannot be resumed: check `lp positions`, then"
        how += f" delete {path} to deposit again"
    raise ValidationError(f"{earlier}; {how}")


@contextmanager
def paying(path: Path | None) -> Iterator[None]:
    """Alone from the pending check to the payment's record (see the module; no journal, no
    lock)."""
    busy = "another `lp deposit` of this asset is paying right now: wait for its payment"
    with nullcontext() if path is None else run_lock(path, busy):
        yield
