"""``ChainCustody``: the exchange's :class:`~etm_bridge.exchange.custody_port.CustodyPort` on a
chain that may hold pools under committee custody (design-14 sections 4.5-4.6).

On a chain whose genesis has no ``plugins.custody`` section every method is the legacy one
(:class:`~etm_bridge.exchange.custody_port.LegacyOperatorCustody`): the custody plug-in changes
nothing there. On a custody chain, so far:

* ``xchg_pool_create`` is refused ``pool_create_by_committee`` (pools belong to the chain);
* obligations (210/211) are refused ``custody_pool`` (the committee pays, no operator IOU);
* inflows (deposits, swap-ins, intents) are refused, first match wins: ``custody_inactive``
  (no committee yet), ``pool_insolvent`` (the pool's solvency record), ``custody_bond_cap``
  (the breaker over every pool, :mod:`.breaker`); outflows only ``pool_insolvent``;
* a swap-in lock (208) must pay an accepting committee's key policy, and a settled swap-in
  (204) opens the ``claim_swap_in`` mandate (:mod:`.swap_in`; 204's dispatch is by the swap's
  direction);
* an LP deposit (206) must pay a vault accepting deposits and becomes a vault output; an LP
  withdrawal's asset part (207) becomes an ``lp_withdraw`` mandate (:mod:`.lp`);
* a swap-out (209) opens the ``counter_lock`` mandate and charges its fee to the pool; its
  quote is net of ``quote_fee``; the claim of its ETM HTLC (204) clears ``in_htlc``
  (:mod:`.swap_out`).

The breaker values a pool at the maximum of its round price snapshots (``custody_prices``,
written by the round hook) and its current price. Pure.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, CustodyError, ExchangeError, ValidationError
from ..exchange import records as exchange_records
from ..exchange.binding import chain_of_asset
from ..exchange.custody_port import LegacyOperatorCustody
from ..exchange.obligations import VerifiedDeposit
from ..exchange.pool import Pool, PoolDirection
from ..exchange.reasons import Reason
from . import breaker, lp, records, solvency, swap_in, swap_out
from .committee import coalition_bond
from .params import CustodyParams
from .plans import current_epoch, get_member
from .vaults import Specs, chain_part

if TYPE_CHECKING:
    from ..chain.registry import TxContext
    from ..chain.state import StateView
    from ..chain.tx import Tx
    from ..exchange.htlc import Htlc
    from ..exchange.plans import TxPlan
    from ..exchange.swap_rules import VerifiedForeignLock


def _params(view: StateView) -> CustodyParams | None:
    raw = view.get_json(records.PARAMS, b"params")
    return None if raw is None else CustodyParams.from_json(raw)


def _committee(view: StateView) -> records.Committee | None:
    epoch = current_epoch(view)
    if epoch is None:
        return None
    return records.decode(
        records.Committee, view.get_json(records.EPOCHS, records.epoch_key(epoch))
    )


def pool_risks(view: StateView) -> list[breaker.PoolRisk]:
    out = []
    for key, raw in view.scan(exchange_records.POOLS):
        pool = exchange_records.decode(Pool, json.loads(raw))
        acc_raw = view.get_json(records.ACCOUNTS, key)
        acc = (
            records.CustodyAccount()
            if acc_raw is None
            else records.decode(records.CustodyAccount, acc_raw)
        )
        window = view.get_json(records.PRICES, key) or []
        now = breaker.price_ppt(pool.etm_reserve, pool.asset_reserve)
        prices = tuple(int(p) for p in window) + (() if now is None else (now,))
        out.append(breaker.PoolRisk(key.decode(), pool.asset_reserve, acc.owed, acc.in_htlc,
                               pool.etm_reserve, prices))  # fmt: skip
    return out


def _installed_specs() -> Any:
    from .txtypes import installed_specs

    return installed_specs()


def _part(view: StateView, p: CustodyParams, asset: str, specs: Specs) -> Any:
    try:
        return chain_part(p, chain_of_asset(asset), specs)
    except (CustodyError, ConfigError) as exc:  # a chain this node cannot hold
        raise ExchangeError(Reason.CUSTODY_INACTIVE, f"{asset}: {exc}") from exc


def _charge_pool(view: StateView, plan: TxPlan, asset: str, delta: int) -> None:
    """Move the pool's ``asset_reserve`` (as the plan leaves it) by ``delta``: a fee charged
    (negative) or released; ``insufficient_liquidity`` if in-flight swaps reserve too much."""
    if not delta:
        return
    key = asset.encode()
    written = plan.writes.get((exchange_records.POOLS, key))
    raw = written if isinstance(written, dict) else view.get_json(exchange_records.POOLS, key)
    pool = exchange_records.decode(Pool, raw)
    if pool.asset_reserve + delta < pool.asset_reserved:
        raise ExchangeError(
            Reason.INSUFFICIENT_LIQUIDITY,
            f"the {asset} pool cannot pay a {-delta} network fee: in-flight swaps reserve it",
        )
    plan.put(exchange_records.POOLS, key, replace(pool, asset_reserve=pool.asset_reserve + delta))


class ChainCustody(LegacyOperatorCustody):
    """See the module docstring. ``specs``: ticker -> CustodySpec of the installed chain
    profiles (default: looked up when first needed)."""

    def __init__(self, specs: Specs | None = None) -> None:
        self.specs: Specs = specs or _installed_specs

    def _active(self, view: StateView, asset: str) -> tuple[CustodyParams, records.Committee]:
        p = _params(view)
        committee = _committee(view)
        if p is None or committee is None:
            raise ExchangeError(
                Reason.CUSTODY_INACTIVE,
                f"no vault committee holds {asset} yet: wait for the first committee",
            )
        return p, committee

    def enabled(self, view: StateView) -> bool:
        return view.get(records.PARAMS, b"params") is not None

    def check_pool_create(self, view: StateView, tx: Tx, asset: str) -> None:
        if self.enabled(view):
            raise ExchangeError(
                Reason.POOL_CREATE_BY_COMMITTEE,
                f"pools on a custody chain belong to the chain: a {asset} pool comes from the "
                "genesis (plugins.custody.pools) or a committee proposal, not from a sender",
            )

    def check_obligation(self, view: StateView, asset: str) -> None:
        if self.enabled(view):
            raise ExchangeError(
                Reason.CUSTODY_POOL,
                f"the {asset} pool is held by the committee: withdrawals are paid by mandates, "
                "there are no operator obligations",
            )

    def check_inflow(self, view: StateView, asset: str, amount: int, ctx: TxContext) -> None:
        p = _params(view)
        if p is None:
            return
        committee = _committee(view)
        if committee is None:
            raise ExchangeError(
                Reason.CUSTODY_INACTIVE,
                "no vault committee has formed yet: inflows open once enough delegates "
                "registered custody keys and bonds",
            )
        self.check_outflow(view, asset, ctx)
        members = {d: m for d in committee.members if (m := get_member(view, d)) is not None}
        bond = coalition_bond(committee, members)
        breaker.check_inflow(pool_risks(view), asset, amount, bond, p.bond_ratio_ppm, committee.m)

    def check_outflow(self, view: StateView, asset: str, ctx: TxContext) -> None:
        if not self.enabled(view):
            return
        raw = view.get_json(records.SOLVENCY, asset.encode())
        solvency.check_flow(asset, None if raw is None else records.decode(records.Solvency, raw))

    def accepted_claim_keys(self, view: StateView, pool: Pool, ctx: TxContext) -> frozenset[bytes]:
        if not self.enabled(view):
            return super().accepted_claim_keys(view, pool, ctx)
        p = _params(view)
        if p is None or _committee(view) is None:
            return frozenset()  # no committee yet: no lock is the pool's (inflows refused anyway)
        return swap_in.claim_keys(view, _part(view, p, pool.params.asset, self.specs))

    def on_swap_in(
        self, view: StateView, plan: TxPlan, htlc_id: bytes, lock: VerifiedForeignLock,
        ctx: TxContext,
    ) -> None:  # fmt: skip
        if not self.enabled(view):
            super().on_swap_in(view, plan, htlc_id, lock, ctx)
            return
        p, _ = self._active(view, lock.asset)
        part = _part(view, p, lock.asset, self.specs)
        state = swap_in.record_lock(view, p, part, htlc_id, lock, ctx.height, ctx.timestamp)
        plan.writes.update(state.changes())

    def on_htlc_claim(
        self, view: StateView, plan: TxPlan, htlc: Htlc, swap: exchange_records.PoolSwap,
        preimage: bytes, ctx: TxContext,
    ) -> None:  # fmt: skip
        if not self.enabled(view):
            super().on_htlc_claim(view, plan, htlc, swap, preimage, ctx)
            return
        if swap.direction is PoolDirection.ASSET_TO_ETM:
            self._swap_in_settled(view, plan, swap, preimage, ctx)
        else:  # the user can take the counter lock: in_htlc cleared (swap_out.etm_claimed)
            ticker = chain_of_asset(swap.asset)
            plan.writes.update(swap_out.etm_claimed(view, ticker, htlc).changes())

    def _swap_in_settled(
        self, view: StateView, plan: TxPlan, swap: exchange_records.PoolSwap, preimage: bytes,
        ctx: TxContext,
    ) -> None:  # fmt: skip
        """Open the claim mandate; charge its fee to the reserve the exchange just settled."""
        p, _ = self._active(view, swap.asset)
        part = _part(view, p, swap.asset, self.specs)
        state, fee = swap_in.claim(view, p, part, swap.lock_id, preimage, swap.asset,
                                   ctx.height, ctx.timestamp)  # fmt: skip
        plan.writes.update(state.changes())
        key = (exchange_records.POOLS, swap.asset.encode())
        pool = exchange_records.decode(Pool, plan.writes[key])
        plan.put(exchange_records.POOLS, key[1],
                 replace(pool, asset_reserve=pool.asset_reserve - fee))  # fmt: skip

    def on_lp_deposit(
        self, view: StateView, plan: TxPlan, deposit: VerifiedDeposit, ctx: TxContext
    ) -> None:
        if not self.enabled(view):
            super().on_lp_deposit(view, plan, deposit, ctx)
            return
        p, _ = self._active(view, deposit.asset)
        part = _part(view, p, deposit.asset, self.specs)
        plan.writes.update(lp.deposit(view, p, part, deposit, ctx.height).changes())

    def on_lp_withdraw(
        self, view: StateView, plan: TxPlan, tx: Tx, pool: Pool, asset_out: int, payee: bytes,
        ctx: TxContext,
    ) -> None:  # fmt: skip
        if not self.enabled(view):
            super().on_lp_withdraw(view, plan, tx, pool, asset_out, payee, ctx)
            return
        asset = pool.params.asset
        p, committee = self._active(view, asset)
        part = _part(view, p, asset, self.specs)
        state, _ = lp.withdraw(view, p, part, committee, tx.id, asset, asset_out, payee,
                               ctx.height, ctx.timestamp)  # fmt: skip
        plan.writes.update(state.changes())

    def on_swap_out(
        self, view: StateView, plan: TxPlan, htlc: Htlc, swap: exchange_records.PoolSwap,
        ctx: TxContext,
    ) -> None:  # fmt: skip
        if not self.enabled(view):
            return
        p, committee = self._active(view, swap.asset)
        if not p.unsafe_test_behaviours:  # x7e: a user could keep both legs (docs/custody.md 3)
            raise ExchangeError(
                Reason.CUSTODY_POOL,
                f"swap-outs from the committee's {swap.asset} pool are off until counter locks can "
                "be refunded after their timelock and the ETM claim is submitted for the pool; "
                "swap in, or use a pool that allows swap-outs",
            )
        part = _part(view, p, swap.asset, self.specs)
        state, mandate = swap_out.open_counter_lock(view, p, part, committee, htlc, swap,
                                                    ctx.height, ctx.timestamp)  # fmt: skip
        plan.writes.update(state.changes())
        _charge_pool(view, plan, swap.asset, -mandate.revisions[0].fee)

    def on_htlc_refund(
        self, view: StateView, plan: TxPlan, htlc: Htlc, swap: exchange_records.PoolSwap,
        ctx: TxContext,
    ) -> None:  # fmt: skip
        if not self.enabled(view) or swap.direction is not PoolDirection.ETM_TO_ASSET:
            return
        p, committee = self._active(view, swap.asset)
        part = _part(view, p, swap.asset, self.specs)
        try:
            state, delta = swap_out.etm_refunded(view, p, part, committee, htlc, ctx.height,
                                                 ctx.timestamp)  # fmt: skip
            _charge_pool(view, plan, swap.asset, delta)
        except ExchangeError:  # no cancel spend possible: the refund still goes through
            state, delta = swap_out.etm_refunded(view, p, part, committee, htlc, ctx.height,
                                                 ctx.timestamp, with_cancel=False)  # fmt: skip
            _charge_pool(view, plan, swap.asset, delta)
        plan.writes.update(state.changes())

    def quote_fee(self, view: StateView, asset: str) -> int:
        p = _params(view)
        if p is None:
            return 0
        return swap_out.quote_fee(_part(view, p, asset, self.specs), _committee(view))

    def _vault_view(
        self, view: StateView, p: CustodyParams, committee: records.Committee, asset: str
    ) -> dict[str, Any] | None:
        """Where LP deposits of ``asset`` go now (None: this node has no custody spec for it)."""
        try:
            part = _part(view, p, asset, self.specs)
            vault = part.spec.vault(committee, part.cfg)
        except (ExchangeError, ValidationError):  # no spec here; keys the chain cannot read
            return None
        return {"ticker": part.ticker, "epoch": committee.epoch, "address": vault.address,
                "destination": vault.destination.hex()}  # fmt: skip

    def pool_view(self, view: StateView, asset: str) -> dict[str, Any] | None:
        p = _params(view)
        if p is None:
            return None
        committee = _committee(view)
        if committee is None:
            return {"committee": None, "inflows": "paused", "reason": "custody_inactive"}
        members = {d: m for d in committee.members if (m := get_member(view, d)) is not None}
        state = breaker.breaker(pool_risks(view), coalition_bond(committee, members),
                           p.bond_ratio_ppm, committee.m)  # fmt: skip
        return {
            "committee": {"epoch": committee.epoch, "m": committee.m, "n": committee.n},
            "vault": self._vault_view(view, p, committee, asset),
            "breaker": state.to_json(),
            "inflows": "paused" if state.paused else "open",
            "reason": "custody_bond_cap" if state.paused else None,
        }
