"""The custody plug-in (``etm_bridge.custody.txtypes``): tables, the genesis section, tx types.

Registered so far: the ``custody_*`` tables, the genesis section ``plugins.custody`` (its
normalised parameters are written to ``custody_params``; its ``members`` are registered and
form epoch 0: :mod:`.genesis`), ``custody_register`` (300), ``custody_bond`` (301),
``custody_outcome_proof`` (302: :mod:`.outcome`), ``custody_fraud`` (304: :mod:`.slashing`), the
genesis pools (:func:`.genesis.init_pools`), the round hook (:mod:`.hooks`: first committee,
epochs) and the exchange's custody port (:class:`.port.ChainCustody`; list this plug-in before
the exchange).
Every type refuses ``custody_inactive`` on a chain whose genesis has no custody section, the hook
does nothing there and the port behaves as the legacy one, so listing this plug-in changes
nothing on such a chain. Not in the node's
default ``tx_plugins`` yet. Pure (the proof-of-possession schemes come from the installed chain
profiles' ``binding`` parts, looked up when a registration is checked).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..chain.params import ChainParams
from ..chain.registry import Registry, TxContext, TxType
from ..chain.state import State, StateView, TableSpec
from ..chain.tx import Tx
from ..errors import ConfigError, CustodyError, TxRejectedError
from ..exchange import records as exchange_records
from . import bonds, fraud, genesis, outcome, plans, records, registration, slashing
from .committee import KeySorters
from .hooks import installed_sorters, make_hook
from .params import CustodyParams
from .port import ChainCustody
from .spec import CustodySpec

REGISTER, BOND, OUTCOME, FRAUD = 300, 301, 302, 304


def installed_schemes() -> plans.PopSchemes:
    """ticker -> (key length, PoP verifier) of every installed chain profile."""
    from ..chains.registry import chain_registry

    return {p.ticker: (p.binding.key_len, p.binding.signer) for p in chain_registry()}


def init_genesis(
    state: State,
    section: Any,
    chain: ChainParams | None,
    schemes: Callable[[], plans.PopSchemes],
    sorters: Callable[[], KeySorters],
) -> None:
    """Write the parameters; register the genesis members (:mod:`.genesis`) and form epoch 0."""
    params = CustodyParams.from_json(section)
    state.put_json(records.PARAMS, b"params", params.to_json())
    genesis.init_pools(state, params)
    if params.members:
        if chain is None:
            raise ConfigError("genesis custody members need the chain parameters (network id)")
        genesis.init_members(state, params, chain, schemes(), sorters())


def _typed(
    planner: Callable[[StateView, Tx, Any, TxContext], plans.CustodyPlan],
) -> tuple[Callable[..., None], Callable[..., None]]:
    def run(view: StateView, tx: Tx, p: Any, ctx: TxContext) -> plans.CustodyPlan:
        try:
            return planner(view, tx, p, ctx)
        except CustodyError as exc:
            raise TxRejectedError(exc.reason, exc.detail) from exc

    def check(view: StateView, tx: Tx, p: Any, ctx: TxContext) -> None:
        run(view, tx, p, ctx).check_balances(view)

    def apply(state: State, tx: Tx, p: Any, ctx: TxContext) -> None:
        plan = run(state, tx, p, ctx)
        plan.check_balances(state)
        plan.commit(state)

    return check, apply


def installed_specs() -> Mapping[str, CustodySpec]:
    """ticker -> custody spec of every installed chain profile that has one."""
    from ..chains.registry import chain_registry

    return {p.ticker: p.custody for p in chain_registry() if p.custody is not None}


def _fraud_type(specs: slashing.Specs) -> TxType[Any]:
    def judged(view: StateView, tx: Tx, p: fraud.Fraud) -> bytes:
        try:
            return slashing.offender_of(view, p, specs)
        except CustodyError as exc:
            raise TxRejectedError(exc.reason, exc.detail) from exc

    def check(view: StateView, tx: Tx, p: fraud.Fraud, ctx: TxContext) -> None:
        judged(view, tx, p)

    def apply(state: State, tx: Tx, p: fraud.Fraud, ctx: TxContext) -> None:
        slashing.apply_slash(state, tx, p, judged(state, tx, p), ctx)

    return TxType(
        FRAUD, records.TYPE_IDS[FRAUD], fraud.decode_fraud, check, apply,
        describe=lambda p: {"ticker": p.ticker, "epoch": p.epoch, "key": p.key.hex()},
        min_fee=(fraud.MIN_FEE_MULTIPLE - 1) * ChainParams().fee_base,
    )  # fmt: skip


def _outcome_type(specs: slashing.Specs) -> TxType[Any]:
    def check(view: StateView, tx: Tx, p: outcome.OutcomeProof, ctx: TxContext) -> None:
        # a voided swap-in claim gives its fee back to the pool's reserve (the exchange table)
        tables = (*records.TABLES, exchange_records.POOLS)
        outcome.run(State(view, tables), tx, p, ctx, lambda: specs())

    def apply(state: State, tx: Tx, p: outcome.OutcomeProof, ctx: TxContext) -> None:
        outcome.run(state, tx, p, ctx, lambda: specs())

    return TxType(
        OUTCOME, records.TYPE_IDS[OUTCOME], outcome.decode_outcome, check, apply,
        describe=lambda p: {"ticker": p.ticker, "mandate": p.mandate_id.hex()},
    )  # fmt: skip


def make_types(schemes: Callable[[], plans.PopSchemes]) -> list[TxType[Any]]:
    def register_planner(view: StateView, tx: Tx, p: Any, ctx: TxContext) -> plans.CustodyPlan:
        return plans.plan_register(view, tx, p, ctx, schemes)

    reg_check, reg_apply = _typed(register_planner)
    bond_check, bond_apply = _typed(plans.plan_bond)
    return [
        TxType(REGISTER, records.TYPE_IDS[REGISTER], registration.decode_register,
               reg_check, reg_apply, describe=lambda p: {"agent": p.agent.hex(), "bond": p.bond,
                                   "keys": {t: k.hex() for t, k in p.keys.items()}}),
        TxType(BOND, records.TYPE_IDS[BOND], bonds.decode_bond, bond_check, bond_apply,
               describe=lambda p: {"op": p.op.name.lower(), "amount": p.amount}),
    ]  # fmt: skip


def register(
    registry: Registry,
    schemes: Callable[[], plans.PopSchemes] | None = None,
    sorters: Callable[[], KeySorters] | None = None,
    specs: slashing.Specs | None = None,
) -> None:
    """Declare custody's tables, genesis section, types and round hook (plug-in entry point)."""
    for name, doc in records.TABLES.items():
        registry.add_table(TableSpec(name, owner="custody", doc=doc))
    pop = schemes or installed_schemes
    order = sorters or installed_sorters

    def init(state: State, section: Any) -> None:
        init_genesis(state, section, registry.params, pop, order)

    registry.add_genesis_section(records.GENESIS_SECTION, init)
    for tx_type in make_types(pop):
        registry.add_type(tx_type)
    registry.add_type(_fraud_type(specs or installed_specs))
    registry.add_type(_outcome_type(specs or installed_specs))
    registry.add_round_hook("custody", make_hook(order, specs or installed_specs))
    registry.provide("custody", ChainCustody(specs))
