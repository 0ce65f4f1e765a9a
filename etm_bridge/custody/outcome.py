"""Tx 302 ``custody_outcome_proof``: anyone proves what the committee's vault did on its chain
(design-14 sections 2.5, 4.3, 4.7, 10.4).

Payload: ``u8 version=1 || u8 len + ticker || mandate_id 32 || u32 BE len + proof`` (the
proof is the chain's own, read by its custody spec). The chain's
``CustodySpec.outcome`` checks the proof against its relay at the relay policy's depth
(a shallow or unknown proof is refused with the relay's reason, e.g.
``insufficient-confirmations``); :func:`.mandate_store.prove_mandate` then requires the proven
transaction's id to be one of the mandate's revisions (``outcome_mismatch``: an unrelated
transaction, or another mandate's), counts each proof once (``outcome_replayed``), moves the
mandate by the transition table (``bad_transition``: e.g. a queued mandate), marks its reserved
inputs spent and records the outputs paying a vault of the chain (any committee's:
:func:`.vaults.all_vaults`) as unspent vault outputs. Because a txid commits to every input
and output, a proof of a mandate's txid is that mandate's spend: it cannot spend other outputs
nor create outputs the mandate did not fix.

Books (section 4.7): an ``lp_withdraw`` proven releases ``owed`` by its ``amount`` and any bump
fee charged beyond the payout's own (``pending_fees``; revision 0 charges none); a
``claim_swap_in`` proven clears its ``receivable`` and fee (:func:`.swap_in.claim_proven`); a
proof of the **user's refund** of a claim's lock (a spend of its input that is no revision)
voids the claim and books the loss (:func:`.swap_in.refund_won`; its fee back to the pool's
reserve); a ``counter_lock`` proven releases its fee and moves its amount into ``in_htlc``
(:func:`.swap_out.lock_proven`; after its cancel, the cancel is void), a ``cancel`` proven
releases its fee. Kinds whose creating transactions do not exist yet (counter refunds,
sweeps) are proven the same way, without books. Pure.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from ..chain.registry import TxContext
from ..chain.state import State
from ..chain.tx import Tx
from ..errors import CustodyError, SpvRejectedError, TxRejectedError, ValidationError
from ..exchange import records as exchange_records
from ..exchange.pool import Pool
from . import lp, mandate_store, records, swap_in, swap_out
from .plans import get_params
from .records import MandateKind, Reason
from .vaults import Specs, all_vaults, chain_part

VERSION = 1
MAX_PROOF = 1 << 20


@dataclass(frozen=True)
class OutcomeProof:
    ticker: str
    mandate_id: bytes
    proof: bytes

    def encode(self) -> bytes:
        t = self.ticker.encode()
        return (bytes([VERSION, len(t)]) + t + self.mandate_id
                + struct.pack(">I", len(self.proof)) + self.proof)  # fmt: skip


def decode_outcome(data: bytes) -> OutcomeProof:
    try:
        if data[0] != VERSION:
            raise ValidationError(f"custody_outcome_proof version {data[0]}, expected {VERSION}")
        n = data[1]
        ticker = data[2 : 2 + n].decode("ascii")
        pos = 2 + n
        mid = data[pos : pos + 32]
        (size,) = struct.unpack_from(">I", data, pos + 32)
    except (IndexError, struct.error, UnicodeDecodeError):
        raise ValidationError("custody_outcome_proof payload ends early or is not ascii") from None
    proof = data[pos + 36 :]
    if not ticker or len(mid) != 32 or len(proof) != size or size > MAX_PROOF:
        raise ValidationError(
            f"custody_outcome_proof: ticker, a 32-byte mandate id and a proof of exactly the "
            f"stated length (<= {MAX_PROOF} bytes) are needed"
        )
    return OutcomeProof(ticker, mid, proof)


def apply_outcome(state: State, p: OutcomeProof, ctx: TxContext, specs: Specs) -> records.Mandate:
    """Prove the mandate (see the module docstring); raises CustodyError or SpvRejectedError."""
    params = get_params(state)
    part = chain_part(params, p.ticker, specs)
    mandate = mandate_store.get_mandate(state, p.mandate_id)
    if mandate is None or mandate.ticker != p.ticker:
        raise CustodyError(Reason.UNKNOWN_MANDATE, f"no {p.ticker} mandate {p.mandate_id.hex()}")
    was_cancelled = mandate.status is records.MandateStatus.CANCELLED
    outcome = part.spec.outcome(state, p.proof, ctx)
    fee_back = swap_in.refund_won(state, part, mandate, outcome)
    if fee_back is not None:  # the user's refund spent the lock first: the claim is void
        _charge_reserve(state, mandate.asset, -fee_back)
        lost = mandate_store.get_mandate(state, p.mandate_id)
        assert lost is not None
        return lost
    done = mandate_store.prove_mandate(state, part.spec, p.mandate_id, outcome,
                                       all_vaults(state, part), ctx.height)  # fmt: skip
    if done.kind is MandateKind.LP_WITHDRAW and done.proven is not None:
        rev = done.revisions[done.proven.rev]
        base_fee = int(done.terms.get("payout_fee", rev.fee))
        acc = lp.get_account(state, done.asset)
        lp.put_account(state, done.asset, replace(
            acc, owed=acc.owed - int(done.terms["amount"]),
            pending_fees=acc.pending_fees - (rev.fee - base_fee)))  # fmt: skip
    elif done.kind is MandateKind.COUNTER_LOCK and done.proven is not None:
        _charge_reserve(state, done.asset, -swap_out.lock_proven(state, done, was_cancelled))
    elif done.kind is MandateKind.CANCEL and done.proven is not None:
        acc = lp.get_account(state, done.asset)
        fee = done.revisions[done.proven.rev].fee
        lp.put_account(state, done.asset, replace(acc, pending_fees=acc.pending_fees - fee))
    elif done.kind is MandateKind.CLAIM_SWAP_IN and done.proven is not None:
        swap_in.claim_proven(state, done)
    return done


def _charge_reserve(state: State, asset: str, amount: int) -> None:
    """The pool's asset reserve less ``amount`` (negative: given back)."""
    if not amount:
        return
    raw = state.get_json(exchange_records.POOLS, asset.encode())
    if raw is None:
        raise CustodyError(Reason.BAD_PARAMETER, f"no {asset} pool")
    pool = exchange_records.decode(Pool, raw)
    state.put_json(exchange_records.POOLS, asset.encode(), exchange_records.encode(
        replace(pool, asset_reserve=pool.asset_reserve - amount)))  # fmt: skip


def run(state: State, tx: Tx, p: OutcomeProof, ctx: TxContext, specs: Specs) -> None:
    """Tx 302's check and apply (check runs it on a throwaway overlay)."""
    try:
        apply_outcome(state, p, ctx, specs)
    except CustodyError as exc:
        raise TxRejectedError(exc.reason, exc.detail) from exc
    except SpvRejectedError as exc:
        raise TxRejectedError(exc.reason, str(exc)) from exc
