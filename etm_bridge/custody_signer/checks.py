"""When a custody signer may sign a mandate revision (design-14 section 4.4). Pure.

:func:`refusal` answers None (sign) or why not, for the newest revision of an open mandate:

1. the ETM block that created the revision is at or below the node's finalized height (a
   mandate a fork could replace is never signed: its digests could become uncovered, and the
   signature fraud, after a reorg);
2. ETM time (the signer's own clock) is before ``sign_until_s`` (0: no window);
3. the signer's key is a member of the revision's epoch's committee on the mandate's chain;
4. the mandate id is the one its kind, chain and source give (``mandate_id``), and the digests
   and txid the signer recomputes from the revision's ``spend`` with the chain's own builder
   equal the ones the node served (a node serving digests of another spend is caught here);
5. ``replaces`` is empty unless the mandate is a cancel of the mandate its id is derived from
   (the record lets ``replaces`` spend outputs bound to another mandate: a lying node must
   not name any mandate it likes there).

Then the record decides (:mod:`etm_bridge.custody.signing_rule`).
"""

from __future__ import annotations

from ..custody import mandates as mandate_rules
from ..custody.records import Committee, Mandate, MandateKind, MandateStatus, Revision
from ..custody.spec import CustodySpec


def refusal(
    mandate: Mandate,
    rev: Revision,
    committee: Committee,
    key: bytes,
    finalized_height: int,
    now_s: int,
    spec: CustodySpec,
) -> str | None:
    if mandate.status is not MandateStatus.OPEN:
        return f"mandate is {mandate.status.value}, not open"
    if rev.height > finalized_height:
        return (
            f"revision {rev.rev} (block {rev.height}) is not final (finalized {finalized_height})"
        )
    if mandate.sign_until_s and now_s >= mandate.sign_until_s:
        return f"signing window closed at ETM time {mandate.sign_until_s} (now {now_s})"
    if committee.epoch != rev.epoch:
        return f"committee of epoch {committee.epoch} given for revision epoch {rev.epoch}"
    if key not in committee.keys.get(mandate.ticker, ()):
        return f"this signer's key is no member of epoch {rev.epoch} on {mandate.ticker}"
    if mandate_rules.mandate_id(mandate.kind, mandate.ticker, mandate.source) != mandate.id:
        return "the mandate id is not its kind, chain and source's (a lying node)"
    if mandate.replaces is not None and (
        mandate.kind is not MandateKind.CANCEL or mandate.replaces != mandate.source
    ):
        return (
            "the mandate replaces another, yet is no cancel of it (only a cancel, whose source"
            " is the cancelled mandate, may spend another mandate's inputs: a lying node)"
        )
    try:
        digests, txid = spec.digests(rev.spend), spec.txid(rev.spend)
    except Exception as exc:  # a malformed spend from the node: refuse, never crash
        return f"the revision's spend does not decode ({type(exc).__name__}: {exc})"
    if tuple(digests) != tuple(rev.digests) or txid != rev.txid:
        return "digests or txid differ from this signer's rebuild of the spend (a lying node)"
    return None
