"""One liquidity pool per external asset: constant-product pricing, LP shares, reservations.

A :class:`Pool` pairs an external asset's reserve (in the asset's base units, a chain's native
asset or a token) with an ETM reserve (ETM base units). Every function is pure: it takes a
frozen pool and returns a new one (and a receipt), or raises a typed
:class:`~etm_bridge.errors.ExchangeError` and changes nothing.

Pricing (whitepaper 3.6: the price emerges from supply and demand) is the constant product
over *pessimistic* reserves: a swap is priced as if every in-flight swap paying in the same
asset completes and every in-flight swap paying the other asset is cancelled::

    x = reserve_in + pending_in(in side)        (the input side at its largest)
    y = reserve_out - reserved(out side)        (the output side at its smallest)
    fee = ceil(amount_in * fee_ppm / 1e6)                       fee rounded UP (pool keeps it)
    out = floor(y * (amount_in - fee) / (x + amount_in - fee))  payout rounded DOWN

so a swap never gets a better price than under any outcome of the swaps in flight. (Pricing on
the reserves "as if every in-flight swap completes" let a trader lock a large cancellable swap,
trade the other way at the price it moved, and let the first swap expire: a free option on
the pool. tests/unit/exchange/test_pool_attacks.py.) Same-direction swaps still price exactly
as if made one after another.

Reservations: a swap first *reserves* its output (``*_reserved += out``; the output still sits
in the reserve, so ``reserved <= reserve`` always) and records its input as pending. It ends
exactly once: :func:`settle_swap` (the HTLC was claimed: the output leaves, the input and its
fee enter the reserve) or :func:`release_swap` (refunded or expired: both are dropped).
:mod:`.swap_plans` guarantees "exactly once": only the claim or the refund of the swap's HTLC
ends it, and an HTLC ends once (:mod:`.htlc`).

Shares: the first deposit mints ``isqrt(asset * etm)`` shares of which
:data:`MINIMUM_LIQUIDITY` are locked forever (owned by nobody). That defeats the first-depositor
inflation attack: inflating the value of one share by donating to the pool would cost the
attacker ``MINIMUM_LIQUIDITY`` times the donation, because the locked shares own their part of
it. Later deposits mint ``floor(a * S / x)`` shares and take ``ceil(shares * y / S)`` ETM (the
external asset is taken in full: the SPV-proven payment cannot be split, so its remainder
above ``ceil(shares * x / S)`` is a donation to the pool, bounded by one share's worth); a
deposit whose ``etm_max`` is below that (:func:`deposit_quote`) is refused
(``deposit_etm_short``) rather than donating the rest of the asset. Withdrawals pay
``floor(shares * reserve / S)`` of each side, only from unreserved funds. Deposits and
withdrawals use the *real* reserves (``x = asset_reserve``, ``y = etm_reserve``), which no
in-flight swap moves: a swap that can be cancelled for free must not set the price at which
shares are bought or redeemed. All rounding favours the pool, so a share's backing on each side,
``reserve / S``, never falls on a deposit or withdrawal, and ``sqrt(x * y) / S``
(:func:`share_value_not_lower`) never falls on those nor on reserving or releasing a swap;
see docs/exchange.md for the documented losses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from math import isqrt

from ..errors import ExchangeError, LiquidityError, SlippageError
from .reasons import Reason

#: Parts per million: ``fee_ppm = 3000`` is a 0.3 % swap fee.
PPM = 1_000_000
#: Highest swap fee a pool may charge (10 %).
MAX_FEE_PPM = 100_000
#: Shares minted by the first deposit and locked forever (Uniswap v2's guard against the
#: first-depositor share-inflation attack).
MINIMUM_LIQUIDITY = 1_000
#: Largest ETM amount or reserve (u64: the chain's native amount type).
MAX_ETM_AMOUNT = 2**64 - 1
#: Largest external-asset amount or reserve (u128: an asset with 18 decimals reaches 2**64 base
#: units at about 18.4 whole units). Payloads encode these amounts as u128 (docs/exchange.md,
#: "Amount encoding").
MAX_ASSET_AMOUNT = 2**128 - 1


class PoolDirection(StrEnum):
    """Which way a swap goes through the pool."""

    ASSET_TO_ETM = "asset_to_etm"  # the user pays the external asset and receives ETM
    ETM_TO_ASSET = "etm_to_asset"  # the user pays ETM and receives the external asset


def require_amount(
    value: object, what: str, *, positive: bool = True, error: type[ExchangeError] = ExchangeError
) -> int:
    """Return ``value`` if it is an int (not bool) and > 0 (>= 0 if not ``positive``)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise error(Reason.BAD_AMOUNT, f"{what} must be an integer, got {value!r}")
    if value < 0 or (positive and value == 0):
        need = "positive" if positive else "non-negative"
        raise error(Reason.BAD_AMOUNT, f"{what} must be {need}, got {value}")
    return value


#: The operator of a pool that belongs to the chain (design-14: created at genesis or by a
#: committee proposal, its asset held by the custody committee's vault). Such a pool has no
#: claim key (``b""``): the custody port says which destinations its deposits and locks may pay.
COMMITTEE_OPERATOR = "committee"


@dataclass(frozen=True)
class PoolParams:
    """What a pool's operator fixes when creating it.

    ``claim_key`` is the pool's key on the asset's chain, in the chain's key form (its
    profile's ``binding.key_len``: a compressed public key, or an address user locks must name
    as claimer). ``obligation_blocks`` is how many ETM blocks the operator has to pay an
    external-asset withdrawal; ``min_confirmations`` is the depth a foreign lock or deposit
    needs before the pool acts on it. ``min_withdrawal`` is the least asset (base units) one
    withdrawal may pay out; the chain's floor (``obligations.withdrawal_floor``: above dust
    plus the payment's fee) applies when it is lower, so 0 means "the floor".
    """

    asset: str
    operator: str
    claim_key: bytes
    fee_ppm: int = 3_000
    obligation_blocks: int = 8_640
    min_confirmations: int = 6
    min_withdrawal: int = 0

    def __post_init__(self) -> None:
        if not self.asset or self.asset != self.asset.lower() or self.asset == "etm":
            raise ExchangeError(Reason.BAD_PARAMETER, f"bad pool asset {self.asset!r}")
        if not self.operator:
            raise ExchangeError(Reason.BAD_PARAMETER, "pool operator address is empty")
        committee = self.operator == COMMITTEE_OPERATOR and self.claim_key == b""
        if not isinstance(self.claim_key, bytes) or not (
            committee or 20 <= len(self.claim_key) <= 65
        ):
            raise ExchangeError(Reason.BAD_PARAMETER, "claim_key must be 20..65 bytes")
        if not 0 <= require_amount(self.fee_ppm, "fee_ppm", positive=False) <= MAX_FEE_PPM:
            raise ExchangeError(Reason.BAD_PARAMETER, f"fee_ppm must be <= {MAX_FEE_PPM}")
        require_amount(self.obligation_blocks, "obligation_blocks")
        require_amount(self.min_confirmations, "min_confirmations")
        if require_amount(self.min_withdrawal, "min_withdrawal", positive=False) > MAX_ASSET_AMOUNT:
            raise ExchangeError(Reason.BAD_AMOUNT, "min_withdrawal must fit a u128")


@dataclass(frozen=True)
class Quote:
    """A priced swap: ``amount_in`` (fee included) buys ``amount_out``."""

    direction: PoolDirection
    amount_in: int
    fee: int
    amount_out: int


@dataclass(frozen=True)
class Mint:
    """What a deposit took and minted. ``locked_shares`` is non-zero only on the first one."""

    shares: int
    asset_in: int
    etm_in: int
    locked_shares: int = 0


@dataclass(frozen=True)
class Burn:
    """What a withdrawal burnt and paid out."""

    shares: int
    asset_out: int
    etm_out: int


@dataclass(frozen=True)
class Pool:
    """A pool's state. Reserves, reservations and pending inputs are base-unit integers."""

    params: PoolParams
    asset_reserve: int = 0
    etm_reserve: int = 0
    asset_reserved: int = 0
    etm_reserved: int = 0
    asset_pending_in: int = 0
    etm_pending_in: int = 0
    total_shares: int = 0
    fees_asset: int = 0
    fees_etm: int = 0
    defaulted_obligations: int = 0

    def __post_init__(self) -> None:
        for side in ("asset", "etm"):
            reserve = getattr(self, f"{side}_reserve")
            reserved = getattr(self, f"{side}_reserved")
            if min(reserve, reserved, getattr(self, f"{side}_pending_in")) < 0:
                raise LiquidityError(Reason.INSUFFICIENT_LIQUIDITY, f"{side} side went negative")
            if reserved > reserve:
                raise LiquidityError(Reason.INSUFFICIENT_LIQUIDITY, f"{side} reserved > reserve")
        if min(self.total_shares, self.defaulted_obligations) < 0:
            raise ExchangeError(Reason.BAD_AMOUNT, "share or default count went negative")
        for side, most in (("asset", MAX_ASSET_AMOUNT), ("etm", MAX_ETM_AMOUNT)):
            if getattr(self, f"{side}_reserve") + getattr(self, f"{side}_pending_in") > most:
                raise ExchangeError(
                    Reason.BAD_AMOUNT, f"{side} reserve plus pending inputs would pass {most}"
                )

    @property
    def halted(self) -> bool:
        """A pool with a defaulted withdrawal obligation takes no new swaps or deposits."""
        return self.defaulted_obligations > 0

    @property
    def asset_available(self) -> int:
        return self.asset_reserve - self.asset_reserved

    @property
    def etm_available(self) -> int:
        return self.etm_reserve - self.etm_reserved

    def effective_reserves(self) -> tuple[int, int]:
        """``(x, y)``: asset and ETM reserves as if every in-flight swap completes (display)."""
        x = self.asset_reserve + self.asset_pending_in - self.asset_reserved
        y = self.etm_reserve + self.etm_pending_in - self.etm_reserved
        return x, y

    def pricing_reserves(self, direction: PoolDirection) -> tuple[int, int]:
        """``(reserve_in, reserve_out)`` a new swap is priced on: the worst case for the swapper.

        The input side counts the pending inputs of same-direction swaps and ignores the
        outputs reserved by opposite swaps (which may be cancelled); the output side counts
        the outputs reserved by same-direction swaps and ignores the pending inputs of
        opposite swaps (which may never arrive).
        """
        if direction is PoolDirection.ASSET_TO_ETM:
            return self.asset_reserve + self.asset_pending_in, self.etm_available
        return self.etm_reserve + self.etm_pending_in, self.asset_available


def _require_open(pool: Pool) -> None:
    if pool.halted:
        raise ExchangeError(
            Reason.POOL_HALTED,
            f"pool {pool.params.asset} has {pool.defaulted_obligations} defaulted "
            "withdrawal obligation(s); it takes no swaps or deposits until the operator pays",
        )


def _require_liquid(pool: Pool) -> tuple[int, int]:
    """The real reserves ``(x, y)``, which shares are priced on; an error if either is empty."""
    x, y = pool.asset_reserve, pool.etm_reserve
    if pool.total_shares == 0 or x == 0 or y == 0:
        raise ExchangeError(Reason.POOL_EMPTY, f"pool {pool.params.asset} has no liquidity")
    return x, y


def quote(pool: Pool, direction: PoolDirection, amount_in: int) -> Quote:
    """Price a swap of ``amount_in`` (fee included) without changing the pool."""
    require_amount(amount_in, "amount_in")
    _require_liquid(pool)
    reserve_in, reserve_out = pool.pricing_reserves(PoolDirection(direction))
    fee = -(-amount_in * pool.params.fee_ppm // PPM)
    net_in = amount_in - fee
    amount_out = reserve_out * net_in // (reserve_in + net_in) if reserve_out else 0
    if amount_out == 0:
        raise ExchangeError(Reason.ZERO_OUTPUT, f"{amount_in} in buys nothing after the fee")
    return Quote(PoolDirection(direction), amount_in, fee, amount_out)


def net_of(q: Quote, network_fee: int) -> Quote:
    """``q`` with ``network_fee`` taken off its output (``zero_output`` if nothing is left)."""
    if network_fee <= 0:
        return q
    if q.amount_out <= network_fee:
        raise ExchangeError(
            Reason.ZERO_OUTPUT,
            f"{q.amount_in} in buys {q.amount_out}, not more than the {network_fee} outbound "
            "network fee",
        )
    return replace(q, amount_out=q.amount_out - network_fee)


def reserve_swap(
    pool: Pool, direction: PoolDirection, amount_in: int, min_out: int, network_fee: int = 0
) -> tuple[Pool, Quote]:
    """Price a swap, check the slippage bound, and reserve its output. ``network_fee``: the
    outbound network fee a committee pool's swap-out quote is net of (the pool pays the real
    fee of its counter lock; 0 elsewhere)."""
    require_amount(min_out, "min_out", positive=False)
    _require_open(pool)
    q = net_of(quote(pool, direction, amount_in), network_fee)
    if q.amount_out < min_out:
        raise SlippageError(
            Reason.SLIPPAGE, f"pool now pays {q.amount_out}, below the minimum output {min_out}"
        )
    # priced on the unreserved output side, so amount_out < available: reserved <= reserve
    if direction is PoolDirection.ASSET_TO_ETM:
        new = replace(
            pool,
            etm_reserved=pool.etm_reserved + q.amount_out,
            asset_pending_in=pool.asset_pending_in + amount_in,
        )
    else:
        new = replace(
            pool,
            asset_reserved=pool.asset_reserved + q.amount_out,
            etm_pending_in=pool.etm_pending_in + amount_in,
        )
    return new, q


def settle_swap(pool: Pool, q: Quote) -> Pool:
    """The swap's HTLC was claimed: its output leaves, its input (fee included) arrives."""
    if q.direction is PoolDirection.ASSET_TO_ETM:
        return replace(
            pool,
            etm_reserve=pool.etm_reserve - q.amount_out,
            etm_reserved=pool.etm_reserved - q.amount_out,
            asset_pending_in=pool.asset_pending_in - q.amount_in,
            asset_reserve=pool.asset_reserve + q.amount_in,
            fees_asset=pool.fees_asset + q.fee,
        )
    return replace(
        pool,
        asset_reserve=pool.asset_reserve - q.amount_out,
        asset_reserved=pool.asset_reserved - q.amount_out,
        etm_pending_in=pool.etm_pending_in - q.amount_in,
        etm_reserve=pool.etm_reserve + q.amount_in,
        fees_etm=pool.fees_etm + q.fee,
    )


def release_swap(pool: Pool, q: Quote) -> Pool:
    """The swap was refunded or expired: drop its reservation and its pending input."""
    if q.direction is PoolDirection.ASSET_TO_ETM:
        return replace(
            pool,
            etm_reserved=pool.etm_reserved - q.amount_out,
            asset_pending_in=pool.asset_pending_in - q.amount_in,
        )
    return replace(
        pool,
        asset_reserved=pool.asset_reserved - q.amount_out,
        etm_pending_in=pool.etm_pending_in - q.amount_in,
    )


def deposit_quote(pool: Pool, asset_amount: int) -> int:
    """ETM to send with an ``asset_amount`` deposit so that nothing is donated (rounded up)."""
    require_amount(asset_amount, "asset_amount")
    x, y = _require_liquid(pool)
    return -(-asset_amount * y // x)


def add_liquidity(
    pool: Pool, asset_amount: int, etm_max: int, min_shares: int = 1
) -> tuple[Pool, Mint]:
    """Deposit ``asset_amount`` (all taken) and at most ``etm_max`` ETM for new shares."""
    require_amount(asset_amount, "asset_amount")
    require_amount(etm_max, "etm_max")
    require_amount(min_shares, "min_shares", positive=False)
    _require_open(pool)
    if pool.total_shares == 0:
        mint = _first_mint(asset_amount, etm_max)
    else:
        mint = _pro_rata_mint(pool, asset_amount, etm_max)
    if mint.shares < max(min_shares, 1):
        raise SlippageError(
            Reason.SLIPPAGE, f"deposit mints {mint.shares} shares, minimum is {min_shares}"
        )
    new = replace(
        pool,
        asset_reserve=pool.asset_reserve + mint.asset_in,
        etm_reserve=pool.etm_reserve + mint.etm_in,
        total_shares=pool.total_shares + mint.shares + mint.locked_shares,
    )
    return new, mint


def _first_mint(asset_amount: int, etm_amount: int) -> Mint:
    root = isqrt(asset_amount * etm_amount)
    if root <= MINIMUM_LIQUIDITY:
        raise ExchangeError(
            Reason.INITIAL_LIQUIDITY_TOO_SMALL,
            f"first deposit must have sqrt(asset * etm) > {MINIMUM_LIQUIDITY}, got {root}",
        )
    return Mint(root - MINIMUM_LIQUIDITY, asset_amount, etm_amount, MINIMUM_LIQUIDITY)


def _pro_rata_mint(pool: Pool, asset_amount: int, etm_max: int) -> Mint:
    shares, etm_in = pro_rata_shares(pool, asset_amount)
    if shares == 0:
        raise ExchangeError(Reason.ZERO_OUTPUT, "deposit too small to mint one share")
    if etm_max < etm_in:  # fewer shares would leave the rest of the asset as a gift
        raise ExchangeError(
            Reason.DEPOSIT_ETM_SHORT,
            f"{asset_amount} {pool.params.asset} needs {etm_in} ETM beside it; etm_max "
            f"{etm_max} would donate the rest of the asset to the pool. Resubmit the same "
            "proof with a higher etm_max",
        )
    return Mint(shares, asset_amount, etm_in)


def pro_rata_shares(pool: Pool, asset_amount: int) -> tuple[int, int]:
    """``(shares, etm_in)`` an ``asset_amount`` deposit mints now and the ETM it takes (the
    least ``etm_max`` accepted), both from the real reserves."""
    x, y = _require_liquid(pool)
    s = pool.total_shares
    shares = asset_amount * s // x
    return shares, -(-shares * y // s)


def remove_liquidity(
    pool: Pool, shares: int, owned_shares: int, min_asset: int = 0, min_etm: int = 0
) -> tuple[Pool, Burn]:
    """Burn ``shares`` of an investor owning ``owned_shares``; pay each side rounded down,
    and at least ``min_asset`` / ``min_etm`` (the investor's slippage bounds) or nothing."""
    require_amount(shares, "shares")
    require_amount(min_asset, "min_asset", positive=False)
    require_amount(min_etm, "min_etm", positive=False)
    if shares > owned_shares:
        raise ExchangeError(
            Reason.INSUFFICIENT_SHARES, f"withdrawing {shares} shares, owning {owned_shares}"
        )
    x, y, s = pool.asset_reserve, pool.etm_reserve, pool.total_shares
    asset_out, etm_out = shares * x // s, shares * y // s
    if asset_out > pool.asset_available or etm_out > pool.etm_available:
        raise LiquidityError(
            Reason.RESERVED_BY_INFLIGHT,
            f"withdrawal needs {asset_out} {pool.params.asset} and {etm_out} ETM; unreserved "
            f"now: {pool.asset_available} and {pool.etm_available}. Retry after in-flight "
            "swaps settle, or withdraw fewer shares",
        )
    if asset_out < min_asset or etm_out < min_etm:
        raise SlippageError(
            Reason.SLIPPAGE,
            f"withdrawal pays {asset_out} {pool.params.asset} and {etm_out} ETM, below the "
            f"minimums {min_asset} and {min_etm}",
        )
    new = replace(
        pool,
        asset_reserve=pool.asset_reserve - asset_out,
        etm_reserve=pool.etm_reserve - etm_out,
        total_shares=s - shares,
    )
    return new, Burn(shares, asset_out, etm_out)


def share_value_ppm(pool: Pool) -> int:
    """``sqrt(x * y) / S`` (real reserves) in millionths; 0 for an empty pool.

    Only fees (and rounding) raise it; only the documented losses lower it. LP positions use
    it to tell fees earned apart from price moves.
    """
    if pool.total_shares == 0:
        return 0
    return isqrt(pool.asset_reserve * pool.etm_reserve) * PPM // pool.total_shares


def share_value_not_lower(before: Pool, after: Pool) -> bool:
    """True if ``sqrt(x * y) / shares`` (real reserves) did not fall from before to after."""
    if before.total_shares == 0:
        return True
    xb, yb = before.asset_reserve, before.etm_reserve
    xa, ya = after.asset_reserve, after.etm_reserve
    return xa * ya * before.total_shares**2 >= xb * yb * after.total_shares**2
