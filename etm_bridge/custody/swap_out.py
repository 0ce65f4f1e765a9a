"""Swap-outs of a committee pool (ETM -> asset): the counter lock the vault funds (design-14
sections 2.3, 4.1 kind 1, 4.5 rows 209 and 204, 4.7 rules 1 and 3). What
:class:`~.port.ChainCustody` does for tx 209 and for the claim (204) of a swap-out's ETM HTLC.

* **Swap-out** (209): a ``counter_lock`` mandate, id from the swap-out HTLC id, locking the
  swap's quoted ``amount_out`` (already net of the outbound fee estimate,
  :meth:`~.port.ChainCustody.quote_fee`) in a counter HTLC to the user's bound key (the key the
  swap record fixed), refundable to the committee after ``timelock``; inputs: the active
  vault's unspent outputs (:func:`.utxo.select_inputs`, growing the target by the spend's own
  fee until the inputs pay it), change to the active vault. ``timelock`` = relay tip + the
  foreign blocks of ``etm_deadline - now - MARGIN_S - sign_window_s`` counted at 125% of the
  chain's block time (:data:`SLOW_NUM`: slow blocks must not carry T past the ETM deadline;
  the user's own claim time is checked at the nominal block time) (a stale relay tip only
  makes it earlier: the pool's margin grows); less than ``MIN_ETM_LEG_S`` of that window is
  ``leg_too_short``; a tip so old (its header time against ETM time) that the user would keep
  less than ``MIN_ETM_LEG_S`` after the signing window is ``stale_relay`` (the user would get a
  lock they cannot claim in time).
  ``sign_until`` = ``min(now + sign_window_s, etm_deadline - 2 MARGIN_S)``; less than
  :data:`MIN_SIGN_S` to sign (an ETM leg under ``2 MARGIN_S`` + 15 min: the exchange's 12 h
  minimum left none) is ``leg_too_short``.
  The vault's free outputs cannot pay it: the swap-out is **refused**
  ``insufficient_liquidity`` (not queued: a queued lock would hold the user's ETM for the whole
  leg with nothing funding it, and funding queued mandates does not exist yet); a lock below the
  chain's output dust is ``zero_output``. Books (rule 1): the revision's fee leaves the pool's
  ``asset_reserve`` into ``pending_fees``.
* **Counter lock proven** (302, :func:`lock_proven`): ``pending_fees -= fee``, ``in_htlc +=
  amount`` (the vault lost ``amount + fee``: its inputs are spent, its change recorded), the
  lock recorded in ``custody_htlcs`` (``counter``, ``open``).
* **ETM HTLC claimed** (204, :func:`etm_claimed`; the preimage is public, the user can take the
  lock): the exchange settles the swap (reserve ``-= amount``) and ``in_htlc -= amount``, the
  lock ``claimed``. A claim before the lock's proof is remembered (``custody_events``) and the
  proof then records the lock ``claimed`` without adding to ``in_htlc``: the books balance in
  either order.
* **ETM HTLC refunded while the lock is unproven** (205, :func:`etm_refunded`; design-14
  section 4.3): the ``counter_lock`` mandate is ``cancelled`` (never signed again) and a
  ``cancel`` mandate (kind 7, id from the cancelled mandate's) spends the same inputs back to
  the active vault at twice the fee rate, so a lock signed but not yet confirmed can be beaten
  by it (at most one of the two confirms: they share inputs; a doubled-rate cancel the chain cannot
  build or the pool cannot pay falls back to the lock's own rate). Books: the lock's fee is released
  to the reserve, the cancel's charged (rule 1). The cancel proven (302): ``pending_fees -=``
  its fee. The cancelled lock proven instead: the cancel is ``void``, its fee released, the
  lock's fee paid from the reserve and its amount counted in ``in_htlc`` (the ETM side was
  refunded: if the user also claims the lock the pool lost it, else the committee's refund
  after the timelock brings it back). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ..chain.params import ETM_EPOCH_UNIX
from ..chain.state import State, StateView
from ..errors import CustodyError, EtmBridgeError, ExchangeError
from ..exchange.reasons import Reason as XReason
from ..exchange.swap_rules import MARGIN_S, MIN_ETM_LEG_S
from . import lp, mandate_store, mandates, records
from .params import CustodyParams
from .records import HtlcRole, MandateKind
from .spec import SpendRequest
from .utxo import select_inputs
from .vaults import ChainPart, committee_of, overlay

if TYPE_CHECKING:
    from ..exchange.htlc import Htlc
    from ..exchange.records import PoolSwap

#: T counts the foreign blocks at ``SLOW_NUM / SLOW_DEN`` of their nominal time: blocks a
#: fifth slower than nominal (hashrate leaving before a retarget; Poisson variance over a 48 h
#: leg) must still reach T before the ETM deadline, or the user refunds the ETM leg and then
#: claims the lock before T, when the committee cannot refund it yet (x7e).
SLOW_NUM, SLOW_DEN = 5, 4
#: The least time a counter lock must leave its members to sign (the client's 12.5 h swap-out
#: leg leaves 30 min; the exchange's 12 h minimum left none: a lock no member could sign).
MIN_SIGN_S = 900
#: The claim key of the quote's probe lock (secp256k1's generator: a valid compressed key).
PROBE_KEY = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
#: ``custody_events`` key prefix: the swap-out's ETM HTLC was claimed before its lock's proof.
CLAIMED_FIRST = b"etm-claimed\x00"
OPEN, CLAIMED = "open", "claimed"


def counter_lock_id(ticker: str, swap_htlc_id: bytes) -> bytes:
    return mandates.mandate_id(MandateKind.COUNTER_LOCK, ticker, swap_htlc_id)


def timelock(
    view: StateView, params: CustodyParams, part: ChainPart, etm_deadline_s: int, now_s: int
) -> int:
    """The counter lock's timelock (foreign height; see the module docstring)."""
    block_s = part.setting("block_time_s", None)
    tip_of = part.spec.extra.get("relay_tip")
    if block_s is None or tip_of is None:
        raise ExchangeError(
            XReason.CUSTODY_INACTIVE,
            f"the {part.ticker} custody spec names no block time or relay tip: no counter locks",
        )
    window = etm_deadline_s - now_s - MARGIN_S - params.sign_window_s
    if window < MIN_ETM_LEG_S:
        raise ExchangeError(
            XReason.LEG_TOO_SHORT,
            f"the ETM lock leaves {window} s of counter-lock window after the {MARGIN_S} s margin "
            f"and the {params.sign_window_s} s signing window; at least {MIN_ETM_LEG_S} s",
        )
    try:
        tip, tip_time = tip_of(view)
    except EtmBridgeError as exc:
        raise ExchangeError(
            XReason.STALE_RELAY, f"the {part.ticker} relay has no tip to count the lock from: {exc}"
        ) from exc
    t = int(tip) + window * SLOW_DEN // (SLOW_NUM * int(block_s))
    lag = now_s + ETM_EPOCH_UNIX - int(tip_time)
    left = (t - int(tip)) * int(block_s) - max(0, lag)
    if left < MIN_ETM_LEG_S + params.sign_window_s:
        raise ExchangeError(
            XReason.STALE_RELAY,
            f"the {part.ticker} relay tip (height {tip}) is {lag} s old: a lock counted from it "
            f"would leave the user about {left} s to claim, less than {MIN_ETM_LEG_S} s after "
            "the signing window; relay the chain's latest headers, then swap",
        )
    return t


def _fund(
    part: ChainPart,
    req: SpendRequest,
    candidates: Sequence[records.CustodyUtxo],
    amount: int,
) -> tuple[records.CustodyUtxo, ...] | None:
    """The active vault's outputs paying ``amount`` plus the spend's own fee (None: cannot).

    The smallest single output that pays both and leaves change above the dust, as for a
    withdrawal (:func:`.lp._select`: a small swap-out must not reserve the vault's largest
    output, refusing every other swap-out until it is proven); else largest first, each round
    pricing the fee of the chosen set (a probe locking nothing) and growing the target by it:
    the greedy choice only ever adds outputs, so this ends within ``max_inputs``."""
    most = part.setting("max_inputs", 50)
    probe = replace(req, terms={**req.terms, "amount": 0})
    free = [
        u for u in candidates if u.status is records.UtxoStatus.UNSPENT and u.epoch == req.epoch
    ]
    if free:
        one = part.spec.build(probe, free[:1], part.cfg).fee  # any single input: one size
        dust = part.setting("change_dust", 0)
        fits = [u for u in free if u.amount >= amount + one + dust]
        if fits:
            return (min(fits, key=lambda u: (u.amount, u.outpoint)),)
    extra = 0
    while True:
        chosen = select_inputs(candidates, req.epoch, amount + extra, lambda k: 0, most)
        if chosen is None:
            return None
        fee = part.spec.build(probe, chosen, part.cfg).fee
        if sum(u.amount for u in chosen) >= amount + fee:
            return chosen
        extra = fee


def quote_fee(part: ChainPart, committee: records.Committee | None) -> int:
    """A swap-out quote's fee estimate: the chain's ``fee_rate x outbound_vbytes``, or more:
    the real fee of the cheapest counter lock the active committee can sign (one vault input,
    the lock, the marker, change), so no swap-out costs the pool more than its user paid for
    (x7e: 250 vB undercounts a 3-of-4 lock's 314)."""
    rate = int(part.setting("fee_rate", 1))
    flat = rate * int(part.setting("outbound_vbytes", 0))
    if committee is None:
        return flat
    vault = part.spec.vault(committee, part.cfg)
    terms = {"amount": 10**6, "claim_key": PROBE_KEY, "hashlock": bytes(32).hex(),
             "timelock": 1, "swap_htlc_id": bytes(32).hex(), "etm_deadline_s": 1}  # fmt: skip
    req = mandate_store.vault_request(MandateKind.COUNTER_LOCK, part.ticker, bytes(32), committee,
                                      vault, terms, rate)  # fmt: skip
    utxo = records.CustodyUtxo(part.ticker, bytes(36), 10**8, committee.epoch,
                               records.UtxoStatus.UNSPENT)  # fmt: skip
    try:
        return max(flat, part.spec.build(req, [utxo], part.cfg).fee)
    except EtmBridgeError:  # a chain whose builder cannot price a probe: its flat estimate
        return flat


def open_counter_lock(
    view: StateView,
    params: CustodyParams,
    part: ChainPart,
    committee: records.Committee,
    htlc: Htlc,
    swap: PoolSwap,
    height: int,
    now_s: int,
) -> tuple[State, records.Mandate]:
    """Open the swap-out's ``counter_lock`` mandate and charge its fee (see the module)."""
    ticker, amount = part.ticker, swap.amount_out
    dust = part.setting("change_dust", 0)
    if amount < dust:
        raise ExchangeError(
            XReason.ZERO_OUTPUT,
            f"the swap pays {amount} after the network fee, below the {dust} {ticker} output dust",
        )
    terms: dict[str, object] = {
        "amount": amount, "claim_key": swap.user_key.hex(), "hashlock": htlc.hashlock.hex(),
        "timelock": timelock(view, params, part, htlc.deadline_s, now_s),
        "swap_htlc_id": htlc.htlc_id.hex(), "etm_deadline_s": htlc.deadline_s,
    }  # fmt: skip
    vault = part.spec.vault(committee, part.cfg)
    kind = MandateKind.COUNTER_LOCK
    req = mandate_store.vault_request(kind, ticker, htlc.htlc_id, committee, vault, terms,
                                      part.setting("fee_rate", 1))  # fmt: skip
    state = overlay(view)
    try:
        inputs = _fund(part, req, mandate_store.epoch_utxos(view, ticker, committee.epoch), amount)
        if inputs is None:
            raise ExchangeError(
                XReason.INSUFFICIENT_LIQUIDITY,
                f"the {ticker} vault's free outputs cannot fund a {amount} counter lock and its "
                "fee now (outputs reserved by open mandates come back as change once proven): "
                "retry later or swap less",
            )
        until = mandates.sign_until(kind, now_s, params, etm_deadline_s=htlc.deadline_s)
        if until is None or until - now_s < min(MIN_SIGN_S, params.sign_window_s):  # x7e
            raise ExchangeError(
                XReason.LEG_TOO_SHORT,
                f"a counter lock may be signed until {2 * MARGIN_S} s before the ETM deadline: "
                f"this leg leaves {0 if until is None else until - now_s} s to sign, less than "
                f"{MIN_SIGN_S} s; lock the ETM longer",
            )
        mandate = mandate_store.open_mandate(state, part.spec, part.cfg, req, ticker, swap.asset,
                                             htlc.htlc_id, inputs, height, until)  # fmt: skip
    except CustodyError as exc:
        raise ExchangeError(exc.reason, exc.detail) from exc
    acc = lp.get_account(view, swap.asset)
    fee = mandate.revisions[0].fee
    lp.put_account(state, swap.asset, replace(acc, pending_fees=acc.pending_fees + fee))
    return state, mandate


def lock_proven(state: State, mandate: records.Mandate, was_cancelled: bool = False) -> int:
    """Books and record of a proven counter lock (tx 302; see the module docstring). Returns
    what the pool's ``asset_reserve`` must change by (a lock proven after its cancel)."""
    assert mandate.proven is not None
    rev = mandate.revisions[mandate.proven.rev]
    amount = int(mandate.terms["amount"])
    claimed = state.get(records.EVENTS, _claimed_key(mandate)) is not None
    acc = lp.get_account(state, mandate.asset)
    reserve = 0
    if was_cancelled:  # the lock's fee was released at the cancel; the cancel's is released now
        cancel = mandate_store.get_mandate(state, cancel_id(mandate))
        cancel_fee = cancel.revisions[0].fee if cancel is not None and cancel.revisions else 0
        acc = replace(acc, pending_fees=acc.pending_fees - cancel_fee + rev.fee)
        reserve = cancel_fee - rev.fee
    lp.put_account(state, mandate.asset, replace(
        acc, pending_fees=acc.pending_fees - rev.fee,
        in_htlc=acc.in_htlc + (0 if claimed else amount)))  # fmt: skip
    assert rev.txid is not None
    lock = records.CustodyHtlc(mandate.ticker, rev.txid + bytes(4), HtlcRole.COUNTER,
                               mandate.source, amount, rev.epoch,
                               CLAIMED if claimed else OPEN)  # fmt: skip
    _put_lock(state, lock)
    return reserve


def cancel_id(cancelled: records.Mandate) -> bytes:
    return mandates.mandate_id(MandateKind.CANCEL, cancelled.ticker, cancelled.id)


def etm_refunded(
    view: StateView,
    params: CustodyParams,
    part: ChainPart,
    active: records.Committee,
    htlc: Htlc,
    height: int,
    now_s: int,
    with_cancel: bool = True,
) -> tuple[State, int]:
    """Cancel the swap-out's unproven counter lock (tx 205; see the module docstring). Returns
    the overlay and what the pool's ``asset_reserve`` changes by. ``with_cancel=False`` (the
    port's fallback when the doubled-rate cancel cannot be built or paid, e.g. its fee would
    leave dust: the user's refund must never fail) builds the cancel at the lock's own rate (a
    fee no larger than the lock's, so the inputs do not stay reserved forever; it only loses a
    race with a broadcast lock), and if even that cannot be built only marks the lock
    ``cancelled`` and releases its fee (a late proof of the lock charges it again, once:
    :func:`lock_proven`)."""
    state = overlay(view)
    mandate = mandate_store.get_mandate(view, counter_lock_id(part.ticker, htlc.htlc_id))
    live = (records.MandateStatus.OPEN, records.MandateStatus.EXPIRED)
    if mandate is None or mandate.status not in live or not mandate.revisions:
        return state, 0
    status = mandates.transition(mandate.status, mandates.MandateEvent.HTLC_REFUNDED,
                                 mandate.kind, part.spec.model)  # fmt: skip
    state.put_json(records.MANDATES, mandate.id, records.encode(replace(mandate, status=status)))
    state.delete(records.OPEN, records.ticker_key(part.ticker, mandate.id))
    rev = mandate.revisions[-1]
    acc = lp.get_account(view, mandate.asset)
    held = [u for u in mandate_store.epoch_utxos(view, part.ticker, rev.epoch)
            if u.status is records.UtxoStatus.RESERVED and u.mandate == mandate.id]  # fmt: skip
    inputs_committee = committee_of(view, rev.epoch)
    vault = part.spec.vault(active, part.cfg)
    kind = MandateKind.CANCEL
    rate = rev.fee_rate * (2 if with_cancel else 1)
    req = SpendRequest(kind, cancel_id(mandate), 0, rev.epoch, inputs_committee, vault,
                       {"cancels": mandate.id.hex()}, rate)  # fmt: skip
    try:
        if not with_cancel and part.spec.build(req, held, part.cfg).fee > rev.fee:
            raise CustodyError(records.Reason.BAD_PARAMETER, "the cancel costs more than the lock")
        cancel = mandate_store.open_mandate(state, part.spec, part.cfg, req, part.ticker,
                                            mandate.asset, mandate.id, held, height,
                                            now_s + params.sign_window_s,
                                            takes_over=mandate.id)  # fmt: skip
    except CustodyError as exc:
        if with_cancel:
            raise ExchangeError(exc.reason, exc.detail) from exc
        # no cancel at all: the lock's fee back (a late proof of the lock pays it)
        lp.put_account(state, mandate.asset, replace(acc, pending_fees=acc.pending_fees - rev.fee))
        return state, rev.fee
    fee = cancel.revisions[0].fee
    lp.put_account(state, mandate.asset,
                   replace(acc, pending_fees=acc.pending_fees - rev.fee + fee))  # fmt: skip
    return state, rev.fee - fee


def etm_claimed(view: StateView, ticker: str, htlc: Htlc) -> State:
    """The swap-out's ETM HTLC was claimed (tx 204; see the module docstring)."""
    state = overlay(view)
    mandate = mandate_store.get_mandate(view, counter_lock_id(ticker, htlc.htlc_id))
    if mandate is None:
        return state
    if mandate.proven is None:
        state.put(records.EVENTS, _claimed_key(mandate), b"\x01")
        return state
    rev = mandate.revisions[mandate.proven.rev]
    assert rev.txid is not None
    key = records.ticker_key(ticker, rev.txid + bytes(4))
    raw = view.get_json(records.HTLCS, key)
    lock = None if raw is None else records.decode(records.CustodyHtlc, raw)
    if lock is not None and lock.status == OPEN:
        _put_lock(state, replace(lock, status=CLAIMED))
        acc = lp.get_account(view, mandate.asset)
        lp.put_account(state, mandate.asset, replace(acc, in_htlc=acc.in_htlc - lock.amount))
    return state


def _claimed_key(mandate: records.Mandate) -> bytes:
    return records.ticker_key(mandate.ticker, CLAIMED_FIRST + mandate.id)


def _put_lock(state: State, lock: records.CustodyHtlc) -> None:
    state.put_json(records.HTLCS, records.ticker_key(lock.ticker, lock.lock_id),
                   records.encode(lock))  # fmt: skip
