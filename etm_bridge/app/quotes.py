"""Quotes and the pre-flight of a swap (use cases): what a swap costs before anything moves.

- :func:`quote` (``pool quote ASSET AMOUNT``): the node's quote with the price impact on the
  pool's reserves; an amount larger than the pool's reserve on the paid side is refused.
- :func:`pool_price` / :func:`price_impact_ppm`: the impact of a quote (pure arithmetic on the
  pool's pricing reserves, ``exchange.pool.Pool.pricing_reserves``): how far below the pool's
  spot price the output is, the pool fee apart.
- :func:`preflight` (``swap quote``, and ``swap start`` before it records or locks anything):
  the quote (pool swaps), a swap in's intent bond (ETM held while the intent reserves the
  quote, issue 15: the ETM wallet must hold it besides the fees), the network fee of our lock,
  of a claim paid from the wallet and of a refund, the confirmations each leg waits for and the
  expected time (the chains' block times); it refuses a wallet that cannot pay the amount plus
  the fees (naming the shortfall and how to fund it) and a price impact above
  ``max_impact_ppm`` (``--max-slippage``, default 1 %).

Network fees are estimates: the adapter's fee rate (``fee_estimate``) times a typical size of
the transaction (:data:`TX_SIZES`, per fee-rate unit), rounded up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..adapter import ChainAdapter, FeeEstimate
from ..errors import EtmBridgeError, SwapError, TxRejectedError
from ..exchange.pool import PoolDirection
from .context import AppContext
from .durations import duration_text
from .liquidity import display, parse_asset_amount
from .swaps import display_amount

PPM = 1_000_000
#: The price impact ``swap start`` accepts without ``--max-slippage`` (1 %).
DEFAULT_MAX_IMPACT_PPM = 10_000

#: Typical (lock, claim, refund) sizes by what a fee rate is per (the part of
#: ``FeeEstimate.rate_unit`` after "/"): virtual bytes of a lock with one input and change, of a
#: claim and a refund spending the HTLC; gas of an HTLC contract's calls; one transaction each.
TX_SIZES: dict[str, tuple[int, int, int]] = {
    "vB": (160, 150, 140),
    "gas": (90_000, 70_000, 60_000),
    "tx": (1, 1, 1),
}
#: Rates per these are account chains': a claim is paid from the wallet's balance (a UTXO
#: chain's claim pays its fee out of the claimed output).
CLAIM_FROM_BALANCE = frozenset({"gas", "tx"})


def _sizes(rate_unit: str) -> tuple[int, int, int]:
    """:data:`TX_SIZES` of a rate unit (zeros for one we do not know: no fee estimated)."""
    return TX_SIZES.get(rate_unit.rpartition("/")[2], (0, 0, 0))


# --- the pool's price -----------------------------------------------------------------------


def pricing_reserves(pool: dict[str, Any], direction: PoolDirection) -> tuple[int, int]:
    """``(reserve_in, reserve_out)`` a new swap is priced on (the node's pool JSON)."""
    if direction is PoolDirection.ASSET_TO_ETM:
        return (int(pool["asset_reserve"]) + int(pool["asset_pending_in"]),
                int(pool["etm_reserve"]) - int(pool["etm_reserved"]))  # fmt: skip
    return (int(pool["etm_reserve"]) + int(pool["etm_pending_in"]),
            int(pool["asset_reserve"]) - int(pool["asset_reserved"]))  # fmt: skip


def price_impact_ppm(reserve_in: int, reserve_out: int, net_in: int, amount_out: int) -> int:
    """How far ``amount_out`` is below ``net_in`` at the spot price ``reserve_out /
    reserve_in``, in parts per million (rounded up; 1e6 for an empty side)."""
    ideal = net_in * reserve_out
    if ideal <= 0 or reserve_in <= 0:
        return PPM
    return max(0, -(-(ideal - amount_out * reserve_in) * PPM // ideal))


def percent(ppm: int) -> str:
    return f"{ppm / 10_000:.2f} %"


def pool_price(ctx: AppContext, asset: str, direction: PoolDirection, amount_in: int,
               url: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The node's quote for ``amount_in`` (base units) plus ``price_impact_ppm`` and
    ``price_impact``; :class:`SwapError` for an amount beyond the pool's reserve or a pool
    that cannot quote it (the node's reason, not "transaction rejected")."""
    node = ctx.node(url)
    paid = asset if direction is PoolDirection.ASSET_TO_ETM else "etm"
    got = "etm" if paid == asset else asset
    try:
        pool = node.pool(asset)
        q = node.quote(asset, direction.value, amount_in)
    except TxRejectedError as exc:  # the node's reason, never "transaction rejected (...)"
        code = f" ({exc.reason})" if exc.reason.islower() else ""  # not a class name
        raise SwapError(
            f"the {asset} pool cannot quote {display(amount_in, paid)}{code}: {exc.detail}"
        ) from None
    reserve_in, reserve_out = pricing_reserves(pool, direction)
    if amount_in > reserve_in:
        raise SwapError(
            f"{display(amount_in, paid)} is more than the {asset} pool holds "
            f"({display(reserve_in, paid)} against {display(reserve_out, got)}): swap at most "
            f"about {display(largest_in(reserve_in, DEFAULT_MAX_IMPACT_PPM), paid)} for 1 % "
            "impact"
        )
    net_in = int(q["amount_in"]) - int(q["fee"])
    impact = price_impact_ppm(reserve_in, reserve_out, net_in, int(q["amount_out"]))
    return {**q, "price_impact_ppm": impact, "price_impact": percent(impact)}


def largest_in(reserve_in: int, max_impact_ppm: int) -> int:
    """The largest input (after the fee) whose impact stays within ``max_impact_ppm``: the
    constant product's impact is ``n / (reserve_in + n)``."""
    return reserve_in * max_impact_ppm // (PPM - max_impact_ppm) if max_impact_ppm < PPM else 0


def quote(
    ctx: AppContext,
    asset: str,
    amount: str,
    pay: Literal["asset", "etm"] = "asset",
    url: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """The node's quote for paying decimal ``amount`` of the pool's asset (a swap in) or of ETM
    (a swap out) into the ``asset`` pool: (the asset paid, the quote JSON with its impact)."""
    asset = asset.lower()
    paid = asset if pay == "asset" else "etm"
    direction = PoolDirection.ASSET_TO_ETM if pay == "asset" else PoolDirection.ETM_TO_ASSET
    amount_in = parse_asset_amount(amount, paid)
    return paid, pool_price(ctx, asset, direction, amount_in, url)


def bond_text(bond: int, lifetime_s: int, shown: str) -> str:
    """What a swap in's intent bond is, for people (``shown``: the bond as displayed)."""
    return (
        f"bond {shown} held while the swap intent reserves this quote (up to "
        f"{duration_text(lifetime_s)}): back when your lock is proven, or on `swap cancel` "
        "before you lock (less a share per block held); kept by the pool if you never lock"
    )


# --- the pre-flight -------------------------------------------------------------------------


@dataclass(frozen=True)
class LegCost:
    """One chain's part of a swap: what we pay there and what it waits for."""

    chain: str
    fee_rate: int
    fee_rate_unit: str
    fee_rate_source: str  # "node" or "fallback"
    network_fee: int  # our transactions on it before the swap ends (lock and/or claim)
    refund_fee: int  # what refunding our lock there costs (0: we lock nothing there)
    confirmations: int
    block_time_s: int


@dataclass(frozen=True)
class SwapQuote:
    """What a swap costs and how long it takes, before anything is recorded or locked."""

    from_chain: str
    to_chain: str
    amount_in: int
    amount_out: int  # the pool's output now, or the direct swap's --receive
    pool_fee: int  # in FROM units (0 for a direct swap)
    price_impact_ppm: int | None  # None: a direct swap (no pool)
    legs: tuple[LegCost, ...]  # FROM's leg first
    expected_s: int
    #: ETM a swap in's intent moves into escrow (issue 15): back when the lock is proven or
    #: on ``swap cancel`` (less a charge per block held), the LPs' if the intent expires
    intent_bond: int = 0
    intent_lifetime_s: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["legs"] = [asdict(leg) for leg in self.legs]
        data["price_impact"] = (
            None if self.price_impact_ppm is None else percent(self.price_impact_ppm)
        )
        return data


def _fee(adapter: ChainAdapter, lock: bool, claim: bool) -> tuple[FeeEstimate, int, int]:
    """The fee rate, what we pay on this chain (lock, or a claim paid from the balance) and
    what a refund of our lock would cost."""
    est = adapter.fee_estimate()
    lock_size, claim_size, refund_size = _sizes(est.rate_unit)
    paid = claim and est.rate_unit.rpartition("/")[2] in CLAIM_FROM_BALANCE
    network = est.rate * ((lock_size if lock else 0) + (claim_size if paid else 0))
    return est, network, est.rate * refund_size if lock else 0


def _leg(ctx: AppContext, chain: str, *, lock: bool, confirmations: int, extra_txs: int = 0
         ) -> LegCost:  # fmt: skip
    adapter = ctx.adapter(chain)
    est, network, refund = _fee(adapter, lock, claim=not lock)
    network += extra_txs * est.rate * _sizes(est.rate_unit)[0]
    block_time = adapter.info().block_time_s
    return LegCost(chain, est.rate, est.rate_unit, est.source, network, refund, confirmations,
                   block_time)  # fmt: skip


def _expected_s(legs: tuple[LegCost, ...]) -> int:
    """Both legs' confirmations at their block times, plus one block for the claims."""
    return sum((leg.confirmations + 1) * leg.block_time_s for leg in legs)


def pool_preflight(ctx: AppContext, from_chain: str, to_chain: str, amount_in: int) -> SwapQuote:
    """The quote of a swap through the ETM pool (one chain is ETM) with its costs."""
    etm = ctx.etm_name()
    if etm not in (from_chain, to_chain) or from_chain == to_chain:
        raise SwapError(f"a pool swap goes between ETM ({etm}) and another chain")
    swap_in = to_chain == etm
    asset = ctx.foreign(from_chain if swap_in else to_chain).ticker
    direction = PoolDirection.ASSET_TO_ETM if swap_in else PoolDirection.ETM_TO_ASSET
    q = pool_price(ctx, asset, direction, amount_in)
    depth = q.get("depth")
    foreign_confs = int(depth["confirmations"]) if isinstance(depth, dict) else 1
    if swap_in:  # we lock the asset; on ETM: the intent and the claim of the pool's HTLC
        legs = (_leg(ctx, from_chain, lock=True, confirmations=foreign_confs),
                _leg(ctx, to_chain, lock=False, confirmations=1, extra_txs=1))  # fmt: skip
    else:
        legs = (_leg(ctx, from_chain, lock=True, confirmations=1),
                _leg(ctx, to_chain, lock=False, confirmations=foreign_confs))  # fmt: skip
    return SwapQuote(from_chain, to_chain, amount_in, int(q["amount_out"]), int(q["fee"]),
                     int(q["price_impact_ppm"]), legs, _expected_s(legs),
                     int(q.get("intent_bond", 0)), int(q.get("intent_lifetime_s", 0)))  # fmt: skip


def direct_preflight(ctx: AppContext, from_chain: str, to_chain: str, amount_in: int,
                     receive: int, confirmations: int, counter_confirmations: int
                     ) -> SwapQuote:  # fmt: skip
    """A direct swap's costs (no pool: no price impact)."""
    legs = (_leg(ctx, from_chain, lock=True, confirmations=confirmations),
            _leg(ctx, to_chain, lock=False, confirmations=counter_confirmations))  # fmt: skip
    return SwapQuote(from_chain, to_chain, amount_in, receive, 0, None, legs, _expected_s(legs))


def check_preflight(ctx: AppContext, sq: SwapQuote, max_impact_ppm: int) -> None:
    """Refuse a swap the wallet cannot pay for, or priced beyond ``max_impact_ppm``."""
    if not 0 <= max_impact_ppm <= PPM:
        raise SwapError(f"--max-slippage must be 0..100 (percent), got {percent(max_impact_ppm)}")
    if sq.price_impact_ppm is not None and sq.price_impact_ppm > max_impact_ppm:
        raise SwapError(
            f"price impact {percent(sq.price_impact_ppm)} is above the "
            f"{percent(max_impact_ppm)} allowed: the pool is small for this amount. Swap less "
            f"(`etm-bridge swap quote` shows the impact) or accept it with --max-slippage "
            f"{-(-sq.price_impact_ppm // 10_000)}"
        )
    for leg in sq.legs:
        # the swap in's ETM leg also moves the intent's bond into escrow (issue 15)
        paid = sq.amount_in if leg.chain == sq.from_chain else sq.intent_bond
        need = leg.network_fee + paid
        if need:
            _check_balance(ctx, leg, need, paid)


def _check_balance(ctx: AppContext, leg: LegCost, need: int, amount: int) -> None:
    have = ctx.adapter(leg.chain).balance()
    if have >= need:
        return
    show = lambda v: display_amount(ctx, leg.chain, v)  # noqa: E731
    fee = f"about {show(leg.network_fee)} network fee"
    what = fee if not amount else f"{show(amount)} plus {fee}" if leg.network_fee else show(amount)
    raise SwapError(
        f"not enough on {leg.chain}: the swap needs {what} = {show(need)}, the wallet has "
        f"{show(have)} (short by {show(need - have)}). Fund the wallet's {leg.chain} address"
        f"{_address(ctx, leg.chain)} (on the local stack: `etm-bridge stack faucet`)"
        f"{' or swap less' if amount else ''}. Nothing was recorded or locked"
    )


def _address(ctx: AppContext, chain: str) -> str:
    """`` <address>`` of the wallet on ``chain`` (empty if it cannot be named)."""
    try:
        public = ctx.public_keys()
        if chain == ctx.etm_name_or_none():
            return f" {public.etm.address}"
        return f" {ctx.foreign(chain).display_address(public, ctx.require_config().network)}"
    except EtmBridgeError:
        return " (`etm-bridge wallet show`)"
