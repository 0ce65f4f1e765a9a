"""Double-spend risk and the confirmations it requires (whitepaper section 3.1).

The whitepaper's exact attacker success probability (Grunspan and Pérez-Marco, "Double spend
races", 2017): with ``q`` the attacker's share of the hash rate, ``p = 1 - q`` and ``z``
confirmations, the number of attacker blocks found while the honest chain grows by ``z`` is
negative-binomial, and

    P(z) = 1 - sum_{k=0}^{z-1} C(k+z-1, k) (p^z q^k - q^z p^k).

It is computed here **exactly** with :class:`fractions.Fraction` (``q`` is read from its decimal
string, so 0.1 means 1/10, not the nearest binary float): the subtraction ``1 - sum`` cancels
almost every digit when ``P`` is small, which in floating point would leave only rounding noise
below ~1e-15, and an exact rational has no such floor. The cost is polynomial (one pass of z
terms per z) and a binary search keeps the number of evaluated z logarithmic; a floating-point
sum of positive terms (no cancellation) decides every z whose probability is not within 1e-6
(relative) of the tolerance, so the exact integers are only computed at the boundary.

Nakamoto's figure (his paper, section 11) uses the Poisson approximation with
``lambda = z q / p``. It is only an approximation, so it is computed in floating point, but in a
form with positive terms only (``sum_{k<=z} pois(k) (q/p)^(z-k) + P(Poisson > z)``, the tail
summed directly), so there is no cancellation; Poisson terms use ``lgamma`` to avoid overflow.
"""

from __future__ import annotations

import math
from fractions import Fraction

from etm_bridge.errors import ValidationError

MAX_CONFIRMATIONS = 10_000

Number = Fraction | float | int | str


def _fraction(value: Number, what: str) -> Fraction:
    try:
        return Fraction(str(value)) if isinstance(value, float) else Fraction(value)
    except (ValueError, TypeError, ZeroDivisionError):
        raise ValidationError(f"{what} must be a number, got {value!r}") from None


def _share(q: Number) -> Fraction:
    value = _fraction(q, "attacker share q")
    if not 0 <= value < Fraction(1, 2):
        raise ValidationError(
            f"attacker share q must be in [0, 0.5), got {q} (at 0.5 or more the attacker "
            "catches up with certainty, no number of confirmations is safe)"
        )
    return value


def _risk(risk: Number) -> Fraction:
    value = _fraction(risk, "risk tolerance")
    if not 0 < value < 1:
        raise ValidationError(f"risk tolerance must be in (0, 1), got {risk}")
    return value


def _numerator_and_denominator(share: Fraction, z: int) -> tuple[int, int]:
    """P(z) = (D - N) / D with integers only: q = a/b, p = c/b and D = b^(2z-1).

    ``N = sum_k C(k+z-1, k) b^(z-1-k) (c^z a^k - a^z c^k)`` is the whitepaper's sum scaled by D;
    integers avoid the gcd reductions that make Fraction arithmetic slow for large z.
    """
    a, b = share.numerator, share.denominator
    c = b - a
    cz, az = c**z, a**z
    total = 0
    binom = 1  # C(k+z-1, k) for k = 0
    ak, ck, bk = 1, 1, b ** (z - 1)
    for k in range(z):
        total += binom * bk * (cz * ak - az * ck)
        binom = binom * (k + z) // (k + 1)
        ak, ck, bk = ak * a, ck * c, bk // b
    return b ** (2 * z - 1) - total, b ** (2 * z - 1)


def attacker_success_probability(q: Number, z: int) -> Fraction:
    """The exact P(z) of the whitepaper (Grunspan and Pérez-Marco), as a fraction."""
    share = _share(q)
    if z < 0:
        raise ValidationError(f"confirmations must be >= 0, got {z}")
    if z == 0 or share == 0:
        return Fraction(1) if z == 0 else Fraction(0)
    numerator, denominator = _numerator_and_denominator(share, z)
    return Fraction(numerator, denominator)


def _log_nb_term(k: int, z: int, log_a: float, log_b: float) -> float:
    """log of C(k+z-1, k) a^z b^k."""
    return math.lgamma(k + z) - math.lgamma(k + 1) - math.lgamma(z) + z * log_a + k * log_b


def attacker_success_probability_float(q: Number, z: int) -> float:
    """The same P(z) in floating point, fast for large z, summing positive terms only:

    P(z) = q^z sum_{k<z} C(k+z-1, k) p^k + sum_{k>=z} C(k+z-1, k) p^z q^k

    (attacker behind by z-k and catching up, plus attacker already level). Relative error
    ~1e-10; it underflows to 0 below ~1e-308. Used to decide clear cases quickly.
    """
    share = _share(q)
    if z < 0:
        raise ValidationError(f"confirmations must be >= 0, got {z}")
    if z == 0 or share == 0:
        return 1.0 if z == 0 else 0.0
    log_q, log_p = math.log(float(share)), math.log(float(1 - share))
    behind = sum(math.exp(_log_nb_term(k, z, log_q, log_p)) for k in range(z))
    level, k = 0.0, z  # terms decrease from k = z on (ratio q(k+z)/(k+1) < 2q < 1)
    while True:
        term = math.exp(_log_nb_term(k, z, log_p, log_q))
        level += term
        if term <= level * 1e-18:
            break
        k += 1
    return min(1.0, behind + level)


def _exact_at_most(share: Fraction, z: int, bound: Fraction) -> bool:
    if z == 0 or share == 0:
        return z > 0
    approx, limit = attacker_success_probability_float(share, z), float(bound)
    if limit > 1e-290:  # clear cases by the float sum, exact arithmetic only near the bound
        if approx < limit * (1 - 1e-6):
            return True
        if approx > limit * (1 + 1e-6):
            return False
    numerator, denominator = _numerator_and_denominator(share, z)
    return numerator * bound.denominator <= bound.numerator * denominator


def nakamoto_probability(q: Number, z: int) -> float:
    """Nakamoto's Poisson approximation of the catch-up probability (floating point)."""
    share = float(_share(q))
    if z < 0:
        raise ValidationError(f"confirmations must be >= 0, got {z}")
    if z == 0:
        return 1.0
    if share == 0:
        return 0.0
    ratio = share / (1 - share)
    lam = z * ratio

    def pois(k: int) -> float:
        return math.exp(k * math.log(lam) - lam - math.lgamma(k + 1))

    caught = sum(pois(k) * ratio ** (z - k) for k in range(z + 1))
    tail, k = 0.0, z + 1
    while True:
        term = pois(k)
        tail += term
        if term < tail * 1e-17 or term == 0.0:
            break
        k += 1
    return min(1.0, caught + tail)


def _smallest_z(ok: object, ceiling: int) -> int:
    """Smallest z in [0, ceiling] with ok(z) true, for a monotone predicate."""
    assert callable(ok)
    hi = 1
    while not ok(hi):
        if hi >= ceiling:
            raise ValidationError(f"more than {ceiling} confirmations would be needed")
        hi = min(hi * 2, ceiling)
    lo = hi // 2
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _attacking_share(q: Number) -> Fraction:
    """q for a confirmation count: in (0, 0.5) (no attacker needs no count; q >= 0.5 wins)."""
    share = _share(q)
    if share == 0:
        raise ValidationError(
            "attacker share q must be > 0 (with no attacker hash rate there is no double-spend "
            "race to size confirmations for)"
        )
    return share


def _ceiling_hit(what: str, q: Number, risk: Number, ceiling: int) -> ValidationError:
    return ValidationError(
        f"{what}: more than {ceiling} confirmations would be needed for q={q} and risk={risk} "
        "(q is too close to 0.5 or the risk too small)"
    )


def confirmations_required(q: Number, risk: Number, ceiling: int = MAX_CONFIRMATIONS) -> int:
    """Smallest z with the exact P(z) <= risk, for 0 < q < 0.5 and 0 < risk < 1."""
    bound = _risk(risk)
    share = _attacking_share(q)
    try:
        return _smallest_z(lambda z: _exact_at_most(share, z, bound), ceiling)
    except ValidationError:
        raise _ceiling_hit("exact formula", q, risk, ceiling) from None


def nakamoto_confirmations_required(
    q: Number, risk: Number, ceiling: int = MAX_CONFIRMATIONS
) -> int:
    """Smallest z with Nakamoto's Poisson figure <= risk, for 0 < q < 0.5 and 0 < risk < 1."""
    bound = float(_risk(risk))
    share = _attacking_share(q)
    try:
        return _smallest_z(lambda z: nakamoto_probability(share, z) <= bound, ceiling)
    except ValidationError:
        raise _ceiling_hit("Nakamoto's formula", q, risk, ceiling) from None


def value_scaled_confirmations(
    q: Number, loss_budget: int, amount: int, ceiling: int = MAX_CONFIRMATIONS
) -> int:
    """Confirmations that keep the expected double-spend loss on ``amount`` within
    ``loss_budget`` (same units): the smallest z with ``P(z) * amount <= loss_budget``, i.e.
    :func:`confirmations_required` at risk ``loss_budget / amount`` (whitepaper 3.1, exact).

    0 when ``amount <= loss_budget`` (even a certain loss is within the budget) or ``q`` is 0
    (no attacker share configured: value scaling off)."""
    if amount < 0 or loss_budget < 0:
        raise ValidationError(f"amount and loss budget must be >= 0, got {amount}, {loss_budget}")
    if _share(q) == 0 or amount <= loss_budget:
        return 0
    if loss_budget == 0:
        raise ValidationError("a zero loss budget needs infinitely many confirmations")
    return confirmations_required(q, Fraction(loss_budget, amount), ceiling)
