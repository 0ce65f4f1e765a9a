"""Tribunal voting weight: stake (ETM base units) -> vote weight, increasing and concave.

Whitepaper 3.3 and 5.1 item 1 ask for a strictly increasing, concave map ``F(balance) = weights``
built as a "threshold map" ``weights = balance * rate(range)`` with rates that fall as the balance
grows. Taken literally that map is *not increasing*: crossing a threshold lowers the rate for the
whole balance, so one more base unit can cost weight. We therefore apply the rates to each slice
of the balance (marginal rates, like income-tax brackets):

    weight(b) = sum_k rate_k * |[t_k, t_{k+1}) ∩ [0, b)|

which is continuous, strictly increasing (every rate > 0), concave (rates strictly decrease) and
exact in integers. Its two properties that matter, proved in ``docs/consensus.md`` and checked by
property tests, are:

* **Compression**: ``weight(b) / b`` is strictly decreasing once ``b`` exceeds the first
  threshold, so for stakes ``a_i > a_j`` with ``a_i > first threshold`` the share ratio satisfies
  ``B_i / B_j < a_i / a_j`` (the whitepaper's inequality); below it both are equal (linear).
* **Bounded Sybil gain**: splitting a stake over ``k`` accounts gains at most
  ``(k - 1) * sybil_bonus`` weight and never more than the factor ``first_rate / last_rate``.
  A smooth concave map such as ``sqrt`` would instead gain ``sqrt(k)`` without bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ValidationError
from ...units import ETM

#: Largest stake the weight map accepts (u64 amounts). ``weight(b) <= b + sybil_bonus``.
MAX_STAKE = 2**64 - 1


@dataclass(frozen=True)
class WeightSchedule:
    """Marginal vote rates per stake bracket.

    ``thresholds[k]`` (base units) is where bracket ``k + 1`` starts; bracket 0 starts at 0.
    ``rates[k]`` is the weight per base unit inside bracket ``k``. ``len(rates)`` must be
    ``len(thresholds) + 1``; thresholds strictly increase; rates are positive and strictly
    decrease.
    """

    thresholds: tuple[int, ...]
    rates: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.rates) != len(self.thresholds) + 1:
            raise ValidationError("weight schedule needs exactly one more rate than thresholds")
        if any(not isinstance(v, int) or isinstance(v, bool) for v in self.thresholds + self.rates):
            raise ValidationError("weight schedule thresholds and rates must be integers")
        if self.thresholds and self.thresholds[0] <= 0:
            raise ValidationError("first weight threshold must be positive")
        if any(b <= a for a, b in zip(self.thresholds, self.thresholds[1:], strict=False)):
            raise ValidationError("weight thresholds must strictly increase")
        if self.rates[-1] <= 0:
            raise ValidationError("every weight rate must be positive (weight must increase)")
        if any(b >= a for a, b in zip(self.rates, self.rates[1:], strict=False)):
            raise ValidationError("weight rates must strictly decrease (concavity)")

    @property
    def first_threshold(self) -> int:
        """Below this stake the map is linear; above it, compression is strict."""
        return self.thresholds[0] if self.thresholds else MAX_STAKE

    @property
    def sybil_bonus(self) -> int:
        """Most weight one extra account adds when a stake is split (sup of weight - r_last*b)."""
        last = self.rates[-1]
        bounds = (0, *self.thresholds)
        return sum(
            (rate - last) * (hi - lo)
            for rate, lo, hi in zip(self.rates, bounds, self.thresholds, strict=False)
        )

    @property
    def max_split_factor(self) -> tuple[int, int]:
        """Upper bound ``(num, den)`` on ``sum weight(parts) / weight(whole)`` for any split."""
        return self.rates[0], self.rates[-1]


#: Default brackets: 8x up to 100 ETM, 4x to 1,000, 2x to 10,000, then 1x.
DEFAULT_SCHEDULE = WeightSchedule(
    thresholds=(100 * ETM, 1_000 * ETM, 10_000 * ETM),
    rates=(8, 4, 2, 1),
)


def vote_weight(balance: int, schedule: WeightSchedule = DEFAULT_SCHEDULE) -> int:
    """Vote weight of a tribunal holding ``balance`` base units (0 -> 0)."""
    if not isinstance(balance, int) or isinstance(balance, bool):
        raise ValidationError(f"stake must be an integer number of base units, got {balance!r}")
    if not 0 <= balance <= MAX_STAKE:
        raise ValidationError(f"stake {balance} is outside 0..{MAX_STAKE} base units")
    weight = 0
    lo = 0
    for rate, hi in zip(schedule.rates, (*schedule.thresholds, None), strict=True):
        top = balance if hi is None else min(balance, hi)
        if top <= lo:
            break
        weight += rate * (top - lo)
        lo = top if hi is None else hi
    return weight


def split_weight(balance: int, parts: int, schedule: WeightSchedule = DEFAULT_SCHEDULE) -> int:
    """Total weight of ``balance`` split as evenly as possible over ``parts`` accounts."""
    if parts < 1:
        raise ValidationError(f"parts must be >= 1, got {parts}")
    base, extra = divmod(balance, parts)
    return extra * vote_weight(base + 1, schedule) + (parts - extra) * vote_weight(base, schedule)
