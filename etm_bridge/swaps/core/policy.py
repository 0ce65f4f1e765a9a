"""What to do next: a pure function of (swap record, observations of the chains, now).

:func:`decide` returns an :class:`ActionPlan`; the watcher only executes it. Every
broadcasting action carries an idempotency key; the watcher writes an
:class:`~etm_bridge.swaps.core.model.Intent` with that key *before* broadcasting and the result
*after*. After a crash, an intent without a result
is resolved by looking at the chain: if the chain shows its effect (the lock, the claim, the
refund, the accepted proof) the result is recorded as found; if not, the same key is re-issued
(a claim or refund can only spend its lock once, so re-broadcasting never double-spends).

Two guards protect funds:

- :func:`reveal_refusal` -- the **point of no return**. The user reveals the secret by claiming
  the counter lock; it refuses unless the counter lock matches, is confirmed, lasted at least
  ``min_counter_lock_s`` from its block (a foreign counter lock: an operator's short timelock is
  not accepted) and leaves at least the reveal margin before its timeout: the larger of the
  swap's ``reveal_margin_blocks`` and the policy's margin in seconds (``reveal_margin_s`` on a
  foreign chain, ``etm_reveal_margin_s`` on ETM) converted with the chain's block time, and the
  same margin before an ETM lock's wall-clock deadline. Else the operator could refund the
  counter lock *and* claim ours with the secret read from our (slow) claim. It also refuses
  while the endpoints we submit to on the counter chain are suspected of censoring one of our
  transactions (``LegView.censored``): a claim sent there might wait until the lock expires,
  its secret read by the censor.
- :func:`counter_lock_refusal` -- the operator locks the short leg only if the user's long leg
  outlives it by :data:`~etm_bridge.hashlock.LEG_MARGIN_S` (by its blocks and its deadline) and,
  on ETM, only once the user's lock is **final** (at or below ``finalizedHeight``): one ETM
  confirmation can still be reorganised away, and the operator's lock cannot.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import SwapError, TimelockError
from ...hashlock import LEG_MARGIN_S, blocks_for_seconds, check_leg_margin, seconds_left
from .bond import cancel_refusal
from .bumps import bump_wake_heights
from .fsm import Role, SwapDirection, SwapState
from .model import ActionKind, Intent, IntentResult, Outcome, SwapRecord
from .views import LegView, ProofStatus, SwapView, static_mismatches

A, S = ActionKind, SwapState

_LOCKS = frozenset({A.LOCK_USER_LEG, A.LOCK_COUNTER_LEG})


#: Time a user's claim of a foreign counter lock (which reveals the secret) must leave before
#: that lock's timeout: the claim must confirm although fees rise (claims signal RBF).
REVEAL_MARGIN_S = 2 * 3600
#: The same on ETM: one block confirms a claim and there is no fee market.
ETM_REVEAL_MARGIN_S = 600
#: Shortest foreign counter lock a user accepts, from its block to its timeout.
MIN_COUNTER_LOCK_S = 3 * 3600


@dataclass(frozen=True)
class PolicyConfig:
    leg_margin_s: int = LEG_MARGIN_S  # long leg outlives the short one by this much
    user_proof_delay_blocks: int = 3  # user proves its own lock if nobody did by then
    retry_after_s: int = 15  # a rejected or vanished broadcast is retried after this
    reveal_margin_s: int = REVEAL_MARGIN_S  # foreign counter lock: time left when revealing
    etm_reveal_margin_s: int = ETM_REVEAL_MARGIN_S  # ETM counter lock: time left when revealing
    min_counter_lock_s: int = MIN_COUNTER_LOCK_S  # foreign counter lock: shortest accepted


@dataclass(frozen=True)
class Action:
    """One thing to do. ``key`` is the idempotency key ("" for WAIT and RELAY_HEADERS, which
    move no funds and are safe to repeat)."""

    kind: ActionKind
    chain: str
    key: str = ""
    reason: str = ""
    relay_to_height: int = 0  # RELAY_HEADERS: foreign height the ETM relay must reach


@dataclass(frozen=True)
class ActionPlan:
    resolved: tuple[tuple[str, IntentResult], ...]  # pending intents the chain settled
    actions: tuple[Action, ...]
    wake_heights: tuple[tuple[str, int], ...]  # (chain, height): look again at that height
    notes: tuple[str, ...]  # why we wait: for `swap explain` and the log


def _effect_txid(kind: ActionKind, view: SwapView) -> str | None:
    """The txid proving ``kind`` happened, if the chains show it ("" when there is no txid)."""
    u, c = view.user, view.counter
    found = {
        A.LOCK_USER_LEG: u.lock.txid if u.lock else None,
        A.LOCK_COUNTER_LEG: c.lock.txid if c.lock else None,
        A.CLAIM_COUNTER: c.spend.txid if c.spend and c.claimed else None,
        A.CLAIM_USER_LOCK: u.spend.txid if u.spend and u.claimed else None,
        A.REFUND_USER_LOCK: u.spend.txid if u.spend and u.refunded else None,
        A.REFUND_COUNTER: c.spend.txid if c.spend and c.refunded else None,
    }.get(kind)
    if kind is A.CANCEL_INTENT:
        return None if view.intent_live else ""  # gone: cancelled, proven or expired
    if kind is A.SUBMIT_PROOF and (
        c.lock is not None or (view.proof and view.proof.status is not ProofStatus.NONE)
    ):
        return ""
    return found


def intent_key(rec: SwapRecord, kind: ActionKind) -> str:
    """The next idempotency key for ``kind``: ``<swap_id>:<kind>:<attempt>``."""
    return f"{rec.swap_id}:{kind.value}:{len(rec.intents_of(kind))}"


def new_intent(rec: SwapRecord, action: Action, now_s: int) -> Intent:
    """The intent the watcher writes before executing ``action``."""
    return Intent(key=action.key, kind=action.kind, chain=action.chain, created_at_s=now_s)


def _may_issue(
    rec: SwapRecord, kind: ActionKind, view: SwapView, now_s: int, cfg: PolicyConfig
) -> bool:
    """No pending intent of ``kind``; a previous attempt was rejected, or (for spends and
    proofs) it vanished from the chain, at least ``retry_after_s`` ago."""
    previous = rec.intents_of(kind)
    if not previous:
        return True
    last = previous[-1]
    if last.result is None:
        return False  # pending: handled by recovery
    if now_s - last.result.at_s < cfg.retry_after_s:
        return False
    if last.result.outcome is Outcome.REJECTED:
        return True
    return kind not in _LOCKS and _effect_txid(kind, view) is None


def _recover(rec: SwapRecord, view: SwapView, now_s: int) -> tuple[list, list[Action]]:
    """Resolve intents without a result from the chain; re-issue those it does not show."""
    resolved, retry = [], []
    for intent in rec.pending_intents():
        txid = _effect_txid(intent.kind, view)
        if txid is not None:
            result = IntentResult(Outcome.FOUND_ON_CHAIN, txid or None, "seen on chain", now_s)
            resolved.append((intent.key, result))
        elif intent.kind is A.LOCK_USER_LEG and now_s > rec.terms.lock_deadline_s:
            detail = "not on chain after the lock deadline; not re-broadcast"
            resolved.append((intent.key, IntentResult(Outcome.REJECTED, None, detail, now_s)))
        elif _spent_by_another(intent.kind, view):
            detail = "not on chain; the lock was spent by another transaction"
            resolved.append((intent.key, IntentResult(Outcome.REJECTED, None, detail, now_s)))
        elif _still_applicable(intent.kind, view):
            reason = "intent without result, chain does not show it: re-broadcast"
            retry.append(Action(intent.kind, intent.chain, intent.key, reason))
    return resolved, retry


def _spent_by_another(kind: ActionKind, view: SwapView) -> bool:
    """A pending claim/refund whose lock is on chain but already spent (not by it): the
    intent never took effect and never can, so it is closed instead of left pending."""
    if kind in (A.CLAIM_COUNTER, A.REFUND_COUNTER):
        leg = view.counter
    elif kind in (A.CLAIM_USER_LOCK, A.REFUND_USER_LOCK):
        leg = view.user
    else:
        return False
    return leg.lock is not None and not leg.is_open


def _still_applicable(kind: ActionKind, view: SwapView) -> bool:
    """A pending spend is re-broadcast only while its lock is open. A pending claim of the
    counter lock is re-broadcast even if the reveal guard would now refuse: the secret may
    already be out, so claiming is the only move that cannot lose."""
    if kind in (A.CLAIM_COUNTER, A.REFUND_COUNTER):
        return view.counter.is_open
    if kind in (A.CLAIM_USER_LOCK, A.REFUND_USER_LOCK):
        return view.user.is_open
    if kind is A.LOCK_USER_LEG:
        return view.user.lock is None
    if kind is A.LOCK_COUNTER_LEG:
        return view.counter.lock is None
    if kind is A.CANCEL_INTENT:
        return view.intent_live
    return True


def reveal_margin(rec: SwapRecord, view: SwapView, cfg: PolicyConfig) -> tuple[int, int]:
    """(blocks, seconds) the counter lock must still have when the user reveals."""
    on_etm = rec.terms.direction is SwapDirection.FOREIGN_TO_ETM
    margin_s = cfg.etm_reveal_margin_s if on_etm else cfg.reveal_margin_s
    blocks = blocks_for_seconds(margin_s, view.counter.block_time_s)
    return max(rec.terms.reveal_margin_blocks, blocks), margin_s


def _too_short(rec: SwapRecord, counter: LegView, cfg: PolicyConfig) -> str | None:
    """A foreign counter lock that lasts less than ``min_counter_lock_s`` from its block."""
    lock = counter.lock
    if rec.terms.direction is not SwapDirection.ETM_TO_FOREIGN or lock is None:
        return None
    if lock.block_height is None:
        return None  # unconfirmed: the confirmation check refuses it
    blocks = lock.terms.timelock_height - lock.block_height
    need = blocks_for_seconds(cfg.min_counter_lock_s, counter.block_time_s)
    if blocks < need:
        return (
            f"point of no return refused: the counter lock lasts only {blocks} blocks from its "
            f"block to its timeout at height "
            f"{lock.terms.timelock_height}; we accept at least {need} "
            f"({cfg.min_counter_lock_s // 60} min): not revealing, the ETM lock will be refunded"
        )
    return None


def reveal_refusal(rec: SwapRecord, view: SwapView, cfg: PolicyConfig | None = None) -> str | None:
    """Why the user must not claim the counter lock (reveal the secret) now; None if it may."""
    cfg = cfg or PolicyConfig()
    counter, terms = view.counter, rec.terms
    if counter.lock is None or not counter.is_open:
        return "the counter lock is not open"
    problems = static_mismatches(
        counter.lock, terms.counter_leg.htlc_terms(terms.hashlock), counter.chain
    )
    if problems:
        return f"counter lock does not match the terms: {problems[0][1]}"
    need = terms.counter_leg.confirmations
    if counter.confirmations < need:
        return f"counter lock has {counter.confirmations}/{need} confirmations"
    too_short = _too_short(rec, counter, cfg)
    if too_short:
        return too_short
    if counter.censored:
        message = counter.censored[0][1]
        return (
            f"point of no return refused: {message}; a claim sent now might not be included "
            f"before the counter lock's timeout at height {counter.lock.terms.timelock_height}"
        )
    margin_blocks, margin_s = reveal_margin(rec, view, cfg)
    if counter.blocks_left < margin_blocks:
        return (
            f"point of no return refused: only {counter.blocks_left} blocks left before the "
            f"counter lock's timeout at height {counter.lock.terms.timelock_height}, "
            f"need {margin_blocks}"
        )
    if counter.lock.deadline_s is not None and counter.seconds_left < margin_s:
        return (
            f"point of no return refused: only {counter.seconds_left} s left before the counter "
            f"lock's deadline (unix {counter.lock.deadline_s}), need {margin_s} s"
        )
    return None


def check_reveal_allowed(rec: SwapRecord, view: SwapView, cfg: PolicyConfig | None = None) -> None:
    """Raise :class:`~etm_bridge.errors.SwapError` unless :func:`reveal_refusal` allows."""
    refusal = reveal_refusal(rec, view, cfg)
    if refusal is not None:
        raise SwapError(f"swap {rec.swap_id}: not revealing the secret: {refusal}")


def counter_lock_refusal(rec: SwapRecord, view: SwapView, cfg: PolicyConfig) -> str | None:
    """Why the operator must not lock the counter leg now; None if it may."""
    user, counter, terms = view.user, view.counter, rec.terms
    if user.lock is None or not user.is_open:
        return "the user's lock is not open"
    if user.confirmations < terms.user_leg.confirmations:
        return f"user lock has {user.confirmations}/{terms.user_leg.confirmations} confirmations"
    if not user.final:
        return (
            f"waiting for ETM finality: the user's lock is in block {user.lock.block_height}, "
            f"the finalized height is {user.final_height}"
        )
    short_height = terms.counter_leg.timelock_height
    room = terms.reveal_margin_blocks + terms.counter_leg.confirmations
    if short_height - counter.tip_height <= room:
        return (
            f"counter timelock {short_height} is within {room} blocks of tip {counter.tip_height}"
        )
    long_s = user.seconds_left  # its blocks, or less if its wall-clock deadline comes first
    short_s = seconds_left(short_height, counter.tip_height, counter.block_time_s)
    try:
        check_leg_margin(long_s, short_s, cfg.leg_margin_s)
    except TimelockError as exc:
        return str(exc)
    return None


def _proof_actions(rec: SwapRecord, view: SwapView, cfg: PolicyConfig) -> list[Action | str]:
    """Foreign->ETM: relay headers up to the lock's confirmation block, then prove the lock."""
    user = view.user
    if user.lock is None or user.lock.block_height is None:
        return ["user lock is not mined"]
    need = rec.terms.user_leg.confirmations
    if rec.role is Role.USER and user.confirmations < need + cfg.user_proof_delay_blocks:
        return ["waiting for the operator to prove the lock"]
    if view.proof is None:
        return ["no ETM view of the proof (ETM gateway missing)"]
    target = user.lock.block_height + need - 1
    if view.proof.relay_tip_height < target:
        return [Action(A.RELAY_HEADERS, user.chain, "", "ETM relay is behind", target)]
    if rec.state is S.LOCK_CONFIRMED and view.proof.status is ProofStatus.NONE:
        return [Action(A.SUBMIT_PROOF, rec.terms.counter_leg.chain, "", "prove the user lock")]
    return ["waiting for the counter lock"]


def _spend_if(leg: LegView, ok: bool, kind: ActionKind, chain: str, why: str) -> list[Action | str]:
    if ok:
        return [Action(kind, chain, "", why)]
    if leg.is_open and leg.lock is not None:
        return [
            f"waiting: {leg.chain} lock refundable after height {leg.lock.terms.timelock_height}"
        ]
    return []


def _user_actions(
    rec: SwapRecord, view: SwapView, now_s: int, cfg: PolicyConfig
) -> list[Action | str]:
    st, user = rec.state, view.user
    chain_u, chain_c = rec.terms.user_leg.chain, rec.terms.counter_leg.chain
    if st is S.CREATED:
        if user.lock is None and now_s <= rec.terms.lock_deadline_s:
            return [Action(A.LOCK_USER_LEG, chain_u, "", "lock the long leg")]
        return []
    if st in (S.LOCK_CONFIRMED, S.PROOF_SUBMITTED):
        return _proof_actions(rec, view, cfg)
    if st is S.COUNTER_LOCKED:
        refusal = reveal_refusal(rec, view, cfg)
        if refusal is None:
            return [Action(A.CLAIM_COUNTER, chain_c, "", "claim the counter lock (reveals secret)")]
        return [refusal]
    if st in (S.SECRET_REVEALED, S.FAILED, S.EXPIRED):
        why = "refund the long leg after its timelock"
        return _spend_if(user, user.refundable, A.REFUND_USER_LOCK, chain_u, why)
    if cancel_refusal(rec, view) is None:
        why = "cancel the bonded intent: the swap ended without a proof"
        return [Action(A.CANCEL_INTENT, chain_c, "", why)]
    return []


def _operator_actions(rec: SwapRecord, view: SwapView, cfg: PolicyConfig) -> list[Action | str]:
    st, user, counter = rec.state, view.user, view.counter
    chain_u, chain_c = rec.terms.user_leg.chain, rec.terms.counter_leg.chain
    if st in (S.LOCK_CONFIRMED, S.PROOF_SUBMITTED):
        return _proof_actions(rec, view, cfg)
    if st is S.ETM_LOCKED:
        refusal = counter_lock_refusal(rec, view, cfg)
        return [refusal] if refusal else [Action(A.LOCK_COUNTER_LEG, chain_c, "", "lock short leg")]
    if st is S.SECRET_REVEALED and rec.preimage is not None and user.is_open:
        return [Action(A.CLAIM_USER_LOCK, chain_u, "", "claim the user's lock with the secret")]
    if st in (S.FAILED, S.EXPIRED):
        why = "refund the counter lock after its timelock"
        return _spend_if(counter, counter.refundable, A.REFUND_COUNTER, chain_c, why)
    return []


def _wake_heights(
    rec: SwapRecord, view: SwapView, cfg: PolicyConfig
) -> tuple[tuple[str, int], ...]:
    """Heights at which time alone changes what we may do (timelocks, confirmation targets)."""
    wake: set[tuple[str, int]] = set()
    legs = (
        (view.user, rec.terms.user_leg.confirmations),
        (view.counter, rec.terms.counter_leg.confirmations),
    )
    user = view.user
    if rec.role is Role.OPERATOR and rec.state is S.ETM_LOCKED and user.lock and not user.final:
        wake.add((user.chain, user.tip_height + 1))  # finality moves with every block
    for leg, confs in legs:
        lock = leg.lock
        if lock is None or not leg.is_open:
            continue
        wake.add((leg.chain, lock.terms.timelock_height))
        wake.add((leg.chain, lock.terms.timelock_height - rec.terms.reveal_margin_blocks))
        if lock.block_height is not None:
            wake.add((leg.chain, lock.block_height + confs - 1))
            wake.add((leg.chain, lock.block_height + confs - 1 + cfg.user_proof_delay_blocks))
    wake.update(bump_wake_heights(rec, view))  # a pending spend of ours: every block
    return tuple(sorted((c, h) for c, h in wake if h > 0))


def censorship_warnings(rec: SwapRecord, view: SwapView) -> list[str]:
    """One warning per transaction of this swap that is suspected censored, with the height
    its leg's lock times out at (what is at stake)."""
    ours = {i.result.txid for i in rec.intents if i.result is not None and i.result.txid}
    warnings = []
    for leg in (view.user, view.counter):
        for tx_id, message in leg.censored:
            if tx_id in ours:
                timeout = leg.lock.terms.timelock_height if leg.lock is not None else None
                at_stake = "" if timeout is None else f"; its lock times out at height {timeout}"
                warnings.append(f"WARNING {leg.chain}: {message}{at_stake}")
    return warnings


def decide(
    rec: SwapRecord, view: SwapView, now_s: int, cfg: PolicyConfig | None = None
) -> ActionPlan:
    """The plan for ``rec`` given ``view`` at ``now_s``. Never raises for a valid record."""
    cfg = cfg or PolicyConfig()
    resolved, actions = _recover(rec, view, now_s)
    settled = {key for key, _ in resolved}
    pending_kinds = {i.kind for i in rec.pending_intents() if i.key not in settled}
    if rec.role is Role.USER:
        wanted = _user_actions(rec, view, now_s, cfg)
    else:
        wanted = _operator_actions(rec, view, cfg)
    notes: list[str] = censorship_warnings(rec, view)
    for item in wanted:
        if isinstance(item, str):
            notes.append(item)
        elif item.kind in (A.RELAY_HEADERS, A.WAIT):
            actions.append(item)
        elif item.kind not in pending_kinds and _may_issue(rec, item.kind, view, now_s, cfg):
            key = intent_key(rec, item.kind)
            actions.append(Action(item.kind, item.chain, key, item.reason, item.relay_to_height))
    return ActionPlan(tuple(resolved), tuple(actions), _wake_heights(rec, view, cfg), tuple(notes))
