"""Never sign two spends for one mandate: the rule a custody signer's record enforces (design-14
section 5.3).

A signer asks :func:`approve` for every input of a revision before it releases a signature,
with what its record already holds for that (mandate, revision, input) and for the input's
outpoint:

* a row for (mandate, revision, input) with the **same** digest: :class:`Approved` carrying the
  stored signature (idempotent: the signer re-sends exactly the recorded bytes; RFC 6979 gives
  the same bytes anyway);
* a row with a **different** digest: ``Refused("digest_changed")`` (ETM never changes a
  revision: a bug, or a node lying about the mandate);
* the outpoint bound to **another** mandate: ``Refused("outpoint_bound")``, unless this
  mandate's ``replaces`` names that mandate (a ``cancel`` spends its original's inputs);
  another revision of the same mandate spends the same inputs (a fee bump) and is allowed;
* a revision whose outpoints are not exactly those the mandate's signed revisions spend:
  ``Refused("inputs_changed")`` (:func:`same_inputs`; design-14 4.3 bumps and re-issues over
  the same inputs, so any two signed revisions of one mandate conflict and at most one can
  confirm: a revision over other outputs would be a second payout);
* otherwise :class:`Approved` with no signature: the caller records the row and binds the
  outpoint in one durable transaction, and only then releases the signature.

An account chain has no outpoints (``outpoint`` None): its vault contract's replay protection
(one execution per mandate id) plays the binding's part. The record
(:mod:`etm_bridge.custody_signer.record`) only stores; this module decides. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Refusal(StrEnum):
    DIGEST_CHANGED = "digest_changed"
    OUTPOINT_BOUND = "outpoint_bound"
    INPUTS_CHANGED = "inputs_changed"


@dataclass(frozen=True)
class SignedRow:
    """What the record holds for one (mandate, revision, input)."""

    digest: bytes
    signature: bytes


@dataclass(frozen=True)
class Approved:
    """Sign (``existing`` None: record first) or re-send ``existing`` (already recorded)."""

    existing: bytes | None = None


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    detail: str


def approve(
    row: SignedRow | None,
    bound_to: bytes | None,
    mandate_id: bytes,
    digest: bytes,
    replaces: bytes | None,
) -> Approved | Refused:
    """May this signer sign ``digest`` for an input of ``mandate_id``? (see the module docstring)

    ``row``: the record's row for (mandate, revision, input), if any; ``bound_to``: the
    mandate the input's outpoint is bound to in the record (None: unbound or no outpoint);
    ``replaces``: the mandate this one replaces (a cancel), from the mandate record."""
    if row is not None:
        if row.digest == digest:
            return Approved(row.signature)
        return Refused(
            Refusal.DIGEST_CHANGED,
            f"mandate {mandate_id.hex()} input was signed over digest {row.digest.hex()}, now"
            f" asked for {digest.hex()}: ETM never changes a revision (a lying node or a bug)",
        )
    if bound_to is not None and bound_to != mandate_id and bound_to != replaces:
        return Refused(
            Refusal.OUTPOINT_BOUND,
            f"the input is bound to mandate {bound_to.hex()}, which mandate {mandate_id.hex()}"
            " does not replace: signing it would authorise a second spend of one output",
        )
    return Approved()


def same_inputs(
    mandate_id: bytes, signed_before: frozenset[bytes], outpoints: frozenset[bytes]
) -> Refused | None:
    """May a revision spending ``outpoints`` be signed for ``mandate_id``, whose revisions
    signed before spend ``signed_before`` (empty: none signed, or an account chain)? Every
    signed revision of one mandate must spend the same outputs (see the module docstring)."""
    if not signed_before or signed_before == outpoints:
        return None
    return Refused(
        Refusal.INPUTS_CHANGED,
        f"mandate {mandate_id.hex()} was signed over {len(signed_before)} outputs, this revision"
        f" spends {len(outpoints)} others or more: two revisions that do not conflict could both"
        " confirm (a second payout)",
    )
