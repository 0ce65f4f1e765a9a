"""The seam between the exchange and whoever holds a pool's foreign asset (design-14 section 4.6).

The exchange never imports :mod:`etm_bridge.custody`. Every place where a pool's custody
matters (who may create a pool, which key a user's lock must pay, what an LP withdrawal's asset
part becomes, whether inflows or outflows are open) asks a :class:`CustodyPort`. The tx types
take it from the chain registry: ``registry.port("custody", LEGACY)``, so a chain whose plug-ins
provide no custody service keeps :class:`LegacyOperatorCustody`: today's operator-custodial
behaviour, moved here unchanged (the pool's claim key is the operator's; an asset withdrawal is
an obligation the operator pays within ``obligation_blocks``).

Every method is pure and deterministic like a planner: it reads ``view`` and may add writes to
the caller's :class:`~.plans.TxPlan`; a refusal raises :class:`~etm_bridge.errors.ExchangeError`
with a :class:`~.reasons.Reason`. The ``on_*`` hooks run after the exchange's own rules accepted
the transaction, before its plan is committed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..chain.address import encode_address
from ..chain.codec import U64
from . import obligations, records

if TYPE_CHECKING:
    from ..chain.registry import TxContext
    from ..chain.state import StateView
    from ..chain.tx import Tx
    from .htlc import Htlc
    from .plans import TxPlan
    from .pool import Pool
    from .swap_rules import VerifiedForeignLock


class CustodyPort(Protocol):
    """What the exchange asks about a pool's custody (see the module docstring)."""

    def enabled(self, view: StateView) -> bool:
        """True on a chain whose pools are held by a custody service (not an operator)."""
        ...

    def check_pool_create(self, view: StateView, tx: Tx, asset: str) -> None:
        """Raise unless ``tx`` may create a pool of ``asset`` (``xchg_pool_create``)."""
        ...

    def check_inflow(self, view: StateView, asset: str, amount: int, ctx: TxContext) -> None:
        """Raise unless ``amount`` more of ``asset`` may enter the pool now (deposit, swap in,
        swap intent)."""
        ...

    def check_outflow(self, view: StateView, asset: str, ctx: TxContext) -> None:
        """Raise unless ``asset`` may leave the pool now (swap out, asset withdrawal)."""
        ...

    def check_obligation(self, view: StateView, asset: str) -> None:
        """Raise unless the pool of ``asset`` settles withdrawals by operator obligations."""
        ...

    def accepted_claim_keys(self, view: StateView, pool: Pool, ctx: TxContext) -> frozenset[bytes]:
        """The keys (or key policies) a swap-in lock may pay to be the pool's."""
        ...

    def on_lp_deposit(
        self, view: StateView, plan: TxPlan, deposit: obligations.VerifiedDeposit, ctx: TxContext
    ) -> None: ...

    def on_lp_withdraw(
        self,
        view: StateView,
        plan: TxPlan,
        tx: Tx,
        pool: Pool,
        asset_out: int,
        payee: bytes,
        ctx: TxContext,
    ) -> None:
        """``asset_out`` (> 0) left the reserve for the sender, to be paid to ``payee`` (its
        bound key): record how it will be paid."""
        ...

    def on_swap_in(
        self, view: StateView, plan: TxPlan, htlc_id: bytes, lock: VerifiedForeignLock,
        ctx: TxContext,
    ) -> None: ...  # fmt: skip

    def on_swap_out(
        self, view: StateView, plan: TxPlan, htlc: Htlc, swap: records.PoolSwap, ctx: TxContext
    ) -> None: ...

    def on_htlc_claim(
        self, view: StateView, plan: TxPlan, htlc: Htlc, swap: records.PoolSwap, preimage: bytes,
        ctx: TxContext,
    ) -> None: ...  # fmt: skip

    def on_htlc_refund(
        self, view: StateView, plan: TxPlan, htlc: Htlc, swap: records.PoolSwap, ctx: TxContext
    ) -> None: ...

    def quote_fee(self, view: StateView, asset: str) -> int:
        """The outbound network fee a swap-out quote subtracts (base units of ``asset``)."""
        ...

    def pool_view(self, view: StateView, asset: str) -> dict[str, Any] | None:
        """The ``custody`` block of the pool's JSON, None: no block."""
        ...


class LegacyOperatorCustody:
    """Operator custody (every chain without a custody service): the behaviour of the exchange
    before issue 14, unchanged. The operator's claim key receives swap-in locks; an asset
    withdrawal is an :class:`~.obligations.Obligation` to the investor's bound key, due within
    the pool's ``obligation_blocks`` (docs/exchange.md, "Missed obligation deadline")."""

    def enabled(self, view: StateView) -> bool:
        return False

    def check_pool_create(self, view: StateView, tx: Tx, asset: str) -> None:
        """First come: the sender becomes the operator."""

    def check_inflow(self, view: StateView, asset: str, amount: int, ctx: TxContext) -> None:
        """Open (a pool halted by a defaulted obligation refuses inflows in :mod:`.pool`)."""

    def check_outflow(self, view: StateView, asset: str, ctx: TxContext) -> None:
        """Open."""

    def check_obligation(self, view: StateView, asset: str) -> None:
        """Operator pools settle withdrawals by obligations."""

    def accepted_claim_keys(self, view: StateView, pool: Pool, ctx: TxContext) -> frozenset[bytes]:
        return frozenset({pool.params.claim_key})

    def on_lp_deposit(
        self, view: StateView, plan: TxPlan, deposit: obligations.VerifiedDeposit, ctx: TxContext
    ) -> None:
        """Nothing beyond the pool's reserve: the asset sits on the operator's key."""

    def on_lp_withdraw(
        self,
        view: StateView,
        plan: TxPlan,
        tx: Tx,
        pool: Pool,
        asset_out: int,
        payee: bytes,
        ctx: TxContext,
    ) -> None:
        """An obligation of the operator to pay ``asset_out`` to ``payee``."""
        oid = view.get_u64(records.OBLIGATIONS, b"next")
        obligation = obligations.new_obligation(
            oid,
            pool.params.asset,
            asset_out,
            payee,
            encode_address(tx.sender),
            ctx.height,
            pool.params.obligation_blocks,
        )
        plan.put(records.OBLIGATIONS, U64.pack(oid), obligation)
        plan.put_raw(records.OBLIGATIONS, b"next", U64.pack(oid + 1))
        plan.put_raw(records.INVESTOR_OBLIGATIONS, tx.sender + U64.pack(oid), b"\x01")

    def on_swap_in(
        self, view: StateView, plan: TxPlan, htlc_id: bytes, lock: VerifiedForeignLock,
        ctx: TxContext,
    ) -> None:  # fmt: skip
        """The operator claims the lock with the preimage its ETM claim reveals."""

    def on_swap_out(
        self, view: StateView, plan: TxPlan, htlc: Htlc, swap: records.PoolSwap, ctx: TxContext
    ) -> None:
        """The operator locks the asset to the user's bound key."""

    def on_htlc_claim(
        self, view: StateView, plan: TxPlan, htlc: Htlc, swap: records.PoolSwap, preimage: bytes,
        ctx: TxContext,
    ) -> None:  # fmt: skip
        """Nothing: the operator acts on the foreign chain."""

    def on_htlc_refund(
        self, view: StateView, plan: TxPlan, htlc: Htlc, swap: records.PoolSwap, ctx: TxContext
    ) -> None:
        """Nothing: the operator acts on the foreign chain."""

    def quote_fee(self, view: StateView, asset: str) -> int:
        return 0

    def pool_view(self, view: StateView, asset: str) -> dict[str, Any] | None:
        return None


#: The one legacy port (stateless); the default of every planner.
LEGACY: CustodyPort = LegacyOperatorCustody()
