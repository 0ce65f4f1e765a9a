"""Executing the policy's actions: the adapter calls behind each broadcasting action, and
feeding headers to the ETM relay. The watcher writes the intent before calling
:func:`broadcast` and the result after; nothing here touches the database.

:func:`cancel_bonded_intent` is the one way a pool swap in's bonded intent is cancelled, by the
engine (``CANCEL_INTENT``) and by ``swap cancel``: an intent ETM no longer holds (cancelled,
proven, swept) is not an error.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...adapter import ChainAdapter
from ...errors import EtmBridgeError, TxRejectedError
from ...exchange.reasons import Reason
from ..core.model import ActionKind, SwapRecord
from ..core.policy import Action
from ..core.pool_terms import pool_asset_of
from ..core.ports import SwapGateway
from .observe import Observation, adapter_for, common_relay_tip


def broadcast(
    rec: SwapRecord,
    action: Action,
    obs: Observation,
    adapters: Mapping[str, ChainAdapter],
    gateway: SwapGateway | None,
) -> str:
    """Execute one broadcasting action through the adapters; returns the transaction id."""
    t, kind, a = rec.terms, action.kind, ActionKind
    if kind is a.CANCEL_INTENT:
        if gateway is None:
            raise EtmBridgeError("cancelling a swap intent needs the ETM exchange")
        return cancel_bonded_intent(gateway, t.hashlock)
    adapter = adapter_for(adapters, action.chain)
    if kind is a.LOCK_USER_LEG:
        pool_asset = pool_asset_of(t.user_leg.claim_key)
        if pool_asset is not None:  # a swap out: our ETM goes to a pool, through the exchange
            if gateway is None:
                raise EtmBridgeError("a swap out through a pool needs the ETM exchange")
            terms = t.user_leg.htlc_terms(t.hashlock)
            return gateway.lock_swap_out(terms, pool_asset, t.counter_leg.amount).txid
        with adapter.paying(rec.fee_rate):  # the user's --fee-rate, if any
            return adapter.lock(t.user_leg.htlc_terms(t.hashlock)).txid
    if kind is a.LOCK_COUNTER_LEG:
        return adapter.lock(t.counter_leg.htlc_terms(t.hashlock)).txid
    if kind is a.SUBMIT_PROOF:
        if gateway is None or obs.user_lock is None:
            raise EtmBridgeError("no ETM gateway or no user lock to prove")
        user_adapter = adapter_for(adapters, t.user_leg.chain)
        proof = user_adapter.inclusion_proof(obs.user_lock.lock_id)
        return gateway.submit_proof(rec, obs.user_lock, proof)
    lock = obs.counter_lock if kind in (a.CLAIM_COUNTER, a.REFUND_COUNTER) else obs.user_lock
    if lock is None:
        raise EtmBridgeError(f"{kind.value}: the lock is not visible")
    if kind in (a.CLAIM_COUNTER, a.CLAIM_USER_LOCK):
        if rec.preimage is None:
            raise EtmBridgeError(f"{kind.value}: the preimage is not known")
        return adapter.claim(lock, rec.preimage).txid
    with adapter.paying(rec.fee_rate if kind is a.REFUND_USER_LOCK else None):
        return adapter.refund(lock).txid


#: Refusals of a cancel meaning ETM holds no intent of ours for the hashlock any more.
INTENT_GONE = frozenset({Reason.NO_SWAP_INTENT.value})


def cancel_bonded_intent(gateway: SwapGateway, hashlock: bytes) -> str:
    """``xchg_swap_intent_cancel`` for ``hashlock``, waited for: its transaction id, or
    ``gone:<reason>`` if ETM holds no intent of ours for it any more (cancelled already, its
    proof accepted, or never recorded). Any other refusal raises TxRejectedError."""
    try:
        return gateway.cancel_intent(hashlock).id
    except TxRejectedError as exc:
        if exc.reason in INTENT_GONE:
            return f"gone:{exc.reason}"
        raise


def relay_headers(
    action: Action, adapters: Mapping[str, ChainAdapter], gateway: SwapGateway | None
) -> str:
    """Feed headers to the ETM relay up to the action's height, from the fork point if the
    relay's best chain differs from the adapter's (after a reorg)."""
    if gateway is None:
        return "no gateway"
    adapter, chain = adapter_for(adapters, action.chain), action.chain
    start = common_relay_tip(gateway, adapter, chain) + 1
    # up to our tip, not just the target: after a reorg only the longer branch wins
    count = max(action.relay_to_height, adapter.tip().height) - start + 1
    if count <= 0:
        return "relay up to date"
    tip = gateway.relay_headers(chain, start, adapter.headers(start, count))
    return f"relayed to {tip}"
