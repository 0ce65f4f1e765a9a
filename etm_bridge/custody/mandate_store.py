"""Mandates in state: creation with the covered-digest registry, and their proof (design-14
sections 2.2, 2.5, 4.2).

:func:`open_mandate` builds revision 0 with the chain's :class:`~.spec.CustodySpec` (the spend
is a pure function of the request and the selected vault outputs), and writes, in one go: the
mandate (``custody_mandates``), its log and open indexes, its expiry, each digest in the
**permanent** covered registry (``custody_covered``: digest -> mandate id || rev u16 || input
u16; what makes a committee signature over it *not* fraud), its txid (``custody_txids``, UTXO
model) and the reservation of its inputs. A digest already covered by another mandate is
refused (two mandates must never authorise one spend).

:func:`prove_mandate` applies a proven outcome: the proof's txid must be one of the mandate's
revisions (``outcome_mismatch``), each proof counts once (``outcome_replayed``), the status
moves by the transition table (``bad_transition``: e.g. a queued mandate), its inputs become
spent and its outputs paying a vault of the chain become unspent vault outputs.

:func:`queue_mandate` records a mandate the vault cannot fund yet (``queued``, no revision, in
the FIFO ``custody_queue``, read by :func:`queue_page`); :func:`fund_mandate` opens it at
revision 0 when the round hook finds inputs for it (:mod:`.hooks`), and :func:`requeue` moves
an entry the active committee can never pay to the tail; :func:`epoch_utxos` lists
an epoch's vault outputs for coin selection. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..chain.codec import U16, U64
from ..chain.state import State, StateView
from ..errors import CustodyError
from . import mandates, records
from . import utxo as utxos
from .records import MandateKind, Reason
from .spec import CustodySpec, ProvenOutcome, SpendRequest, VaultInfo


def get_mandate(view: StateView, mandate_id: bytes) -> records.Mandate | None:
    raw = view.get_json(records.MANDATES, mandate_id)
    return None if raw is None else records.decode(records.Mandate, raw)


def get_utxo(view: StateView, ticker: str, outpoint: bytes) -> records.CustodyUtxo | None:
    raw = view.get_json(records.UTXOS, records.ticker_key(ticker, outpoint))
    return None if raw is None else records.decode(records.CustodyUtxo, raw)


def put_utxo(state: State, u: records.CustodyUtxo) -> None:
    """Write ``u``; the epoch index (what coin selection scans) keeps live (unspent, reserved)
    outputs only (spent and stolen ones leave it for good: no step leads back), so a
    selection, and the round hook's ``fund_per_round`` of them, costs the vault's live outputs,
    not every output it ever had."""
    state.put_json(records.UTXOS, records.ticker_key(u.ticker, u.outpoint), records.encode(u))
    index = records.ticker_key(u.ticker, records.epoch_key(u.epoch) + u.outpoint)
    gone = u.status in (records.UtxoStatus.SPENT, records.UtxoStatus.STOLEN)
    state.put(records.UTXO_EPOCH, index, None if gone else b"\x01")


def open_mandate(
    state: State,
    spec: CustodySpec,
    cfg: Any,
    request: SpendRequest,
    ticker: str,
    asset: str,
    source: bytes,
    inputs: Sequence[records.CustodyUtxo],
    height: int,
    sign_until_s: int | None,
    takes_over: bytes | None = None,
) -> records.Mandate:
    """Create the mandate of ``request`` (its ``mandate_id`` must be ``mandate_id(kind,
    ticker, source)``) spending ``inputs``, open at revision 0 (see the module docstring).
    ``takes_over``: a cancelled mandate whose reserved inputs this one (its ``cancel``) may
    reserve in turn."""
    mid = mandates.mandate_id(request.kind, ticker, source)
    if request.mandate_id != mid:
        raise CustodyError(Reason.BAD_PARAMETER, "the request names another mandate id")
    if get_mandate(state, mid) is not None:
        raise CustodyError(Reason.BAD_TRANSITION, f"mandate {mid.hex()} exists already")
    status = mandates.transition(None, mandates.MandateEvent.CREATED, request.kind, spec.model)
    revision = _revision0(state, spec, cfg, request, ticker, inputs, height, sign_until_s,
                          takes_over)  # fmt: skip
    mandate = records.Mandate(
        mid, request.kind, ticker, asset, source, status, height,
        sign_until_s if sign_until_s is not None else 0, _terms(request.terms), (revision,),
    )  # fmt: skip
    state.put_json(records.MANDATES, mid, records.encode(mandate))
    seq = state.get_u64(records.MANDATE_SEQ, b"next")
    state.put(records.MANDATE_LOG, U64.pack(seq), mid)
    state.put_u64(records.MANDATE_SEQ, b"next", seq + 1)
    return mandate


def fund_mandate(
    state: State,
    spec: CustodySpec,
    cfg: Any,
    request: SpendRequest,
    queue_key: bytes,
    inputs: Sequence[records.CustodyUtxo],
    height: int,
    sign_until_s: int,
) -> records.Mandate:
    """Fund the queued mandate ``request.mandate_id`` (its FIFO entry ``queue_key``) with
    ``inputs``: ``queued --funded--> open`` at revision 0 with :func:`open_mandate`'s writes
    (covered digests, txid, reservations, open and expiry indexes; its log entry stays the
    one the queueing wrote), its terms now ``request.terms``, and its queue entry removed."""
    queued = get_mandate(state, request.mandate_id)
    if queued is None or state.get(records.QUEUE, queue_key) != request.mandate_id:
        raise CustodyError(Reason.BAD_PARAMETER, "the queue entry names another mandate")
    status = mandates.transition(
        queued.status, mandates.MandateEvent.FUNDED, queued.kind, spec.model
    )
    revision = _revision0(state, spec, cfg, request, queued.ticker, inputs, height, sign_until_s,
                          None)  # fmt: skip
    funded = replace(queued, status=status, sign_until_s=sign_until_s,
                     terms=_terms(request.terms), revisions=(revision,))  # fmt: skip
    state.put_json(records.MANDATES, queued.id, records.encode(funded))
    state.delete(records.QUEUE, queue_key)
    return funded


def requeue(state: State, queue_key: bytes, mandate_id: bytes) -> bytes:
    """Move the queue entry ``queue_key`` (naming ``mandate_id``) to the queue's tail (a fresh
    key from the mandate log's sequence, which then has a gap); its new key."""
    if state.get(records.QUEUE, queue_key) != mandate_id:
        raise CustodyError(Reason.BAD_PARAMETER, "the queue entry names another mandate")
    seq = state.get_u64(records.MANDATE_SEQ, b"next")
    state.delete(records.QUEUE, queue_key)
    state.put(records.QUEUE, U64.pack(seq), mandate_id)
    state.put_u64(records.MANDATE_SEQ, b"next", seq + 1)
    return U64.pack(seq)


def queue_page(view: StateView, limit: int) -> list[tuple[bytes, bytes]]:
    """The first ``limit`` entries of the FIFO queue: (queue key, mandate id), oldest first."""
    return list(view.scan_page(records.QUEUE, b"", None, limit))


def _revision0(
    state: State,
    spec: CustodySpec,
    cfg: Any,
    request: SpendRequest,
    ticker: str,
    inputs: Sequence[records.CustodyUtxo],
    height: int,
    sign_until_s: int | None,
    takes_over: bytes | None,
) -> records.Revision:
    """Build revision 0 of ``request`` and write its registries (covered digests, txid,
    reserved inputs, open and expiry indexes); every check before the first write."""
    mid = request.mandate_id
    built = spec.build(request, inputs, cfg)
    digests = spec.digests(built.spend)
    txid = spec.txid(built.spend)
    by_outpoint = {u.outpoint: u for u in inputs}
    reserved = [  # a vault output; a user's lock (a swap-in claim's input) is no vault output
        _reserve(by_outpoint[op], mid, takes_over) for op in built.inputs if op in by_outpoint
    ]
    for digest in digests:
        other = state.get(records.COVERED, digest)
        if other is not None:
            raise CustodyError(
                Reason.BAD_TRANSITION, f"digest {digest.hex()} is covered by {other[:32].hex()}"
            )
    for i, digest in enumerate(digests):
        state.put(records.COVERED, digest, mid + U16.pack(0) + U16.pack(i))
    if txid is not None:
        state.put(records.TXIDS, records.ticker_key(ticker, txid), mid + U16.pack(0))
    for utxo in reserved:
        put_utxo(state, utxo)
    state.put(records.OPEN, records.ticker_key(ticker, mid), b"\x01")
    if sign_until_s is not None:
        state.put(records.EXPIRY, U64.pack(sign_until_s) + mid, b"\x01")
    return records.Revision(0, request.epoch, height, request.fee_rate, built.fee, built.spend,
                            digests, txid)  # fmt: skip


def _reserve(u: records.CustodyUtxo, mid: bytes, takes_over: bytes | None) -> records.CustodyUtxo:
    if (
        takes_over is not None
        and u.status is records.UtxoStatus.RESERVED
        and u.mandate == takes_over
    ):
        return replace(u, mandate=mid)
    return utxos.step(u, records.UtxoStatus.RESERVED, mid)


def _terms(terms: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(terms), sort_keys=True))


def prove_mandate(
    state: State,
    spec: CustodySpec,
    mandate_id: bytes,
    outcome: ProvenOutcome,
    vaults: Mapping[bytes, int],
    height: int,
) -> records.Mandate:
    """Apply ``outcome`` to the mandate; ``vaults``: destination -> epoch of every vault of the
    chain (outputs paying one become its unspent outputs)."""
    mandate = get_mandate(state, mandate_id)
    if mandate is None:
        raise CustodyError(Reason.UNKNOWN_MANDATE, f"no mandate {mandate_id.hex()}")
    event = records.ticker_key(mandate.ticker, outcome.ref)
    if state.get(records.EVENTS, event) is not None:
        raise CustodyError(Reason.OUTCOME_REPLAYED, f"outcome {outcome.ref.hex()} was used")
    rev = next((r for r in mandate.revisions if r.txid == outcome.txid), None)
    if rev is None or outcome.txid is None:
        raise CustodyError(
            Reason.OUTCOME_MISMATCH, f"the proven spend is no revision of {mandate_id.hex()}"
        )
    status = mandates.transition(
        mandate.status, mandates.MandateEvent.PROVEN, mandate.kind, spec.model
    )
    for outpoint in outcome.spent:
        utxo = get_utxo(state, mandate.ticker, outpoint)
        if utxo is not None:
            utxo = _lost_by_cancel(state, spec, utxo, mandate_id)
            put_utxo(state, utxos.step(utxo, records.UtxoStatus.SPENT, mandate_id))
    for out in outcome.created:
        epoch = vaults.get(out.destination)
        if epoch is not None:
            put_utxo(state, records.CustodyUtxo(mandate.ticker, out.outpoint, out.amount, epoch,
                                           records.UtxoStatus.UNSPENT, None, height))  # fmt: skip
    state.put(records.EVENTS, event, b"\x01")
    state.delete(records.OPEN, records.ticker_key(mandate.ticker, mandate_id))
    proven = records.ProvenRef(rev.rev, outcome.ref, outcome.foreign_height, height)
    done = replace(mandate, status=status, proven=proven)
    state.put_json(records.MANDATES, mandate_id, records.encode(done))
    return done


def _lost_by_cancel(
    state: State, spec: CustodySpec, utxo: records.CustodyUtxo, mandate_id: bytes
) -> records.CustodyUtxo:
    """A cancelled mandate's spend confirmed instead of its cancel: the cancel, which reserved
    the same input, lost it (``void``); the input is the proven mandate's again."""
    holder = None if utxo.mandate in (None, mandate_id) else get_mandate(state, utxo.mandate)
    if holder is None or holder.kind is not MandateKind.CANCEL or holder.source != mandate_id:
        return utxo
    if holder.status is not records.MandateStatus.VOID:
        status = mandates.transition(
            holder.status, mandates.MandateEvent.INPUT_LOST, holder.kind, spec.model
        )
        state.put_json(records.MANDATES, holder.id, records.encode(replace(holder, status=status)))
        state.delete(records.OPEN, records.ticker_key(holder.ticker, holder.id))
    return replace(utxo, mandate=mandate_id)


def queue_mandate(
    state: State,
    spec: CustodySpec,
    kind: MandateKind,
    ticker: str,
    asset: str,
    source: bytes,
    terms: Mapping[str, Any],
    height: int,
) -> records.Mandate:
    """Record a mandate the vault cannot cover now: ``queued``, no revision, in the FIFO queue
    (funded later by the round hook or a ``custody_request fund``)."""
    mid = mandates.mandate_id(kind, ticker, source)
    if get_mandate(state, mid) is not None:
        raise CustodyError(Reason.BAD_TRANSITION, f"mandate {mid.hex()} exists already")
    status = mandates.transition(None, mandates.MandateEvent.CREATED_UNFUNDED, kind, spec.model)
    mandate = records.Mandate(mid, kind, ticker, asset, source, status, height, 0, _terms(terms))
    state.put_json(records.MANDATES, mid, records.encode(mandate))
    seq = state.get_u64(records.MANDATE_SEQ, b"next")
    state.put(records.MANDATE_LOG, U64.pack(seq), mid)
    state.put(records.QUEUE, U64.pack(seq), mid)
    state.put_u64(records.MANDATE_SEQ, b"next", seq + 1)
    return mandate


def epoch_utxos(view: StateView, ticker: str, epoch: int) -> list[records.CustodyUtxo]:
    """Every live (unspent or reserved) vault output of ``ticker`` recorded for ``epoch``
    (spent and stolen ones leave the index: :func:`put_utxo`)."""
    prefix = records.ticker_key(ticker, records.epoch_key(epoch))
    out = []
    for key, _ in view.scan(records.UTXO_EPOCH, prefix):
        utxo = get_utxo(view, ticker, key[len(prefix) :])
        if utxo is not None:
            out.append(utxo)
    return out


def vault_request(
    kind: MandateKind,
    ticker: str,
    source: bytes,
    committee: records.Committee,
    vault: VaultInfo,
    terms: Mapping[str, Any],
    fee_rate: int,
) -> SpendRequest:
    """The revision-0 request of a new mandate (its id from kind, ticker and source)."""
    mid = mandates.mandate_id(kind, ticker, source)
    return SpendRequest(kind, mid, 0, committee.epoch, committee, vault, terms, fee_rate)
