"""Paying withdrawal obligations (use case): the pool operator settles what LPs withdrew.

An LP withdrawal burns shares for ETM at once and the asset as an obligation the pool's
operator must pay to the investor's bound key before its deadline (else the pool halts). One
algorithm for every chain whose profile's ``client.obligation_payments`` says what such a
payment pays (the bound key at output 0, then the chain's list of the obligation ids), with the
operator's adapter's payments capability (``pay``, ``payment_status``, ``payment_proof``):

1. the obligations still open (pending or defaulted) of the ``asset`` pool this wallet operates;
2. for each, pay it (or resume the payment already recorded in the ``journal`` for it: a
   crash between paying and proving must never pay twice), wait for the pool's confirmations;
3. bring the chain's relay on ETM to that block (feeding it when anyone may), prove the
   payment and submit ``xchg_obligation_paid``.

The journal is a 0600 JSON file ``{"etm_chain": <genesis block id>, "paid": {"<asset>:<obligation
id>": txid}}``, written as soon as ``pay`` returns (an adapter learns its txid by paying, so
``pay`` itself is the only step not covered). An obligation id names a withdrawal of one ETM
chain only: a journal of another chain (an operator home reused on a relaunched network) is
refused, never resumed (review x5: resuming its payment to the same LP key for the same id and
amount closed the new chain's obligation with the old payment, and the LP was never paid). A
journal written before it named its chain (a flat object) is read as this chain's and named on
the next write. A chain whose profile has no ``obligation_payments`` (its obligations are paid
through a contract) is refused with one clear error.

One payer at a time per journal: a run holds an exclusive ``flock`` on ``<journal>.lock`` (the
kernel drops it when the process dies, even by SIGKILL). Without it a second run started while
the first still waited for confirmations (an operator thinking the first had hung) walked the
same obligations in step with it, and both read the journal before either wrote the next
obligation's txid: both paid it (review x5; the second run is now refused, naming the lock).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..chains.profile import ChainProfile, ObligationRequest
from ..chains.registry import chain_registry
from ..errors import ValidationError
from ..exchange import payloads, txtypes
from ..private_files import read_private, run_lock, write_private
from ..swaps.core.ports import TxResult
from .context import AppContext
from .liquidity import chain_leg, wait_confirmed, wait_relayed

#: obligation statuses an operator still has to pay (a defaulted one heals its pool when paid)
OPEN = frozenset({"pending", "defaulted"})


@dataclass(frozen=True)
class PaidObligation:
    """One settled obligation: its id, the payment's id on the asset's chain, the ETM tx."""

    obligation_id: int
    asset: str
    amount: int
    txid: str
    tx: TxResult

    def to_json(self) -> dict[str, Any]:
        return {"obligation_id": self.obligation_id, "asset": self.asset, "amount": self.amount,
                "txid": self.txid, **self.tx.to_json()}  # fmt: skip


def payable_assets() -> tuple[str, ...]:
    """Assets whose obligations an operator pays with its adapter (this use case)."""
    return tuple(
        c.ticker for c in chain_registry().pooled()
        if c.client is not None and c.client.obligation_payments is not None
    )  # fmt: skip


def open_obligations(ctx: AppContext, asset: str) -> list[dict[str, Any]]:
    """The ``asset`` pool's obligations still to pay, oldest first; ValidationError unless this
    wallet operates the pool."""
    asset = asset.lower()
    ex = ctx.exchange()
    pool = ex.pool(asset)
    if pool["operator"] != ex.etm_address():
        raise ValidationError(
            f"the {asset} pool is operated by {pool['operator']}, not this wallet "
            f"({ex.etm_address()}): only its operator pays its obligations"
        )
    rows = [o for o in ctx.node().obligations() if o["asset"] == asset and o["status"] in OPEN]
    return sorted(rows, key=lambda o: int(o["obligation_id"]))


def _journal_read(journal: Path, etm_chain: str) -> dict[str, str]:
    """The payments ``journal`` records for the ETM chain whose genesis id is ``etm_chain``."""
    text = read_private(journal)
    if text is None:
        return {}
    try:
        saved = json.loads(text)
    except ValueError as exc:
        raise ValidationError(
            f"{journal} is not valid JSON ({exc}): it records obligation payments already "
            "made; repair it, never delete it"
        ) from exc
    if not isinstance(saved, dict):
        raise ValidationError(f"{journal} is not an obligation payment journal (an object)")
    if "etm_chain" in saved:
        if saved["etm_chain"] != etm_chain:
            raise ValidationError(
                f"{journal} records obligation payments for another ETM chain (genesis "
                f"{str(saved['etm_chain'])[:64]}, this node's is {etm_chain}): its obligation "
                "ids name other withdrawals. Move it away (keep it) and run again"
            )
        saved = saved.get("paid")
        if not isinstance(saved, dict):
            raise ValidationError(f"{journal} has no object of payments ('paid')")
    return {str(k): str(v) for k, v in saved.items()}


def _journal_write(journal: Path, etm_chain: str, paid: dict[str, str]) -> None:
    write_private(journal, json.dumps({"etm_chain": etm_chain, "paid": paid}, indent=1,
                                      sort_keys=True))  # fmt: skip


def journal_lock(journal: Path) -> AbstractContextManager[None]:
    """Hold the one payer's lock of ``journal`` (see the module); ValidationError naming the
    lock file if another run holds it."""
    busy = "another run is paying these obligations: wait for it to finish or stop it; two "
    return run_lock(journal, busy + "payers at once could pay an obligation twice")


def pay_obligations(
    ctx: AppContext,
    asset: str,
    journal: Path,
    *,
    fee: int | None = None,
    timeout_s: float = 3600.0,
    progress: Callable[[str], None] = lambda line: None,
    after_pay: Callable[[int], object] = lambda confirmations: None,
) -> list[PaidObligation]:
    """Pay and prove every open obligation of the ``asset`` pool this wallet operates (see
    the module). ``after_pay(confirmations needed)`` runs once a payment is sent (a local stack
    mines those blocks there)."""
    asset = asset.lower()
    chain = chain_registry().for_asset(asset)
    client = chain.require_client()
    if client.obligation_payments is None or client.obligation_proof is None:
        raise ValidationError(
            f"{chain.name} obligations are not paid by a payment of the operator's adapter "
            f"(its pools pay withdrawals another way, e.g. through the operator's vault)"
        )
    with journal_lock(journal):
        return _pay_due(ctx, asset, journal, chain, fee, timeout_s, progress, after_pay)


def _pay_due(
    ctx: AppContext, asset: str, journal: Path, chain: ChainProfile, fee: int | None,
    timeout_s: float, progress: Callable[[str], None], after_pay: Callable[[int], object],
) -> list[PaidObligation]:  # fmt: skip
    """:func:`pay_obligations` under its journal's lock."""
    client = chain.require_client()
    assert client.obligation_payments is not None and client.obligation_proof is not None
    due = open_obligations(ctx, asset)
    if not due:
        return []
    leg = chain_leg(ctx, chain)
    adapter = ctx.adapter(leg)
    ex = ctx.exchange()
    needed = int(ex.pool(asset)["min_confirmations"])
    etm_chain = str(ctx.node().block(0)["fullId"])
    done: list[PaidObligation] = []
    for row in due:
        oid, amount = int(row["obligation_id"]), int(row["amount"])
        request = ObligationRequest(bytes.fromhex(row["destination"]), amount, (oid,))
        payments = client.obligation_payments(request)
        key = f"{asset}:{oid}"
        since = adapter.tip().height
        paid = _journal_read(journal, etm_chain)
        txid = paid.get(key)
        if txid is None:
            txid = adapter.pay(payments)
            _journal_write(journal, etm_chain, {**paid, key: txid})
            progress(f"paid obligation {oid}: {amount} base units of {asset}, {leg} tx {txid}")
        else:
            since = max(0, since - 1_000)  # resumed: look back for its block
            progress(f"obligation {oid}: resuming its payment {leg} tx {txid}")
        after_pay(needed)
        height = wait_confirmed(adapter, leg, txid, since, needed, timeout_s, progress)
        wait_relayed(ex, leg, adapter, height, needed, None, timeout_s, progress)
        proof = client.obligation_proof(adapter.payment_proof(txid, payments[0]))
        tx = ex.submit(txtypes.OBLIGATION_PAID, payloads.ObligationPaid(oid, proof), fee=fee)
        done.append(PaidObligation(oid, asset, amount, txid, tx))
    return done
