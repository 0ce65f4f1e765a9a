"""An LP withdrawal as a person asks for it (use case): ``lp withdraw ASSET all`` / ``50%`` /
a number of shares, and what it paid.

:func:`shares_to_burn` reads the wallet's position (no flag names the pool or the address: the
wallet's ETM address and the ``asset`` pool) and turns ``all``, ``P%`` (a percentage, decimals
allowed, rounded down) or a whole number into shares; :func:`withdraw` burns them
(:func:`etm_bridge.app.liquidity.lp_withdraw`) and reports what came back: the ETM paid into
the wallet (its balance after, less before, plus the transaction's fee) and the asset part,
paid at once or owed as an obligation the pool operator must pay by an ETM height. From a
committee pool (docs/custody.md 2.10) the asset part is no obligation but an ``lp_withdraw``
mandate the committee signs and pays to the wallet's bound key: its id (derived from the burn's
transaction id) and its status (``open``, or ``queued`` while the vault cannot cover it; None
where the node serves no custody routes) are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ..chains.registry import chain_registry
from ..errors import ValidationError
from ..swaps.core.ports import TxResult
from .committee_pools import is_committee_pool, mandate_status, withdraw_mandate_id
from .context import AppContext
from .liquidity import lp_withdraw


def parse_share_spec(text: str, held: int) -> int:
    """Shares to burn of ``held``: ``all``, ``P%`` (0 < P <= 100) or a whole number."""
    spec = text.strip().lower()
    if spec == "all":
        burn = held
    elif spec.endswith("%"):
        try:
            pct = Decimal(spec[:-1])
        except InvalidOperation:
            pct = Decimal(-1)
        if not (pct.is_finite() and 0 < pct <= 100):
            raise ValidationError(f"SHARES percentage must be in 0..100 %, got {text!r}")
        burn = int(held * pct / 100)
    elif spec.isascii() and spec.isdigit():
        burn = int(spec)
    else:
        raise ValidationError(
            f"SHARES must be `all`, a percentage (`50%`) or a number, got {text!r}"
        )
    if burn <= 0 or burn > held:
        raise ValidationError(
            f"{text!r} is {burn} shares; the wallet holds {held}: withdraw 1..{held} (or `all`)"
        )
    return burn


def shares_to_burn(ctx: AppContext, asset: str, text: str) -> int:
    """The shares ``text`` names of the wallet's ``asset`` position."""
    address = ctx.public_keys().etm.address
    held = next((int(r["shares"]) for r in ctx.node().positions(address)
                 if r["asset"] == asset), 0)  # fmt: skip
    if held == 0:
        raise ValidationError(f"{address} holds no {asset} pool shares (`etm-bridge lp positions`)")
    return parse_share_spec(text, held)


@dataclass(frozen=True)
class Withdrawal:
    """A burn and what it paid: ETM into the wallet, the asset paid or owed."""

    asset: str
    shares: int
    tx: TxResult
    etm_received: int | None  # None: not known (the transaction is not confirmed yet)
    obligations: tuple[dict[str, Any], ...]  # created by this burn
    etm_height: int  # the ETM tip after the burn, to say when obligations are due
    mandate: dict[str, Any] | None = None  # a committee pool's payout: {"mandate_id", ...}

    def to_json(self) -> dict[str, Any]:
        out = {**self.tx.to_json(), "asset": self.asset, "shares": self.shares,
               "etm_received": self.etm_received, "obligations": list(self.obligations),
               "etm_height": self.etm_height}  # fmt: skip
        if self.mandate is not None:
            out["mandate"] = self.mandate
        return out


def withdraw(ctx: AppContext, asset: str, spec: str, *, min_etm: int = 0, min_asset: int = 0,
             fee: int | None = None, wait: bool = True) -> Withdrawal:  # fmt: skip
    """Burn the shares ``spec`` names (see the module docstring)."""
    asset = asset.lower()
    shares = shares_to_burn(ctx, asset, spec)
    node, address = ctx.node(), ctx.public_keys().etm.address
    committee = is_committee_pool(node.pool(asset))
    before = int(node.account(address)["balance"])
    known = {o["obligation_id"] for o in node.obligations(address)}
    tx, pending = lp_withdraw(ctx, asset, shares, min_etm=min_etm, min_asset=min_asset,
                              fee=fee, wait=wait)  # fmt: skip
    received = None
    if tx.status == "confirmed":
        received = int(node.account(address)["balance"]) - before + tx.fee
    new = tuple(o for o in pending if o["obligation_id"] not in known)
    height = int(node.status()["height"])
    if not committee:
        return Withdrawal(asset, shares, tx, received, new, height)
    ticker = chain_registry().for_asset(asset).ticker
    mid = withdraw_mandate_id(ticker, tx.id)
    status = mandate_status(node, mid) if tx.status == "confirmed" else None
    mandate = {"mandate_id": mid, "kind": "lp_withdraw", "chain": ticker, "status": status}
    return Withdrawal(asset, shares, tx, received, new, height, mandate)
