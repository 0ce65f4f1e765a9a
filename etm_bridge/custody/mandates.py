"""Mandates: their ids, signing windows and state machine (design-14 sections 4.1-4.3).

A mandate is what final ETM state lets the committee sign for one purpose. Its **id** is a
function of the purpose alone (:func:`mandate_id`: kind, ticker, source), so a retried request
can never create a second mandate for the same swap, withdrawal or sweep.

Its status moves only along :data:`TABLE`, one row per (from, event) with the mandate kinds and
custody models it applies to, as the swap engine's ``swaps/core/fsm.py`` does for swaps: any
pair not in the table is refused with ``bad_transition`` (:func:`transition`), so no path
skips a state (a queued mandate is never proven before it was funded and opened; a proven
or void one never changes). :func:`diagram` renders the table for docs/custody.md
(a test checks the page carries exactly this diagram).

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..chain.codec import U32, sha256
from ..errors import CustodyError
from ..exchange.swap_rules import MARGIN_S, MIN_ETM_LEG_S
from .params import CustodyParams
from .records import MandateKind, MandateStatus, Reason
from .spec import CustodyModel

K = MandateKind
S = MandateStatus
ALL_KINDS = frozenset(MandateKind)
SPENDING = ALL_KINDS - {K.POOL_CREATE}  # kinds that sign a foreign spend or call
BOTH = frozenset(CustodyModel)
UTXO = frozenset({CustodyModel.UTXO})
ACCOUNT = frozenset({CustodyModel.ACCOUNT})


def mandate_id(kind: MandateKind, ticker: str, source: bytes) -> bytes:
    """The one id of a purpose (source: the swap's HTLC id, the withdraw tx id, ...)."""
    return sha256(
        b"etm-custody mandate v1\x00" + bytes([kind]) + ticker.encode() + b"\x00" + source
    )


def sweep_source(epoch: int, chunk: int) -> bytes:
    """Source of the ``chunk``-th ``rotation_sweep`` of the retiring ``epoch``'s vault."""
    return U32.pack(epoch) + U32.pack(chunk)


def rotation_source(new_epoch: int) -> bytes:
    return U32.pack(new_epoch)


class MandateEvent(StrEnum):
    CREATED = "created"  # inputs selected (account chains: always)
    CREATED_UNFUNDED = "created_unfunded"  # the vault cannot cover it now
    AGREED = "agreed"  # pool_create: m identical proposals (nothing to sign)
    FUNDED = "funded"
    PROVEN = "proven"  # an outcome proof matches one of its revisions
    BUMPED = "bumped"  # a fee bump after bump_after_s (revision r+1)
    ROTATED = "rotated"  # the contract's signer set changed (revision r+1, new epoch)
    EXPIRED = "expired"  # sign_until_s passed (round hook)
    REISSUED = "reissued"  # round hook: a new window (every kind but counter_lock, pool_create)
    REISSUE_REQUESTED = "reissue_requested"  # counter_lock, by tx 305, while the leg allows
    HTLC_REFUNDED = "htlc_refunded"  # the swap's ETM HTLC was refunded: cancel its counter lock
    INPUT_LOST = "input_lost"  # another spend of one of its inputs was proven


E = MandateEvent


@dataclass(frozen=True)
class Transition:
    src: MandateStatus | None  # None: the mandate does not exist yet
    event: MandateEvent
    dst: MandateStatus
    kinds: frozenset[MandateKind]
    models: frozenset[CustodyModel]
    by: str  # who causes it (documentation)


TABLE: tuple[Transition, ...] = (
    Transition(None, E.CREATED, S.OPEN, SPENDING, BOTH, "the creating tx"),
    Transition(None, E.CREATED_UNFUNDED, S.QUEUED, SPENDING, UTXO, "the creating tx"),
    Transition(None, E.AGREED, S.PROVEN, frozenset({K.POOL_CREATE}), BOTH, "306 x m"),
    Transition(S.QUEUED, E.FUNDED, S.OPEN, SPENDING, UTXO, "round hook / 305 fund"),
    Transition(S.OPEN, E.PROVEN, S.PROVEN, SPENDING, BOTH, "302"),
    Transition(S.OPEN, E.BUMPED, S.OPEN, SPENDING, UTXO, "305 bump"),
    Transition(S.OPEN, E.ROTATED, S.OPEN, SPENDING, ACCOUNT, "302 of Rotated"),
    Transition(S.OPEN, E.EXPIRED, S.EXPIRED, SPENDING, BOTH, "round hook"),
    Transition(S.EXPIRED, E.REISSUED, S.OPEN, SPENDING - {K.COUNTER_LOCK}, BOTH, "round hook"),
    Transition(
        S.EXPIRED, E.REISSUE_REQUESTED, S.OPEN, frozenset({K.COUNTER_LOCK}), BOTH, "305 reissue"
    ),
    Transition(S.EXPIRED, E.PROVEN, S.PROVEN, SPENDING, BOTH, "302 (late is still a spend)"),
    Transition(S.OPEN, E.HTLC_REFUNDED, S.CANCELLED, frozenset({K.COUNTER_LOCK}), BOTH, "205"),
    Transition(S.EXPIRED, E.HTLC_REFUNDED, S.CANCELLED, frozenset({K.COUNTER_LOCK}), BOTH, "205"),
    Transition(S.CANCELLED, E.PROVEN, S.PROVEN, frozenset({K.COUNTER_LOCK}), UTXO, "302"),
    Transition(S.OPEN, E.INPUT_LOST, S.VOID, SPENDING, UTXO, "302 of another spend"),
    Transition(S.EXPIRED, E.INPUT_LOST, S.VOID, SPENDING, UTXO, "302 of another spend"),
)

_INDEX: Mapping[tuple[MandateStatus | None, MandateEvent], Transition] = {
    (t.src, t.event): t for t in TABLE
}
assert len(_INDEX) == len(TABLE), "one row per (status, event)"


def transition(
    src: MandateStatus | None, event: MandateEvent, kind: MandateKind, model: CustodyModel
) -> MandateStatus:
    """The status after ``event``; raises CustodyError(bad_transition) for any other pair."""
    row = _INDEX.get((src, event))
    if row is None or kind not in row.kinds or model not in row.models:
        where = "a new mandate" if src is None else f"a {src} mandate"
        raise CustodyError(
            Reason.BAD_TRANSITION,
            f"{event} cannot happen to {where} of kind {kind.name.lower()} on a {model} chain",
        )
    return row.dst


def diagram() -> str:
    """The state diagram of :data:`TABLE` (Mermaid), as docs/custody.md shows it."""
    lines = ["stateDiagram-v2"]
    for t in TABLE:
        src = "[*]" if t.src is None else t.src.value
        kinds = "" if t.kinds == SPENDING else " (" + ", ".join(
            sorted(k.name.lower() for k in t.kinds)) + ")"  # fmt: skip
        models = "" if t.models == BOTH else f" [{next(iter(t.models)).value}]"
        lines.append(f"    {src} --> {t.dst.value}: {t.event.value}{kinds}{models}")
    return "\n".join(lines)


# --- signing windows ----------------------------------------------------------------------------


def sign_until(
    kind: MandateKind,
    now_s: int,
    p: CustodyParams,
    etm_deadline_s: int | None = None,
    claim_deadline_s: int | None = None,
) -> int | None:
    """Until when (ETM seconds) a new revision may be signed; None: no window (re-issued or
    signed whenever; a rotation or a pool creation).

    ``etm_deadline_s``: a counter lock's ETM HTLC deadline (the lock must be signed at least two
    margins before it); ``claim_deadline_s``: a swap-in claim's latest ETM time (the lock's
    timelock less the claim margin, estimated by the chain)."""
    if kind is K.COUNTER_LOCK:
        if etm_deadline_s is None:
            raise ValueError("a counter lock's window needs the ETM HTLC deadline")
        return min(now_s + p.sign_window_s, etm_deadline_s - 2 * MARGIN_S)
    if kind is K.CLAIM_SWAP_IN:
        if claim_deadline_s is None:
            raise ValueError("a swap-in claim's window needs the lock's claim deadline")
        return claim_deadline_s
    if kind in (K.VAULT_ROTATION, K.POOL_CREATE):
        return None
    return now_s + p.sign_window_s


def may_reissue_counter_lock(etm_deadline_s: int, now_s: int) -> bool:
    """An expired counter lock may get a new revision while the user keeps at least
    ``MIN_ETM_LEG_S`` of claim window after the margin."""
    return etm_deadline_s - now_s - MARGIN_S >= MIN_ETM_LEG_S
