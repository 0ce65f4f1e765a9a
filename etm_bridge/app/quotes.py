"""Quotes (use case): what a swap through a pool pays now, and the depth it waits for."""

from __future__ import annotations

from typing import Any, Literal

from ..exchange.pool import PoolDirection
from .context import AppContext
from .liquidity import parse_asset_amount


def quote(
    ctx: AppContext,
    asset: str,
    amount: str,
    pay: Literal["asset", "etm"] = "asset",
    url: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """The node's quote for paying decimal ``amount`` of the pool's asset (a swap in) or of ETM
    (a swap out) into the ``asset`` pool: (the asset paid, the quote JSON)."""
    asset = asset.lower()
    paid = asset if pay == "asset" else "etm"
    direction = PoolDirection.ASSET_TO_ETM if pay == "asset" else PoolDirection.ETM_TO_ASSET
    amount_in = parse_asset_amount(amount, paid)
    return paid, ctx.node(url).quote(asset, direction.value, amount_in)
