"""Fee bumping of our own claims and refunds: which are pending, when to bump, at what rate, how.

A claim or refund that is still unconfirmed as its **deadline** nears is re-issued at a higher
fee rate. The deadline of a claim is its lock's timelock (from that height the other side can
refund it, and a claim of the counter lock has revealed the secret); a refund has no hard one,
but the longer it waits the longer a claimant holding the secret can race it, so its deadline
is ``refund_deadline_blocks`` after its timelock.

The schedule (:func:`scheduled_rate`): nothing while more than ``window_blocks`` blocks remain;
then the node's estimate doubled for every block of the window used up
(``estimate * 2 ** (window - left + 1)``), so the rate grows as the deadline nears and at most
one bump falls due per block. It is capped (:func:`ceiling_rate`) by the adapter's configured
maximum rate (``SpendFee.ceiling``) **and** by a share of the locked amount
(``max_fee_share_ppm``): the whole package (the spend plus a CPFP child) never pays more than
that share in fees. A bump is planned only when the capped rate is above what the spend pays
now (:func:`plan_bump`); replacement is used where the node accepts it (the adapter says so in
``SpendFee.methods``), a CPFP child otherwise.

Pure: the adapter reports the fees (``SpendFee``), the runtime broadcasts (``runtime/bump``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...adapter import BumpMethod, SpendFee
from ...errors import ValidationError
from .fsm import Role
from .model import ActionKind, SwapRecord
from .views import LegView, SwapView

A = ActionKind
PPM = 1_000_000


@dataclass(frozen=True)
class BumpConfig:
    """When and how far claims and refunds are bumped (see the module docstring)."""

    window_blocks: int = 6  # bumping starts when this many blocks remain before the deadline
    max_fee_share_ppm: int = 50_000  # the package's fees never exceed 5 % of the locked amount
    #: a refund's deadline: this many blocks after its timelock (12: a refund waits 6 blocks at
    #: the estimate before its first bump, since it is broadcast as soon as the timelock allows)
    refund_deadline_blocks: int = 12

    def __post_init__(self) -> None:
        for name in ("window_blocks", "refund_deadline_blocks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"BumpConfig.{name} must be an int >= 1, got {value!r}")
        share = self.max_fee_share_ppm
        if isinstance(share, bool) or not isinstance(share, int) or not 0 < share < PPM:
            raise ValidationError(f"BumpConfig.max_fee_share_ppm must be in 1..{PPM - 1}")


@dataclass(frozen=True)
class PendingSpend:
    """An unconfirmed claim or refund of ours: its leg, the action that made it, its deadline."""

    leg: LegView
    kind: ActionKind
    deadline_height: int

    @property
    def blocks_left(self) -> int:
        return self.deadline_height - self.leg.tip_height


@dataclass(frozen=True)
class BumpPlan:
    rate: int
    method: BumpMethod
    reason: str


#: Per role, the spends that are ours: (action kind, which leg, is it a claim).
_OURS = {
    Role.USER: ((A.CLAIM_COUNTER, "counter", True), (A.REFUND_USER_LOCK, "user", False)),
    Role.OPERATOR: ((A.CLAIM_USER_LOCK, "user", True), (A.REFUND_COUNTER, "counter", False)),
}


def pending_spends(
    rec: SwapRecord, view: SwapView, cfg: BumpConfig, *, unresolved: bool = False
) -> list[PendingSpend]:
    """Our claims and refunds the chains show unconfirmed, which we broadcast (an intent of
    that kind whose result names the very transaction the chain shows: a spend by someone
    else is never ours to bump). ``unresolved``: an intent of that kind still without a result
    (a crash mid-bump, resolved by this very plan) counts too; for wake-ups only."""
    found = []
    for kind, which, is_claim in _OURS[rec.role]:
        leg = view.user if which == "user" else view.counter
        spend, lock = leg.spend, leg.lock
        if spend is None or lock is None or spend.block_height is not None:
            continue
        if is_claim != (spend.preimage is not None):
            continue
        ours = {i.result.txid for i in rec.intents_of(kind) if i.result and i.result.txid}
        maybe = unresolved and any(i.result is None for i in rec.intents_of(kind))
        if spend.txid not in ours and not maybe:
            continue
        timelock = lock.terms.timelock_height
        deadline = timelock if is_claim else timelock + cfg.refund_deadline_blocks
        found.append(PendingSpend(leg, kind, deadline))
    return found


def scheduled_rate(estimate: int, blocks_left: int, cfg: BumpConfig) -> int | None:
    """The rate due with ``blocks_left`` blocks before the deadline; None outside the window.
    Doubles per block of the window used up; past the deadline it keeps growing (to the cap)."""
    if blocks_left > cfg.window_blocks:
        return None
    steps = min(cfg.window_blocks - blocks_left + 1, 40)  # 2**40: beyond any cap
    return max(1, estimate) * 2**steps


def ceiling_rate(fee: SpendFee, method: BumpMethod, cfg: BumpConfig) -> int:
    """The highest package rate a bump may reach: the adapter's ceiling, and the rate at which
    the package's fees reach ``max_fee_share_ppm`` of the locked amount."""
    size = fee.vsize + (fee.child_vsize if method is BumpMethod.CPFP else 0)
    budget = fee.value * cfg.max_fee_share_ppm // PPM
    return min(fee.ceiling, budget // max(1, size))


def plan_bump(fee: SpendFee, blocks_left: int, cfg: BumpConfig) -> BumpPlan | None:
    """The bump due now for a spend paying ``fee`` with ``blocks_left`` blocks to its deadline,
    or None (not yet, nothing higher allowed, or no method the node accepts)."""
    if not fee.methods:
        return None
    due = scheduled_rate(fee.estimate, blocks_left, cfg)
    if due is None:
        return None
    method = fee.methods[0]
    rate = min(due, ceiling_rate(fee, method, cfg))
    if rate <= fee.rate:
        return None
    reason = (
        f"{blocks_left} blocks before the deadline, paying {fee.rate}: bump to {rate} "
        f"by {method.value} (due {due}, ceiling {fee.ceiling})"
    )
    return BumpPlan(rate, method, reason)


def bump_wake_heights(rec: SwapRecord, view: SwapView) -> tuple[tuple[str, int], ...]:
    """While a spend of ours is unconfirmed, look again at every new block of its chain."""
    found = pending_spends(rec, view, BumpConfig(), unresolved=True)
    return tuple((p.leg.chain, p.leg.tip_height + 1) for p in found)
