"""Starting and accepting swaps: the terms, the secret, the record (use cases).

- :func:`start_pool_swap` (``swap start <chain> etm 0.01``): the counterparty is an ETM pool. It
  reads the pool and the user's binding, pins the quote (the counter leg's amount is the minimum
  output: the pool's current output less ``slippage_bps``, or the user's ``min_out``), records
  the swap intent on ETM for a swap in (so anyone may submit the proof with that minimum) and
  waits for its block. The intent also reserves the swap's hashlock for the user
  (``exchange.hashlocks``) *before* anything is locked: if someone used or reserved that
  hashlock first, the intent is refused while nothing is at stake and a new secret is drawn
  (up to :data:`SECRET_ATTEMPTS` times), so nobody can strand the user's lock. The intent also
  reserves the quoted output against a bond (issue 15, ``exchange.intents``): a quote the pool
  can no longer give (``slippage``: another swap took it) is refused here, before the lock.
- :func:`start_direct_swap`: the counterparty is a person (their keys given), who runs
  :func:`accept_swap` on the printed terms; both then watch.

Either way the user's record (with the secret) is written to the party's swap database and the
watcher does the rest. Secrets, swap ids and the time come from the :class:`AppContext`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..adapter import ChainAdapter
from ..chains.registry import chain_registry
from ..errors import ConfigError, SwapError, TxRejectedError, ValidationError
from ..hashlock import blocks_for_seconds, check_leg_margin
from ..swaps.core.codec import terms_from_dict, terms_to_dict
from ..swaps.core.fsm import Role, SwapDirection
from ..swaps.core.model import LegTerms, SwapRecord, SwapTerms
from ..swaps.core.policy import PolicyConfig
from ..swaps.core.pool_terms import LegChain, PoolInfo, swap_in_terms, swap_out_terms
from ..units import display_amount as units_display
from ..units import parse_amount
from .context import AppContext

#: A swap intent refused for these reasons leaves nothing locked: start again with a new secret.
HASHLOCK_TAKEN = frozenset({"hashlock_used", "hashlock_reserved"})
SECRET_ATTEMPTS = 3


@dataclass(frozen=True)
class StartedSwap:
    """A swap we started: our record (written to the database) and, through a pool, the
    node's quote it pinned."""

    record: SwapRecord
    quote: dict[str, Any] | None = None


def chain_name(configured: Iterable[str], value: str) -> str:
    """The configured chain a user means: its name as configured (a config.toml may name its
    chains by their tickers), else the chain a ticker or alias stands for, else ``value``
    lowercased (for the engine to refuse)."""
    return chain_registry().resolve(value, configured)


def amount_field(ctx: AppContext, chain: str, value: int) -> dict[str, str]:
    """An amount on leg ``chain`` under ``--json``: ``{"base_units": "<integer string>",
    "display": "0.5 <SYMBOL>"}``. Never a bare integer: 18-decimal amounts exceed 2**53, which
    a JavaScript (or any double-based) JSON reader rounds."""
    return {"base_units": str(value), "display": display_amount(ctx, chain, value)}


def terms_json(terms: SwapTerms, ctx: AppContext) -> dict[str, Any]:
    """The terms as the JSON ``swap start`` prints and ``swap accept`` reads: each leg's
    ``amount`` is an :func:`amount_field`."""
    data = terms_to_dict(terms)
    for key, leg in (("user_leg", terms.user_leg), ("counter_leg", terms.counter_leg)):
        data[key]["amount"] = amount_field(ctx, leg.chain, leg.amount)
    return data


def quote_json(ctx: AppContext, sq: Any) -> dict[str, Any]:
    """A pre-flight quote (``app.quotes.SwapQuote``) under ``--json``: amounts as
    :func:`amount_field` (``amount_in``, ``pool_fee``: FROM's; ``amount_out``: TO's;
    ``intent_bond``: ETM's, None without ETM; each leg's ``network_fee`` and ``refund_fee``: its
    chain's)."""
    data = sq.to_json()
    data["amount_in"] = amount_field(ctx, sq.from_chain, sq.amount_in)
    data["pool_fee"] = amount_field(ctx, sq.from_chain, sq.pool_fee)
    data["amount_out"] = amount_field(ctx, sq.to_chain, sq.amount_out)
    etm = ctx.etm_name_or_none()  # a direct swap may run with no ETM configured: no bond
    data["intent_bond"] = amount_field(ctx, etm, sq.intent_bond) if etm else None
    for leg in data["legs"]:
        for key in ("network_fee", "refund_fee"):
            leg[key] = amount_field(ctx, leg["chain"], int(leg[key]))
    return data


def pool_quote_json(
    ctx: AppContext, from_chain: str, to_chain: str, quote: Mapping[str, Any]
) -> dict[str, Any]:
    """The node's pool quote a swap pinned, its amounts as :func:`amount_field` (``amount_in``
    and ``fee`` in FROM units, ``amount_out`` in TO units, ``intent_bond`` in ETM's); other
    fields as the node said."""
    units = {"amount_in": from_chain, "fee": from_chain, "amount_out": to_chain,
             "intent_bond": ctx.etm_name()}  # fmt: skip
    return {k: amount_field(ctx, units[k], int(v)) if k in units and v is not None else v
            for k, v in quote.items()}  # fmt: skip


def _base_units(value: Any, where: str) -> int:
    """A leg amount as ``swap start --json`` printed it (an :func:`amount_field`, or the
    integer of terms printed before amounts were strings)."""
    if isinstance(value, Mapping):
        value = value.get("base_units")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise ValidationError(f"{where}: amount must be {{\"base_units\": \"<digits>\", ...}}, "
                          f"got {value!r}")  # fmt: skip


def terms_of_json(data: Mapping[str, Any]) -> SwapTerms:
    """Terms from ``swap start --json`` output (the whole object, or its ``terms``)."""
    raw = data.get("terms", data)
    if not isinstance(raw, Mapping):
        raise ValidationError("the terms file has no terms object (use `swap start --json` output)")
    terms = dict(raw)
    for key in ("user_leg", "counter_leg"):
        leg = terms.get(key)
        if isinstance(leg, Mapping) and "amount" in leg:
            terms[key] = {**leg, "amount": _base_units(leg["amount"], key)}
    return terms_from_dict(terms)


# --- amounts --------------------------------------------------------------------------------


def asset_of_leg(ctx: AppContext, chain: str) -> str | None:
    """The asset whose units amounts on leg ``chain`` are in (None: base units)."""
    if chain == ctx.etm_name_or_none():
        return "etm"
    try:
        return ctx.foreign(chain).ticker
    except ConfigError:  # a leg without a chain record (a fake chain): base units
        return None


def parse_leg_amount(ctx: AppContext, chain: str, text: str) -> int:
    """A decimal amount in the leg's asset (``0.01``), or base units for other assets."""
    asset = asset_of_leg(ctx, chain)
    if asset is not None:
        return parse_amount(text, asset)
    if not text.isdigit() or int(text) <= 0:
        raise ValidationError(f"amount on {chain!r} must be a positive integer of base units")
    return int(text)


def display_amount(ctx: AppContext, chain: str, value: int) -> str:
    asset = asset_of_leg(ctx, chain)
    return units_display(value, asset) if asset is not None else f"{value} base units"


def leg_chain(ctx: AppContext, name: str) -> LegChain:
    """Leg ``name`` as the terms need it: its tip and nominal block time, now."""
    return chain_of(name, ctx.adapter(name))


def chain_of(name: str, adapter: ChainAdapter) -> LegChain:
    """Leg ``name`` on ``adapter`` as swap terms need it: its tip and nominal block time."""
    return LegChain(name, adapter.tip().height, adapter.info().block_time_s)


def operator_chain_of(name: str, adapter: ChainAdapter) -> LegChain:
    """A pool's foreign chain as its operator sizes counter locks on it: the block time is the
    slower of the nominal one and the recent spacing (``recent_block_time_s``). At the nominal
    rate a swap out's lock of 35 blocks outlived the user's 12 h ETM lock whenever blocks came
    21 minutes apart: the user claimed it after the ETM deadline and refunded the ETM too (after
    a hash-rate drop to 15-minute blocks, about 1 swap in 50; at 18 minutes, 1 in 5; review
    a11b). Measured, the lock lasts its hours at the rate blocks actually come."""
    nominal = adapter.info().block_time_s
    return LegChain(name, adapter.tip().height, max(nominal, adapter.recent_block_time_s() or 0))


# --- pool swaps ---------------------------------------------------------------------------------


def _check_bound(ctx: AppContext, asset: str, foreign_key: bytes) -> None:
    ex = ctx.exchange()
    address = ex.etm_address()
    if ex.bound_key(address, asset) != foreign_key:
        raise SwapError(
            f"{address} has not bound this wallet's {asset} key on ETM: the pool refunds and "
            f"pays only the bound key (run `etm-bridge bind --chain {asset}` first)"
        )


def _pinned_min_out(offered: int, min_out: int | None, slippage_bps: int, asset: str) -> int:
    if not 0 <= slippage_bps < 10_000:
        raise SwapError(f"slippage must be 0..9999 basis points, got {slippage_bps}")
    wanted = offered * (10_000 - slippage_bps) // 10_000 if min_out is None else min_out
    if wanted > offered or wanted <= 0:
        raise SwapError(f"the {asset} pool pays {offered} base units now, not {wanted}: "
                        "lower --receive or wait")  # fmt: skip
    return wanted


def start_pool_swap(
    ctx: AppContext,
    from_chain: str,
    to_chain: str,
    amount_in: int,
    *,
    min_out: int | None = None,
    slippage_bps: int = 50,
    lock_within_s: int = 3600,
    fee_rate: int | None = None,
) -> StartedSwap:
    """Swap ``amount_in`` (base units of ``from_chain``) through the ETM pool of the other
    chain; one of the chains must be ETM. Returns our record (written) and the quote.
    ``fee_rate``: the user's own rate for our lock and refund (``--fee-rate``)."""
    started = pool_swap_record(ctx, from_chain, to_chain, amount_in, min_out=min_out,
                               slippage_bps=slippage_bps, lock_within_s=lock_within_s)  # fmt: skip
    started = replace(started, record=replace(started.record, fee_rate=fee_rate))
    ctx.store().create(started.record)
    return started


def pool_swap_record(
    ctx: AppContext,
    from_chain: str,
    to_chain: str,
    amount_in: int,
    *,
    min_out: int | None = None,
    slippage_bps: int = 50,
    lock_within_s: int = 3600,
) -> StartedSwap:
    """:func:`start_pool_swap` up to the record, which is not written (the caller's store
    keeps it): the quote pinned, the intent recorded on ETM for a swap in."""
    ctx.adapters([from_chain, to_chain])  # a bad chain table fails before the passphrase
    etm_name = ctx.etm_name()
    if etm_name not in (from_chain, to_chain) or from_chain == to_chain:
        raise SwapError(f"a pool swap goes between ETM ({etm_name}) and another chain")
    foreign_name = to_chain if from_chain == etm_name else from_chain
    asset = ctx.foreign(foreign_name).ticker
    ex = ctx.exchange()
    pool = ex.pool_info(asset)
    foreign, etm = ctx.adapter(foreign_name), ctx.etm_leg()
    _check_bound(ctx, asset, foreign.our_key())
    swap_in = to_chain == etm_name
    quote = ex.quote(asset, "asset_to_etm" if swap_in else "etm_to_asset", amount_in)
    wanted = _pinned_min_out(int(quote["amount_out"]), min_out, slippage_bps, asset)
    build = swap_in_terms if swap_in else swap_out_terms
    # swap out: the operator's lock must be as deep as the relay's policy asks for its value
    # before we claim it (reveal); the quote sizes it on the offered output (>= ours)
    depth = {} if swap_in else {"counter_confirmations": _depth_of(quote)}
    for attempt in range(1, SECRET_ATTEMPTS + 1):
        preimage, hashlock, swap_id = ctx.new_swap()
        now = ctx.now()
        terms = build(
            swap_id, hashlock, pool, leg_chain(ctx, foreign_name), leg_chain(ctx, etm_name),
            amount_in=amount_in, min_out=wanted, user_foreign_key=foreign.our_key(),
            user_etm_address20=etm.our_key(), now_s=now, lock_within_s=lock_within_s, **depth,
        )  # fmt: skip
        if swap_in:
            try:  # reserve the hashlock before anything is locked (exchange.hashlocks)
                ex.record_intent(asset, hashlock, amount_in, wanted)
            except TxRejectedError as exc:
                if exc.reason in HASHLOCK_TAKEN and attempt < SECRET_ATTEMPTS:
                    continue  # someone used or reserved it first: nothing is locked, new secret
                raise _intent_refused(asset, exc) from None
        record = SwapRecord(terms, Role.USER, preimage=preimage, updated_at_s=now)
        return StartedSwap(record, quote)
    raise AssertionError("unreachable")  # the loop returns or raises


def _intent_refused(asset: str, exc: TxRejectedError) -> SwapError:
    """The pool refused our bonded intent (issue 15): nothing is locked or recorded."""
    return SwapError(
        f"the {asset} pool refused the swap intent ({exc.reason}): {exc.detail}. Nothing was "
        "locked or recorded: quote again (`etm-bridge swap quote`) and start again"
    )


def _depth_of(quote: Mapping[str, Any]) -> int:
    """The confirmations a quote's ``depth`` names (1 from a node that names none)."""
    depth = quote.get("depth")
    return int(depth["confirmations"]) if isinstance(depth, Mapping) else 1


# --- direct swaps -------------------------------------------------------------------------------


def check_counter_leg(short_s: int, policy: PolicyConfig) -> None:
    """Refuse terms whose counter lock our own reveal guard would never claim: shorter than
    the policy's ``min_counter_lock_s``, or no longer than its reveal margin."""
    need = max(policy.min_counter_lock_s, policy.reveal_margin_s + 1)
    if short_s < need:
        raise ValidationError(
            f"--counter-hours {short_s / 3600:g} is too short: we reveal the secret only on a "
            f"counter lock of at least {policy.min_counter_lock_s / 3600:g} h "
            f"(min_counter_lock_s) with {policy.reveal_margin_s / 3600:g} h left "
            "(reveal_margin_s); raise --counter-hours or lower them in config.toml [policy]"
        )


def start_direct_swap(
    ctx: AppContext,
    from_chain: str,
    to_chain: str,
    amount: int,
    receive: int,
    *,
    their_claim_key: bytes,
    their_refund_key: bytes,
    hours: float = 12.0,
    counter_hours: float = 6.0,
    confirmations: int = 1,
    counter_confirmations: int = 1,
    reveal_margin_blocks: int = 6,
    lock_within_s: int = 3600,
    leg_margin_s: int | None = None,
    unclaimable_counter_leg: bool = False,
    fee_rate: int | None = None,
) -> StartedSwap:
    """Offer ``amount`` on ``from_chain`` for ``receive`` on ``to_chain`` to a counterparty whose
    keys are given: we lock the long leg (``hours``), they lock the short one
    (``counter_hours``) to us (the ``etm_to_foreign`` table: a direct counter lock, for any pair
    of chains). ``unclaimable_counter_leg``: allow a counter leg our reveal guard would never
    claim (the demo's offer that is never taken up)."""
    policy = ctx.policy
    long_s, short_s = int(hours * 3600), int(counter_hours * 3600)
    margin = policy.leg_margin_s if leg_margin_s is None else leg_margin_s
    check_leg_margin(long_s, short_s, margin)
    if not unclaimable_counter_leg:
        check_counter_leg(short_s, policy)
    adapters = ctx.adapters([from_chain, to_chain])
    ours, theirs = adapters[from_chain], adapters[to_chain]
    user_timelock = ours.tip().height + blocks_for_seconds(long_s, ours.info().block_time_s)
    counter_timelock = theirs.tip().height + blocks_for_seconds(short_s, theirs.info().block_time_s)
    preimage, hashlock, swap_id = ctx.new_swap()
    now = ctx.now()
    terms = SwapTerms(
        swap_id=swap_id,
        direction=SwapDirection.ETM_TO_FOREIGN,
        hashlock=hashlock,
        user_leg=LegTerms(
            from_chain, amount, their_claim_key, ours.our_key(), user_timelock, confirmations
        ),
        counter_leg=LegTerms(
            to_chain,
            receive,
            theirs.our_key(),
            their_refund_key,
            counter_timelock,
            counter_confirmations,
        ),
        created_at_s=now,
        lock_deadline_s=now + lock_within_s,
        reveal_margin_blocks=reveal_margin_blocks,
    )
    record = SwapRecord(terms, Role.USER, preimage=preimage, updated_at_s=now, fee_rate=fee_rate)
    ctx.store().create(record)
    return StartedSwap(record)


# --- accepting ----------------------------------------------------------------------------------

#: The form of the operator's record ids of pool swaps (``swaps.core.ids.operator_swap_id``).
_POOL_RECORD_ID = re.compile(r"^[0-9a-f]{64}$")


def refuse_colliding_direct_swap(
    terms: SwapTerms, pools: Iterable[PoolInfo], known_hashlocks: Iterable[bytes]
) -> None:
    """Raise :class:`SwapError` unless the operator may accept these direct-swap terms next to
    the pools it operates (review a11a, docs/security.md). Refused:

    - a lock we would claim with a pool's claim key: the same lock (same key, hashlock and
      terms) could also be proven to the pool as a swap in, and the user, knowing the secret,
      would claim both our counter lock and the pool's ETM while we can claim the one lock
      once. Direct swaps need another wallet (another engine home);
    - a swap id of the form the operator's pool records use (64 lowercase hex digits, an ETM
      HTLC id anyone can compute before the swap in exists): the follower would take that
      record for the pool swap's and never follow the pool swap;
    - a hashlock one of our swaps already has: a secret revealed for one would open the other.
    """
    claim = terms.user_leg.claim_key
    shared = sorted(p.asset for p in pools if p.claim_key == claim)
    if shared:
        raise SwapError(
            f"these terms have us claim with {claim.hex()}, the claim key of the ETM "
            f"{', '.join(shared)} pool we operate: a lock paying it could be paid out twice "
            "(once here, once by the pool). Accept direct swaps with another wallet (home)"
        )
    if _POOL_RECORD_ID.match(terms.swap_id):
        raise SwapError(
            f"swap id {terms.swap_id} has the form of a pool swap's record (an ETM HTLC id): "
            "ask for terms with another id (`swap start` makes 16 hex digits)"
        )
    if terms.hashlock in set(known_hashlocks):
        raise SwapError(
            f"we already have a swap with hashlock {terms.hashlock.hex()}: a hashlock serves "
            "one swap (its secret, once revealed, would open the other)"
        )


def accept_swap(ctx: AppContext, terms: SwapTerms) -> SwapRecord:
    """Accept a direct swap as the counterparty (operator): the terms must let us claim the
    user's lock and refund ours, and must not collide with the pools we operate."""
    user_chain, counter_chain = terms.user_leg.chain, terms.counter_leg.chain
    adapters = ctx.adapters([user_chain, counter_chain])
    if adapters[user_chain].our_key() != terms.user_leg.claim_key:
        raise SwapError(f"these terms do not let us claim the {user_chain} lock")
    if adapters[counter_chain].our_key() != terms.counter_leg.refund_key:
        raise SwapError(f"these terms do not refund our {counter_chain} lock to us")
    store = ctx.store()
    etm = ctx.etm_name_or_none()
    pools = [PoolInfo.from_api(p) for p in ctx.node().pools()] if etm is not None else []
    refuse_colliding_direct_swap(terms, pools, (r.terms.hashlock for r in store.list_swaps()))
    record = SwapRecord(terms, Role.OPERATOR, updated_at_s=ctx.now())
    store.create(record)
    return record
