"""The exchange as ETM transaction types 200-212 (see chain/registry.py for the plug-in API).

Each type has a *planner* ``(view, tx, payload, ctx) -> TxPlan``: it reads state, runs the pure
rules of this package and returns the writes and escrow moves, or raises. ``check`` runs the
planner on the read-only view (plus a balance check for ETM going into escrow); ``apply`` runs
it on the state and commits the plan. So mempool admission and block application share one
code path, and a rejected tx writes nothing. Every :class:`~etm_bridge.errors.ExchangeError`
becomes a :class:`~etm_bridge.errors.TxRejectedError` with the same reason code.

Types needing a foreign chain's proof (lp deposit, swap in, obligation paid) get it checked by
a :class:`ForeignVerifier` (SPV, bound to the chain's relay) that turns the payload's ``proof``
bytes into a verified record; the planners ``plans.plan_lp_deposit``, ``swap_plans.plan_swap_in``
and ``plans.plan_obligation_paid`` take that record, so they are tested with records directly.
The default is :class:`ChainVerifiers` over every installed chain profile's exchange verifier
(ticker -> verifier, ``etm_bridge.chains.registry``); a pool whose chain has no verifier rejects
them with ``spv_unavailable``. A proof that breaks an SPV
rule is ``bad_proof``; one that does not parse is ``malformed_proof``. The verifier also
answers the depth of a proven block now (``confirmations``: a swap-in HTLC's claim re-checks its
lock's block) and whether a pool may exist on its chain's relay (``check_pool_network``: not on
a development relay without the genesis flag).

Custody: every planner gets the chain's :class:`~.custody_port.CustodyPort`,
``registry.port("custody", LEGACY)`` (a custody plug-in listed before the exchange in
``tx_plugins`` provides it; without one, :class:`~.custody_port.LegacyOperatorCustody` keeps
the operator-custodial rules).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from ..chain.registry import Registry, TxContext, TxType
from ..chain.state import State, StateView, TableSpec
from ..chain.tx import Tx
from ..errors import ExchangeError, SpvRejectedError, TxRejectedError, ValidationError
from . import payloads, plans, records, swap_plans
from .binding import chain_of_asset
from .custody_port import LEGACY, CustodyPort
from .obligations import VerifiedDeposit, VerifiedPayment
from .pool import Pool
from .swap_rules import VerifiedForeignLock

POOL_CREATE, BIND, UNBIND, HTLC_LOCK, HTLC_CLAIM, HTLC_REFUND = range(200, 206)
LP_DEPOSIT, LP_WITHDRAW, SWAP_IN, SWAP_OUT, OBLIGATION_PAID, OBLIGATION_DEFAULT = range(206, 212)
SWAP_INTENT = 212
SWAP_INTENT_CANCEL = 213  # issue 15: release a bonded intent, bond back less the cancel charge

P = TypeVar("P")
R = TypeVar("R")


class ForeignVerifier(Protocol):
    """SPV verification of the proofs carried by exchange transactions (pure, deterministic)."""

    def verify_lock(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedForeignLock: ...

    def verify_deposit(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedDeposit:
        """A payment to the pool's key/contract and the ETM address it names as owner."""
        ...

    def verify_payment(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedPayment: ...

    def confirmations(self, view: StateView, pool: Pool, block_hash: bytes) -> int:
        """Depth of ``block_hash`` on the relay's best chain now (0: not on it)."""
        ...

    def check_pool_network(self, view: StateView, asset: str, ctx: TxContext) -> None:
        """Raise unless a pool of ``asset`` may be created on this chain's relay."""
        ...


class UnavailableVerifier:
    """Rejects every proof: no SPV verifier for exchange proofs is installed on this chain."""

    def _reject(self) -> Any:
        raise TxRejectedError(
            "spv_unavailable",
            "no chain profile provides an exchange verifier for this pool's asset",
        )

    def verify_lock(self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext) -> Any:
        return self._reject()

    def verify_deposit(self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext) -> Any:
        return self._reject()

    def verify_payment(self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext) -> Any:
        return self._reject()

    def confirmations(self, view: StateView, pool: Pool, block_hash: bytes) -> int:
        return int(self._reject())

    def check_pool_network(self, view: StateView, asset: str, ctx: TxContext) -> None:
        """No verifier, no proofs: a pool would only refuse them; creating one is harmless."""


class ChainVerifiers:
    """Dispatches each proof to the verifier of its pool's chain (by ticker)."""

    def __init__(self, by_chain: dict[str, ForeignVerifier]):
        self.by_chain = dict(by_chain)

    def _for(self, pool: Pool) -> ForeignVerifier:
        return self._of(pool.params.asset)

    def _of(self, asset: str) -> ForeignVerifier:
        return self.by_chain.get(chain_of_asset(asset), UnavailableVerifier())

    def confirmations(self, view: StateView, pool: Pool, block_hash: bytes) -> int:
        return self._for(pool).confirmations(view, pool, block_hash)

    def check_pool_network(self, view: StateView, asset: str, ctx: TxContext) -> None:
        self._of(asset).check_pool_network(view, asset, ctx)

    def verify_lock(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedForeignLock:
        return self._for(pool).verify_lock(view, pool, proof, ctx)

    def verify_deposit(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedDeposit:
        return self._for(pool).verify_deposit(view, pool, proof, ctx)

    def verify_payment(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedPayment:
        return self._for(pool).verify_payment(view, pool, proof, ctx)


def default_verifier() -> ForeignVerifier:
    """Every installed chain's exchange verifier, each bound to its relay in state."""
    from ..chains.registry import chain_registry

    return ChainVerifiers(chain_registry().verifiers())


Planner = Callable[[StateView, Tx, Any, TxContext], plans.TxPlan]


def _typed(planner: Planner) -> tuple[Callable[..., None], Callable[..., None]]:
    """``check`` and ``apply`` around one planner, mapping exchange errors to tx rejections."""

    def run(view: StateView, tx: Tx, p: Any, ctx: TxContext) -> plans.TxPlan:
        try:
            return planner(view, tx, p, ctx)
        except ExchangeError as exc:
            raise TxRejectedError(exc.reason, str(exc)) from exc

    def check(view: StateView, tx: Tx, p: Any, ctx: TxContext) -> None:
        run(view, tx, p, ctx).check_balances(view)

    def apply(state: State, tx: Tx, p: Any, ctx: TxContext) -> None:
        run(state, tx, p, ctx).commit(state)

    return check, apply


def _verified(call: Callable[[], R]) -> R:
    """Run one proof verification; SPV and parse failures become tx rejections."""
    try:
        return call()
    except SpvRejectedError as exc:  # an SPV rule: unknown block, not in best chain, ...
        raise TxRejectedError("bad_proof", str(exc)) from exc
    except ValidationError as exc:  # the proof bytes do not parse
        raise TxRejectedError("malformed_proof", str(exc)) from exc


def _with_verifier(verifier: ForeignVerifier, custody: CustodyPort) -> dict[str, Planner]:
    def lp_deposit(view: StateView, tx: Tx, p: payloads.LpDeposit, ctx: TxContext) -> plans.TxPlan:
        pool = plans.get_pool(view, p.asset)
        deposit = _verified(lambda: verifier.verify_deposit(view, pool, p.proof, ctx))
        return plans.plan_lp_deposit(view, tx, p, ctx, deposit, custody)

    def swap_in(view: StateView, tx: Tx, p: payloads.SwapIn, ctx: TxContext) -> plans.TxPlan:
        pool = plans.get_pool(view, p.asset)
        lock = _verified(lambda: verifier.verify_lock(view, pool, p.proof, ctx))
        return swap_plans.plan_swap_in(view, tx, p, ctx, lock, custody)

    def paid(view: StateView, tx: Tx, p: payloads.ObligationPaid, ctx: TxContext) -> plans.TxPlan:
        ob = plans.get_obligation(view, p.obligation_id)
        pool = plans.get_pool(view, ob.asset)
        payment = _verified(lambda: verifier.verify_payment(view, pool, p.proof, ctx))
        return plans.plan_obligation_paid(view, tx, p, ctx, payment, custody)

    def depth(view: StateView, asset: str, block_hash: bytes) -> int:
        return verifier.confirmations(view, plans.get_pool(view, asset), block_hash)

    def claim(view: StateView, tx: Tx, p: payloads.HtlcClaim, ctx: TxContext) -> plans.TxPlan:
        return swap_plans.plan_htlc_claim(view, tx, p, ctx, depth, custody)

    def pool_create(
        view: StateView, tx: Tx, p: payloads.PoolCreate, ctx: TxContext
    ) -> plans.TxPlan:
        plan = plans.plan_pool_create(view, tx, p, ctx, custody)
        verifier.check_pool_network(view, p.asset, ctx)
        return plan

    return {
        "lp_deposit": lp_deposit,
        "swap_in": swap_in,
        "obligation_paid": paid,
        "htlc_claim": claim,
        "pool_create": pool_create,
    }


def _with_custody(planner: Callable[..., plans.TxPlan], custody: CustodyPort) -> Planner:
    """``planner`` with the chain's custody port as its last argument."""

    def planned(view: StateView, tx: Tx, p: Any, ctx: TxContext) -> plans.TxPlan:
        return planner(view, tx, p, ctx, custody)

    return planned


def _describe(p: Any) -> dict[str, Any]:
    return records.encode(p)


def make_types(verifier: ForeignVerifier, custody: CustodyPort = LEGACY) -> list[TxType[Any]]:
    """The exchange's transaction types, checking foreign proofs with ``verifier`` and asking
    ``custody`` who holds each pool's asset."""
    spv = _with_verifier(verifier, custody)

    def cu(planner: Callable[..., plans.TxPlan]) -> Planner:
        return _with_custody(planner, custody)

    table: list[tuple[int, str, type, Planner, Callable[[Any], int]]] = [
        (POOL_CREATE, "xchg_pool_create", payloads.PoolCreate, spv["pool_create"], _zero),
        (BIND, "xchg_bind", payloads.Bind, plans.plan_bind, _zero),
        (UNBIND, "xchg_unbind", payloads.Unbind, plans.plan_unbind, _zero),
        (HTLC_LOCK, "xchg_htlc_lock", payloads.HtlcLockPayload, swap_plans.plan_htlc_lock, _amount),
        (HTLC_CLAIM, "xchg_htlc_claim", payloads.HtlcClaim, spv["htlc_claim"], _zero),
        (
            HTLC_REFUND,
            "xchg_htlc_refund",
            payloads.HtlcRefund,
            cu(swap_plans.plan_htlc_refund),
            _zero,
        ),
        (LP_DEPOSIT, "xchg_lp_deposit", payloads.LpDeposit, spv["lp_deposit"], _zero),
        (LP_WITHDRAW, "xchg_lp_withdraw", payloads.LpWithdraw, cu(plans.plan_lp_withdraw), _zero),
        (SWAP_IN, "xchg_swap_in", payloads.SwapIn, spv["swap_in"], _zero),
        (SWAP_OUT, "xchg_swap_out", payloads.SwapOut, cu(swap_plans.plan_swap_out), _amount_in),
        (
            OBLIGATION_PAID,
            "xchg_obligation_paid",
            payloads.ObligationPaid,
            spv["obligation_paid"],
            _zero,
        ),
        (
            OBLIGATION_DEFAULT,
            "xchg_obligation_default",
            payloads.ObligationDefault,
            cu(plans.plan_obligation_default),
            _zero,
        ),
        (
            SWAP_INTENT,
            "xchg_swap_intent",
            payloads.SwapIntentPayload,
            cu(swap_plans.plan_swap_intent),
            _zero,
        ),
        (
            SWAP_INTENT_CANCEL,
            "xchg_swap_intent_cancel",
            payloads.SwapIntentCancel,
            cu(swap_plans.plan_swap_intent_cancel),
            _zero,
        ),
    ]
    out: list[TxType[Any]] = []
    for type_id, name, cls, planner, amount in table:
        check, apply = _typed(planner)
        out.append(
            TxType(type_id, name, _decoder(cls), check, apply, amount=amount, describe=_describe)
        )
    return out


def _decoder(cls: type[P]) -> Callable[[bytes], P]:
    return lambda payload: payloads.decode_payload(cls, payload)


def _zero(p: Any) -> int:
    return 0


def _amount(p: Any) -> int:
    return int(p.amount)


def _amount_in(p: Any) -> int:
    return int(p.amount_in)


def register(registry: Registry, verifier: ForeignVerifier | None = None) -> None:
    """Declare the exchange's tables and types (plug-in entry: ``etm_bridge.exchange.txtypes``),
    with the custody port a plug-in listed before it provided (legacy operator custody else)."""
    for name, doc in records.TABLES.items():
        registry.add_table(TableSpec(name, owner="exchange", doc=doc))
    custody = registry.port("custody", LEGACY)
    for tx_type in make_types(verifier or default_verifier(), custody):
        registry.add_type(tx_type)
