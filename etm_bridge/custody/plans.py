"""Planners of the custody transaction types: state reads + pure rules -> a :class:`CustodyPlan`.

The exchange's pattern (:mod:`etm_bridge.exchange.escrow_plan`): a planner reads custody records
from a :class:`~etm_bridge.chain.state.StateView`, runs the pure rules of :mod:`.registration`
and :mod:`.bonds`, and returns writes and moves into / out of the bond escrow; it never writes,
so mempool admission (``check``) and block application (``apply``) share one code path and a
refused tx writes nothing. Every planner first requires the chain's genesis section
``plugins.custody`` (``custody_inactive`` otherwise): on a chain without it the custody types
change nothing. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..chain.registry import TxContext
from ..chain.state import StateView
from ..chain.tx import Tx
from ..chain.tx_delegates import delegate_record
from ..errors import CustodyError
from ..exchange.escrow_plan import EscrowPlan
from . import bonds, records, registration
from .params import CustodyParams


@dataclass
class CustodyPlan(EscrowPlan):
    """Writes (``None`` deletes) and ETM moves into / out of the bond escrow."""

    ESCROW = records.BOND_ESCROW


# --- reads --------------------------------------------------------------------------------------


def get_params(view: StateView) -> CustodyParams:
    raw = view.get_json(records.PARAMS, b"params")
    if raw is None:
        raise CustodyError(
            "custody_inactive", "this chain has no custody (no genesis section plugins.custody)"
        )
    return CustodyParams.from_json(raw)


def get_member(view: StateView, delegate: bytes) -> records.Member | None:
    raw = view.get_json(records.MEMBERS, delegate)
    return None if raw is None else records.decode(records.Member, raw)


def key_owner(view: StateView, ticker: str, key: bytes) -> bytes | None:
    return view.get(records.KEYS, records.ticker_key(ticker, key))


def agent_owner(view: StateView, agent: bytes) -> bytes | None:
    return view.get(records.AGENTS, agent)


def current_epoch(view: StateView) -> int | None:
    raw = view.get(records.CURRENT, b"epoch")
    return None if raw is None else int.from_bytes(raw, "big")


def serving(view: StateView, delegate: bytes, chains: tuple[str, ...]) -> bool:
    """The delegate sits in the newest committee, or in an older one whose vault on some chain
    is not retired yet (it may hold value the member's bond answers for). Without a vault
    record (``custody_vaults`` is not written yet: no sweep empties an old vault) the vault is
    not retired: its outputs and the swap-in locks to its policy need that committee."""
    newest = current_epoch(view)
    for key, raw in view.scan(records.EPOCHS):
        committee = records.decode(records.Committee, json.loads(raw))
        if delegate not in committee.members:
            continue
        if committee.epoch == newest:
            return True
        for ticker in chains:
            vault = view.get_json(records.VAULTS, records.ticker_key(ticker, key))
            if vault is None or vault["status"] != records.VaultStatus.RETIRED:
                return True
    return False


# --- planners -----------------------------------------------------------------------------------

#: ticker -> (custody key length, proof-of-possession verifier): the chains' binding schemes
PopSchemes = Mapping[str, tuple[int, registration.PopVerifier]]


def plan_register(
    view: StateView,
    tx: Tx,
    p: registration.Register,
    ctx: TxContext,
    schemes: Callable[[], PopSchemes],
) -> CustodyPlan:
    params = get_params(view)
    record = delegate_record(view, tx.sender_public_key)
    found = schemes()
    missing = [t for t in params.chains if t not in found]
    if missing:
        raise CustodyError(records.Reason.BAD_PARAMETER, f"no binding scheme for chains {missing}")
    current = get_member(view, tx.sender_public_key)
    member = registration.check_registration(
        p,
        registration.RegistrationView(
            sender=tx.sender_public_key,
            is_delegate=record is not None,
            delegate_slashed=bool(record and record["slashed"]),
            network_id=ctx.params.network_id,
            domain=params.domain,
            chains=params.chains,
            key_len={t: found[t][0] for t in params.chains},
            verifiers={t: found[t][1] for t in params.chains},
            key_owner=lambda t, k: key_owner(view, t, k),
            agent_owner=lambda a: agent_owner(view, a),
            current=current,
            serving=serving(view, tx.sender_public_key, params.chains),
            balance=view.account(tx.sender).balance,
            height=ctx.height,
        ),
    )
    plan = CustodyPlan()  # custody_keys / custody_agents are permanent: old keys stay its own
    plan.writes[(records.MEMBERS, member.delegate)] = records.encode(member)
    for ticker, key in member.keys.items():
        plan.writes[(records.KEYS, records.ticker_key(ticker, key))] = member.delegate
    plan.writes[(records.AGENTS, member.agent)] = member.delegate
    if p.bond:
        plan.escrow_in.append((tx.sender, p.bond))
    return plan


def plan_bond(view: StateView, tx: Tx, p: bonds.Bond, ctx: TxContext) -> CustodyPlan:
    params = get_params(view)
    member = get_member(view, tx.sender_public_key)
    plan = CustodyPlan()
    if p.op is bonds.BondOp.ADD:
        new = bonds.bond_add(member, p.amount, view.account(tx.sender).balance)
        plan.escrow_in.append((tx.sender, p.amount))
    else:
        busy = serving(view, tx.sender_public_key, params.chains)
        new = bonds.bond_withdraw(member, p.amount, busy, ctx.params.round_of(ctx.height), params)
        plan.escrow_out.append((tx.sender, p.amount))
    plan.writes[(records.MEMBERS, new.delegate)] = records.encode(new)
    return plan
