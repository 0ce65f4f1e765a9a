"""Swap-ins into a committee pool (design-14 sections 2.1, 4.1 kind 2, 4.3, 4.5 rows 208 and 204,
4.7 rule 4): the user's lock pays the committee's key policy, and once the swap settles on ETM
the committee claims it into the vault under a ``claim_swap_in`` mandate.

* **Which policies** (:func:`claim_keys`, :func:`record_lock`): every committee's vault claim key
  of the chain is a pool key for the exchange's ``wrong_claim_key`` check (so a v1 lock to any
  single key, or a stranger's policy, is refused there); the lock must pay one **accepting** now
  (:func:`.vaults.accepting`: the newest committee's policy, or the previous one within
  ``grace_blocks``), an older committee's is ``stale_vault``. A lock worth less than the claim's
  own fee plus the chain's dust (``change_dust``) is ``lock_too_small_for_claim``.
* **Proven lock** (208, :func:`record_lock`): the lock's terms (outpoint, amount, hashlock,
  refund key, timelock, the policy's epoch, the ETM time until which a claim may be signed) go
  to ``custody_htlcs`` (role ``swap_in``, status ``locked``), keyed by the exchange's lock id.
  The claim window is the lock's remaining time as the proof bounds it
  (:func:`~etm_bridge.exchange.swap_rules.foreign_seconds_left`) less
  :data:`CLAIM_MARGIN_BLOCKS` blocks, so the claim confirms before the user may refund.
* **Swap settled** (204 of the swap's ETM HTLC, :func:`claim`): the ``claim_swap_in`` mandate
  (id from the swap-in HTLC id) spends the user's lock with the preimage and ``m`` signatures
  of the policy's committee, paying the **active** vault ``amount - fee``; its terms carry the
  preimage (the assembler needs it); ``sign_until_s`` = the claim window. Books (rule 4 with
  rule 1): ``receivable += amount`` (the lock's full value), the claim's fee charged to the
  reserve into ``pending_fees``.
* **Claim proven** (302, :func:`claim_proven`): ``receivable -= amount``, ``pending_fees -=
  fee``; the vault output is recorded by :func:`.mandate_store.prove_mandate`.
* **The user's refund won the race** (302 of a spend of the lock that is no revision,
  :func:`refund_won`): the mandate is ``void`` (``input_lost``), the lock ``refunded``, the fee
  goes back to the reserve and ``receivable`` drops by the amount: the pool paid ETM for a lock
  it never got, and the shortfall (solvency) is exactly that loss.

Pure.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..chain.params import ETM_EPOCH_UNIX
from ..chain.state import State, StateView
from ..errors import CustodyError, ExchangeError
from ..exchange.reasons import Reason as XReason
from ..exchange.swap_rules import VerifiedForeignLock, foreign_seconds_left
from . import lp, mandate_store, mandates, records
from .params import CustodyParams
from .plans import current_epoch
from .records import HtlcRole, MandateKind
from .spec import ProvenOutcome, SpendRequest
from .vaults import ChainPart, accepting, all_vaults, committee_of, overlay, vault_of

#: Blocks of the lock's chain kept between the last moment to sign the claim and the lock's
#: timelock (the claim must confirm before the user may refund).
CLAIM_MARGIN_BLOCKS = 6

LOCKED, SETTLED, CLAIMED, REFUNDED = "locked", "settled", "claimed", "refunded"


def htlc_key(ticker: str, lock_id: bytes) -> bytes:
    return records.ticker_key(ticker, lock_id)


def get_lock(view: StateView, ticker: str, lock_id: bytes) -> records.CustodyHtlc | None:
    raw = view.get_json(records.HTLCS, htlc_key(ticker, lock_id))
    return None if raw is None else records.decode(records.CustodyHtlc, raw)


def put_lock(state: State, h: records.CustodyHtlc) -> None:
    state.put_json(records.HTLCS, htlc_key(h.ticker, h.lock_id), records.encode(h))


def claim_keys(view: StateView, part: ChainPart) -> frozenset[bytes]:
    """Every committee's vault claim key of the chain (which accepts: :func:`record_lock`)."""
    out = set()
    for epoch in all_vaults(view, part).values():
        v = vault_of(part, committee_of(view, epoch))
        if v is not None:
            out.add(v.claim_key)
    return frozenset(out)


def _accepting_epoch(
    view: StateView, params: CustodyParams, part: ChainPart, claim_key: bytes, height: int
) -> int:
    by_dest = accepting(view, params, part, height)
    for epoch in sorted(set(by_dest.values()), reverse=True):
        v = vault_of(part, committee_of(view, epoch))
        if v is not None and v.claim_key == claim_key:
            return epoch
    if claim_key in claim_keys(view, part):
        raise ExchangeError(
            XReason.STALE_VAULT,
            "the lock pays the key policy of a committee that no longer accepts swap-ins: lock "
            "to the active committee's policy (pool show --json), refund this lock after its "
            "timelock",
        )
    raise ExchangeError(XReason.WRONG_CLAIM_KEY, f"the lock does not pay a {part.ticker} committee")


def _request(
    view: StateView, part: ChainPart, epoch: int, htlc_id: bytes, terms: dict[str, Any]
) -> SpendRequest:
    """The claim's revision-0 request: the lock's committee signs, the active vault receives."""
    newest = current_epoch(view)
    vault = None if newest is None else vault_of(part, committee_of(view, newest))
    if vault is None:
        raise ExchangeError(XReason.CUSTODY_INACTIVE, f"no active {part.ticker} vault")
    req = mandate_store.vault_request(MandateKind.CLAIM_SWAP_IN, part.ticker, htlc_id,
                                      committee_of(view, epoch), vault, terms,
                                      part.setting("fee_rate", 1))  # fmt: skip
    return req


def record_lock(
    view: StateView,
    params: CustodyParams,
    part: ChainPart,
    htlc_id: bytes,
    lock: VerifiedForeignLock,
    height: int,
    now_s: int,
) -> State:
    """208 accepted by the exchange: check the lock's policy and size, record its terms."""
    epoch = _accepting_epoch(view, params, part, lock.claim_key, height)
    if not lock.custody_ref:
        raise ExchangeError(XReason.BAD_PARAMETER, "the chain's verifier named no outpoint")
    left_s = foreign_seconds_left(lock, now_s + ETM_EPOCH_UNIX)
    terms: dict[str, Any] = {
        "lock_id": lock.lock_id.hex(), "outpoint": lock.custody_ref.hex(), "amount": lock.amount,
        "hashlock": lock.hashlock.hex(), "refund_key": lock.refund_key.hex(),
        "timelock": lock.timelock_height,
        "claim_until_s": now_s + left_s - CLAIM_MARGIN_BLOCKS * lock.block_time_s,
    }  # fmt: skip
    req = _request(view, part, epoch, htlc_id, terms)
    try:
        fee = part.spec.build(req, (), part.cfg).fee
    except CustodyError as exc:  # the builder cannot pay the vault from it (dust)
        raise ExchangeError(XReason.LOCK_TOO_SMALL_FOR_CLAIM, f"no claim spend: {exc}") from exc
    dust = part.setting("change_dust", 0)
    if lock.amount < fee + dust:
        raise ExchangeError(
            XReason.LOCK_TOO_SMALL_FOR_CLAIM,
            f"the lock holds {lock.amount}; the committee's claim costs {fee} and must leave "
            f"{dust} in the vault: lock at least {fee + dust}",
        )
    state = overlay(view)
    put_lock(state, records.CustodyHtlc(part.ticker, lock.lock_id, HtlcRole.SWAP_IN, htlc_id,
                                        lock.amount, epoch, LOCKED, terms))  # fmt: skip
    return state


def claim(
    view: StateView,
    params: CustodyParams,
    part: ChainPart,
    lock_id: bytes,
    preimage: bytes,
    asset: str,
    height: int,
    now_s: int,
) -> tuple[State, int]:
    """The swap settled on ETM: open the ``claim_swap_in`` mandate. Returns the overlay and the
    fee the exchange must charge to the pool's reserve (rule 1)."""
    lock = get_lock(view, part.ticker, lock_id)
    if lock is None or lock.role is not HtlcRole.SWAP_IN or lock.status != LOCKED:
        raise ExchangeError(XReason.BAD_PARAMETER, f"no open swap-in lock {lock_id.hex()}")
    terms = dict(lock.terms, preimage=preimage.hex())
    req = _request(view, part, lock.epoch, lock.swap_htlc_id, terms)
    state = overlay(view)
    window = mandates.sign_until(MandateKind.CLAIM_SWAP_IN, now_s, params,
                                 claim_deadline_s=int(terms["claim_until_s"]))  # fmt: skip
    try:
        mandate = mandate_store.open_mandate(state, part.spec, part.cfg, req, part.ticker, asset,
                                             lock.swap_htlc_id, (), height, window)  # fmt: skip
    except CustodyError as exc:
        raise ExchangeError(exc.reason, exc.detail) from exc
    fee = mandate.revisions[0].fee
    put_lock(state, replace(lock, status=SETTLED))
    acc = lp.get_account(view, asset)
    lp.put_account(state, asset, replace(acc, receivable=acc.receivable + lock.amount,
                                         pending_fees=acc.pending_fees + fee))  # fmt: skip
    return state, fee


def _lock_of(view: StateView, mandate: records.Mandate) -> records.CustodyHtlc:
    lock = get_lock(view, mandate.ticker, bytes.fromhex(str(mandate.terms["lock_id"])))
    if lock is None:
        raise CustodyError(records.Reason.UNKNOWN_MANDATE, "the claim's lock is not recorded")
    return lock


def claim_proven(state: State, mandate: records.Mandate) -> None:
    """302 proved the claim: the receivable is in the vault now (rule 4), the fee paid."""
    assert mandate.proven is not None
    fee = mandate.revisions[mandate.proven.rev].fee
    amount = int(mandate.terms["amount"])
    acc = lp.get_account(state, mandate.asset)
    lp.put_account(state, mandate.asset, replace(acc, receivable=acc.receivable - amount,
                                                 pending_fees=acc.pending_fees - fee))  # fmt: skip
    put_lock(state, replace(_lock_of(state, mandate), status=CLAIMED))


def refund_won(
    state: State, part: ChainPart, mandate: records.Mandate, outcome: ProvenOutcome
) -> int | None:
    """If ``outcome`` spends the claim's lock and is no revision of it (the user's refund),
    void the mandate and book the loss; returns the fee to give back to the reserve, None when
    the outcome is not such a spend (the caller proves it the ordinary way)."""
    if mandate.kind is not MandateKind.CLAIM_SWAP_IN:
        return None
    if any(r.txid == outcome.txid for r in mandate.revisions):
        return None
    if bytes.fromhex(str(mandate.terms["outpoint"])) not in outcome.spent:
        return None
    # one refund may spend several locks: it voids each claim once (the key names the mandate)
    event = records.ticker_key(mandate.ticker, outcome.ref + mandate.id)
    if state.get(records.EVENTS, event) is not None:
        raise CustodyError(records.Reason.OUTCOME_REPLAYED, f"outcome {outcome.ref.hex()} was used")
    status = mandates.transition(mandate.status, mandates.MandateEvent.INPUT_LOST, mandate.kind,
                                 part.spec.model)  # fmt: skip
    fee = mandate.revisions[-1].fee  # every charge so far (a bump charges the difference)
    state.put(records.EVENTS, event, b"\x01")
    state.delete(records.OPEN, records.ticker_key(mandate.ticker, mandate.id))
    state.put_json(records.MANDATES, mandate.id, records.encode(replace(mandate, status=status)))
    amount = int(mandate.terms["amount"])
    acc = lp.get_account(state, mandate.asset)
    lp.put_account(state, mandate.asset, replace(acc, receivable=acc.receivable - amount,
                                                 pending_fees=acc.pending_fees - fee))  # fmt: skip
    put_lock(state, replace(_lock_of(state, mandate), status=REFUNDED))
    return fee
