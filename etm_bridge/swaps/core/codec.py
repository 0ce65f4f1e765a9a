"""JSON-ready dicts <-> swap records. Bytes are lowercase hex; enums their values.

Used by the store (SQLite columns) and by ``swap status --json``. Decoding re-validates every
value through the frozen dataclasses, so a corrupted row raises a clear ValidationError.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from ...errors import ValidationError
from .fsm import Role, SwapDirection, SwapState
from .model import (
    ActionKind,
    BlockRef,
    DepKind,
    Intent,
    IntentResult,
    LegTerms,
    Outcome,
    SwapRecord,
    SwapTerms,
)


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _bytes(value: Any, name: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be hex, got {value!r}") from None


def _opt_bytes(value: Any, name: str) -> bytes | None:
    return None if value is None else _bytes(value, name)


def leg_to_dict(leg: LegTerms) -> dict[str, Any]:
    out = {
        "chain": leg.chain,
        "amount": leg.amount,
        "claim_key": leg.claim_key.hex(),
        "refund_key": leg.refund_key.hex(),
        "timelock_height": leg.timelock_height,
        "confirmations": leg.confirmations,
        "asset_id": _hex(leg.asset_id),
    }
    if leg.lock_id is not None:  # only pinned legs carry it (older records stay as they were)
        out["lock_id"] = leg.lock_id
    return out


def leg_from_dict(d: dict[str, Any]) -> LegTerms:
    return LegTerms(
        chain=d["chain"],
        amount=d["amount"],
        claim_key=_bytes(d["claim_key"], "claim_key"),
        refund_key=_bytes(d["refund_key"], "refund_key"),
        timelock_height=d["timelock_height"],
        confirmations=d["confirmations"],
        asset_id=_opt_bytes(d.get("asset_id"), "asset_id"),
        lock_id=d.get("lock_id"),
    )


def terms_to_dict(t: SwapTerms) -> dict[str, Any]:
    return {
        "swap_id": t.swap_id,
        "direction": t.direction.value,
        "hashlock": t.hashlock.hex(),
        "user_leg": leg_to_dict(t.user_leg),
        "counter_leg": leg_to_dict(t.counter_leg),
        "created_at_s": t.created_at_s,
        "lock_deadline_s": t.lock_deadline_s,
        "reveal_margin_blocks": t.reveal_margin_blocks,
    }


def terms_from_dict(d: dict[str, Any]) -> SwapTerms:
    return SwapTerms(
        swap_id=d["swap_id"],
        direction=SwapDirection(d["direction"]),
        hashlock=_bytes(d["hashlock"], "hashlock"),
        user_leg=leg_from_dict(d["user_leg"]),
        counter_leg=leg_from_dict(d["counter_leg"]),
        created_at_s=d["created_at_s"],
        lock_deadline_s=d["lock_deadline_s"],
        reveal_margin_blocks=d["reveal_margin_blocks"],
    )


def intent_to_dict(i: Intent) -> dict[str, Any]:
    r = i.result
    return {
        "key": i.key,
        "kind": i.kind.value,
        "chain": i.chain,
        "created_at_s": i.created_at_s,
        "outcome": r.outcome.value if r else None,
        "txid": r.txid if r else None,
        "detail": r.detail if r else None,
        "result_at_s": r.at_s if r else None,
    }


def intent_from_dict(d: dict[str, Any]) -> Intent:
    result = None
    if d.get("outcome") is not None:
        result = IntentResult(Outcome(d["outcome"]), d["txid"], d["detail"] or "", d["result_at_s"])
    return Intent(d["key"], ActionKind(d["kind"]), d["chain"], d["created_at_s"], result)


def record_to_dict(rec: SwapRecord) -> dict[str, Any]:
    """Everything but the preimage's secrecy is public; the preimage is included (the store
    is the user's own file; ``swap status --json`` drops it, see :func:`public_view`).
    ``fee_rate`` is written only when set: a record without one encodes as before."""
    extra = {} if rec.fee_rate is None else {"fee_rate": rec.fee_rate}
    return {
        "terms": terms_to_dict(rec.terms),
        "role": rec.role.value,
        "state": rec.state.value,
        "preimage": _hex(rec.preimage),
        "failure": rec.failure,
        "intents": [intent_to_dict(i) for i in rec.intents],
        "depends_on": [
            {
                "kind": r.kind.value,
                "chain": r.chain,
                "height": r.height,
                "header": r.header_sha256_hex,
            }
            for r in rec.depends_on
        ],
        "version": rec.version,
        "updated_at_s": rec.updated_at_s,
        "notes": list(rec.notes),
        **extra,
    }


def record_from_dict(d: dict[str, Any]) -> SwapRecord:
    try:
        return SwapRecord(
            terms=terms_from_dict(d["terms"]),
            role=Role(d["role"]),
            state=SwapState(d["state"]),
            preimage=_opt_bytes(d.get("preimage"), "preimage"),
            failure=d.get("failure"),
            intents=tuple(intent_from_dict(i) for i in d.get("intents", [])),
            depends_on=tuple(
                BlockRef(DepKind(r["kind"]), r["chain"], r["height"], r["header"])
                for r in d.get("depends_on", [])
            ),
            version=d["version"],
            updated_at_s=d.get("updated_at_s", 0),
            notes=tuple(d.get("notes", [])),
            fee_rate=d.get("fee_rate"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(f"malformed swap record: {exc!r}") from None


def public_view(rec: SwapRecord) -> dict[str, Any]:
    """The record for display: the preimage is replaced by whether we know it."""
    d = record_to_dict(rec)
    d["preimage"] = None
    d["preimage_known"] = rec.preimage is not None
    return d
