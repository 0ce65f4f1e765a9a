"""``etm-bridge swap start|accept|list|status|explain|claim|refund``: swaps from the command line.

A swap is agreed between two engines: the user runs ``swap start FROM TO AMOUNT`` (it makes the
secret and prints the terms), the counterparty (the pool operator) runs ``swap accept`` on those
terms. Both then run ``etm-bridge watch``, which drives the swap to its end; ``claim`` and
``refund`` act by hand through the same policy and guards (and refuse while a watcher holds the
database). Chains, keys, policy and the database (``<home>/swaps.db``) come from the config
(:mod:`etm_bridge.config`: ``[chains.<name>]``, ``[etm]``, ``[policy]``); the keystore
passphrase from ``--passphrase-env NAME``, ``$ETM_BRIDGE_PASSPHRASE`` or a prompt.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import click

from etm_bridge.adapter import ChainAdapter
from etm_bridge.adapters_registry import create_adapter
from etm_bridge.app.swaps import (
    make_gateway,
    refuse_colliding_direct_swap,
    start_pool_swap,
)
from etm_bridge.config import ETM, Config
from etm_bridge.errors import SwapError, ValidationError
from etm_bridge.hashlock import blocks_for_seconds, check_leg_margin, sha256
from etm_bridge.node.client import NodeClient
from etm_bridge.swaps.core.codec import public_view, terms_from_dict, terms_to_dict
from etm_bridge.swaps.core.explain import timeline
from etm_bridge.swaps.core.fsm import Role, SwapDirection
from etm_bridge.swaps.core.model import ActionKind, LegTerms, SwapRecord, SwapTerms
from etm_bridge.swaps.core.policy import PolicyConfig
from etm_bridge.swaps.core.pool_terms import PoolInfo
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.swaps.runtime.watcher import Watcher, WatcherConfig
from etm_bridge.testing.preimages import new_preimage
from etm_bridge.units import UNITS, format_amount, parse_amount

from .context import get_config, swaps_db_note, unlock_wallet
from .options import common_options, json_option, passphrase_option

CHAIN_ASSETS = {"bitcoin": "btc", "btc": "btc", "ethereum": "eth", "eth": "eth", "etm": "etm"}


def engine_options(func: Any) -> Any:
    """The config options (``--home`` ...) and ``--passphrase-env`` of a swap engine verb."""
    return common_options(passphrase_option(func))


# --- shared with `etm-bridge watch` -------------------------------------------------------------


def open_store(config: Config) -> SwapStore:
    """The home's swap database (pointing out swaps left in the old default home)."""
    swaps_db_note(config)
    return SwapStore(config.home.swaps_db)


def open_adapters(config: Config, only: list[str] | None = None) -> dict[str, ChainAdapter]:
    """Adapters for the configured chains (or those in ``only``), signing with the wallet's
    keys. Each chain's options are checked before the passphrase is asked."""
    names = only or list(config.swap_chains())
    for name in names:
        config.chain_options(name)  # an unknown chain or a bad value fails before the prompt
    wallet = unlock_wallet(config)
    adapters: dict[str, ChainAdapter] = {}
    for name in names:
        kind, options = config.adapter_options(name, wallet)
        adapters[name] = create_adapter(kind, options)
    return adapters


def make_watcher(
    config: Config, adapters: dict[str, ChainAdapter], operator: bool = False
) -> Watcher:
    """The watcher over ``adapters``; with ETM configured, pool swaps go through its node (a
    pool ``operator`` relays Ethereum headers with its ETM key, a trusted relayer's)."""
    watcher_config = WatcherConfig(policy=config.policy)
    gateway = make_gateway(adapters, trusted_relayer=operator)
    return Watcher(open_store(config), adapters, gateway=gateway, config=watcher_config)


def show_amount(chain: str, value: int) -> str:
    asset = CHAIN_ASSETS.get(chain)
    return format_amount(value, asset) if asset in UNITS else f"{value} base units"


def emit(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else text)


def _amount(text: str, chain: str, adapter: ChainAdapter) -> int:
    """A decimal amount in the chain's asset (``0.01``), or base units for other assets."""
    asset = CHAIN_ASSETS.get(chain) or adapter.info().asset.lower()
    if asset in UNITS:
        return parse_amount(text, asset)
    if not text.isdigit() or int(text) <= 0:
        raise ValidationError(f"amount on {chain!r} must be a positive integer of base units")
    return int(text)


def _key(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise ValidationError(f"{what} must be hex, got {text!r}") from None


# --- verbs --------------------------------------------------------------------------------------


@click.group("swap")
def group() -> None:
    """Swap between chains with HTLCs: start, accept, follow, claim, refund."""


#: Asset tickers users type for the chains the engine names (``swap start btc etm 0.01``).
CHAIN_ALIASES = {"btc": "bitcoin", "eth": "ethereum"}


def chain_name(configured: Iterable[str], value: str) -> str:
    """The configured chain a user means: its name as configured (a config.toml may name its
    chains ``btc``), else the chain an asset ticker stands for (``btc`` -> ``bitcoin``)."""
    names = set(configured)
    if value in names:
        return value
    lowered = value.lower()
    return lowered if lowered in names else CHAIN_ALIASES.get(lowered, lowered)


@group.command("start")
@click.argument("from_chain")
@click.argument("to_chain")
@click.argument("amount")
@click.option("--receive", default=None, help="Minimum to receive on TO_CHAIN (pool: quote).")
@click.option("--their-claim-key", default=None, help="Direct swap: their FROM_CHAIN key (hex).")
@click.option("--their-refund-key", default=None, help="Direct swap: their TO_CHAIN key (hex).")
@click.option("--slippage-bps", default=50, show_default=True, help="Pool: below the quote.")
@click.option("--hours", default=12.0, show_default=True, help="Life of our lock (long leg).")
@click.option("--counter-hours", default=6.0, show_default=True, help="Life of their lock.")
@click.option("--confirmations", default=1, show_default=True, help="Needed on our lock.")
@click.option("--counter-confirmations", default=1, show_default=True, help="Needed on theirs.")
@click.option("--reveal-margin-blocks", default=6, show_default=True, help="Of TO_CHAIN.")
@click.option("--lock-within-s", default=3600, show_default=True, help="Lock deadline.")
@engine_options
@json_option
def start_command(
    from_chain: str,
    to_chain: str,
    amount: str,
    receive: str | None,
    their_claim_key: str | None,
    their_refund_key: str | None,
    slippage_bps: int,
    hours: float,
    counter_hours: float,
    confirmations: int,
    counter_confirmations: int,
    reveal_margin_blocks: int,
    lock_within_s: int,
    as_json: bool,
) -> None:
    """Start a swap of AMOUNT on FROM_CHAIN for TO_CHAIN (we make the secret).

    Without counterparty keys, one chain being ETM: through the ETM pool at its current quote
    (`swap start btc etm 0.01`); `watch` then drives it. With --their-claim-key,
    --their-refund-key and --receive: a direct swap; the counterparty locks TO_CHAIN to us
    itself (`swap accept` + `watch` on its side).
    """
    config = get_config()
    from_chain, to_chain = (chain_name(config.swap_chains(), c) for c in (from_chain, to_chain))
    if their_claim_key is None and their_refund_key is None:
        _start_pool(config, from_chain, to_chain, amount, receive, slippage_bps, as_json)
        return
    if their_claim_key is None or their_refund_key is None or receive is None:
        raise ValidationError(
            "a direct swap needs --receive, --their-claim-key and --their-refund-key "
            "(leave all three out to use the ETM pool)"
        )
    long_s, short_s = int(hours * 3600), int(counter_hours * 3600)
    check_leg_margin(long_s, short_s, config.policy.leg_margin_s)
    _check_counter_leg(short_s, config.policy)
    adapters = open_adapters(config, [from_chain, to_chain])
    ours, theirs = adapters[from_chain], adapters[to_chain]
    user_timelock = ours.tip().height + blocks_for_seconds(long_s, ours.info().block_time_s)
    # The counterparty locks TO_CHAIN itself (the `etm_to_foreign` table: a direct counter
    # lock, for any pair of chains). Swaps through an ETM pool, where the exchange contract
    # makes the counter lock from an SPV proof, need the ETM exchange gateway (not yet here).
    counter_timelock = theirs.tip().height + blocks_for_seconds(short_s, theirs.info().block_time_s)
    preimage, now = new_preimage(), int(time.time())
    hashlock = sha256(preimage)
    terms = SwapTerms(
        swap_id=hashlock.hex()[:16],
        direction=SwapDirection.ETM_TO_FOREIGN,
        hashlock=hashlock,
        user_leg=LegTerms(
            from_chain,
            _amount(amount, from_chain, ours),
            _key(their_claim_key, "--their-claim-key"),
            ours.our_key(),
            user_timelock,
            confirmations,
        ),
        counter_leg=LegTerms(
            to_chain,
            _amount(receive, to_chain, theirs),
            theirs.our_key(),
            _key(their_refund_key, "--their-refund-key"),
            counter_timelock,
            counter_confirmations,
        ),
        created_at_s=now,
        lock_deadline_s=now + lock_within_s,
        reveal_margin_blocks=reveal_margin_blocks,
    )
    store = open_store(config)
    store.create(SwapRecord(terms, Role.USER, preimage=preimage, updated_at_s=now))
    shared = {"terms": terms_to_dict(terms)}
    text = (
        f"swap {terms.swap_id} created: lock {show_amount(from_chain, terms.user_leg.amount)} "
        f"on {from_chain} until height {user_timelock} for "
        f"{show_amount(to_chain, terms.counter_leg.amount)} on {to_chain}\n"
        "give the counterparty these terms (`etm-bridge swap accept FILE`), then run "
        "`etm-bridge watch`:\n" + json.dumps(shared, sort_keys=True)
    )
    emit({"swap_id": terms.swap_id, **shared}, as_json, text)


def _check_counter_leg(short_s: int, policy: PolicyConfig) -> None:
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


def _start_pool(
    config: Config, from_chain: str, to_chain: str, amount: str, receive: str | None,
    slippage_bps: int, as_json: bool,
) -> None:  # fmt: skip
    adapters = open_adapters(config, [from_chain, to_chain])
    amount_in = _amount(amount, from_chain, adapters[from_chain])
    min_out = None if receive is None else _amount(receive, to_chain, adapters[to_chain])
    rec, quote = start_pool_swap(
        adapters, from_chain, to_chain, amount_in, min_out=min_out, slippage_bps=slippage_bps
    )
    open_store(config).create(rec)
    t = rec.terms
    text = (
        f"swap {t.swap_id} through the ETM pool: lock {show_amount(from_chain, t.user_leg.amount)}"
        f" on {from_chain} until height {t.user_leg.timelock_height} for at least "
        f"{show_amount(to_chain, t.counter_leg.amount)} on {to_chain} (quote "
        f"{show_amount(to_chain, int(quote['amount_out']))}, fee "
        f"{show_amount(from_chain, int(quote['fee']))}); run `etm-bridge watch`"
    )
    data = {"swap_id": t.swap_id, "pool": True, "quote": quote, "terms": terms_to_dict(t)}
    emit(data, as_json, text)


@group.command("accept")
@click.argument("terms_file", type=click.File("r"))
@engine_options
@json_option
def accept_command(terms_file: Any, as_json: bool) -> None:
    """Accept a swap as the counterparty (operator) from the terms `swap start` printed."""
    try:
        data = json.load(terms_file)
    except ValueError:
        raise ValidationError(
            "the terms file is not JSON (use `swap start --json` output)"
        ) from None
    terms = terms_from_dict(data.get("terms", data))
    config = get_config()
    adapters = open_adapters(config, [terms.user_leg.chain, terms.counter_leg.chain])
    if adapters[terms.user_leg.chain].our_key() != terms.user_leg.claim_key:
        raise SwapError(f"these terms do not let us claim the {terms.user_leg.chain} lock")
    if adapters[terms.counter_leg.chain].our_key() != terms.counter_leg.refund_key:
        raise SwapError(f"these terms do not refund our {terms.counter_leg.chain} lock to us")
    store = open_store(config)
    refuse_colliding_direct_swap(
        terms, _our_pools(config), (r.terms.hashlock for r in store.list_swaps())
    )
    store.create(SwapRecord(terms, Role.OPERATOR, updated_at_s=int(time.time())))
    emit({"swap_id": terms.swap_id, "role": "operator"}, as_json, f"accepted {terms.swap_id}")


def _our_pools(config: Config) -> list[PoolInfo]:
    """The ETM pools, if an ETM node is configured (whose claim keys a direct swap must not
    claim with: ``refuse_colliding_direct_swap``); none without one."""
    legs = [config.chain_options(n)[1] for n in config.swap_chains() if config.adapter_of(n) == ETM]
    urls = [str(options["url"]) for options in legs if options.get("url")]
    return [PoolInfo.from_api(p) for url in urls for p in NodeClient(url).pools()]


@group.command("list")
@engine_options
@json_option
def list_command(as_json: bool) -> None:
    """Every swap in the database, oldest first."""
    records = open_store(get_config()).list_swaps()
    rows = [_summary(r) for r in records]
    lines = [
        f"{r['swap_id']}  {r['role']:<8} {r['state']:<15} {r['gives']} -> {r['gets']}" for r in rows
    ]
    emit(rows, as_json, "\n".join(lines) or "no swaps yet (`etm-bridge swap start`)")


def _summary(rec: SwapRecord) -> dict[str, Any]:
    u, c = rec.terms.user_leg, rec.terms.counter_leg
    return {
        "swap_id": rec.swap_id,
        "hashlock": rec.terms.hashlock.hex(),  # ties a pool operator's record to the user's
        "role": rec.role.value,
        "direction": rec.terms.direction.value,
        "state": rec.state.value,
        "failure": rec.failure,
        "gives": show_amount(u.chain, u.amount) + f" on {u.chain}",
        "gets": show_amount(c.chain, c.amount) + f" on {c.chain}",
        "updated_at_s": rec.updated_at_s,
    }


@group.command("status")
@click.argument("swap_id")
@engine_options
@json_option
def status_command(swap_id: str, as_json: bool) -> None:
    """One swap: state, terms, every broadcast and the transition log."""
    store = open_store(get_config())
    rec = store.get(swap_id)
    log = [
        {
            "from": t.from_state.value,
            "event": t.event.value,
            "to": t.to_state.value,
            "detail": t.detail,
            "at_s": t.at_s,
        }
        for t in store.transitions(swap_id)
    ]
    data = {**public_view(rec), "transitions": log}
    lines = [f"{k}: {v}" for k, v in _summary(rec).items()]
    lines += [f"  {t['from']} --{t['event']}--> {t['to']} {t['detail']}" for t in log]
    lines += [
        f"  broadcast {i.kind.value}: "
        f"{i.result.outcome.value + ' ' + (i.result.txid or '') if i.result else 'pending'}"
        for i in rec.intents
    ]
    emit(data, as_json, "\n".join(lines))


@group.command("explain")
@click.argument("swap_id")
@click.option("--offline", is_flag=True, help="Do not ask the nodes; explain from the terms.")
@engine_options
@json_option
def explain_command(swap_id: str, offline: bool, as_json: bool) -> None:
    """Worst-case timeline of both legs and the actions possible now."""
    config = get_config()
    rec = open_store(config).get(swap_id)
    view = plan = None
    if not offline:
        chains = [rec.terms.user_leg.chain, rec.terms.counter_leg.chain]
        watcher = make_watcher(config, open_adapters(config, chains))
        rec, obs, plan = watcher.inspect(rec)
        view = obs.view
    data = timeline(rec, view, plan, int(time.time()))
    lines = [f"swap {rec.swap_id} ({data['role']}, {data['direction']}): {data['state']}"]
    for leg in data["legs"]:
        left = leg.get("blocks_left")
        when = (
            f", {left} blocks (~{leg['seconds_left'] // 60} min) left" if left is not None else ""
        )
        lines.append(
            f"  {leg['leg']}: {show_amount(leg['chain'], leg['amount'])} on {leg['chain']}, "
            f"timelock {leg['timelock_height']}{when}, "
            f"confirmations {leg.get('confirmations', '?')}/{leg['confirmations_required']}"
        )
    lines += [f"  worst case: {w}" for w in data["worst_case"]]
    lines.append(f"  actions now: {', '.join(data['actions_now']) or 'none'}")
    lines += [f"  waiting: {n}" for n in data["waiting_for"]]
    emit(data, as_json, "\n".join(lines))


def _act(swap_id: str, kinds: set[ActionKind], verb: str, as_json: bool) -> None:
    config = get_config()
    rec = open_store(config).get(swap_id)
    chains = [rec.terms.user_leg.chain, rec.terms.counter_leg.chain]
    watcher = make_watcher(config, open_adapters(config, chains))
    watcher.start()  # refuses while `etm-bridge watch` holds the database
    try:
        rec, done, notes = watcher.drive(swap_id, kinds)
    finally:
        watcher.stop()
    if not done:
        raise SwapError(f"swap {swap_id}: nothing to {verb} now ({'; '.join(notes) or rec.state})")
    rows = [{"action": kind.value, "outcome": outcome} for _, kind, outcome in done]
    emit(rows, as_json, "\n".join(f"{r['action']}: {r['outcome']}" for r in rows))


@group.command("claim")
@click.argument("swap_id")
@engine_options
@json_option
def claim_command(swap_id: str, as_json: bool) -> None:
    """Claim now (the user reveals the secret only if the guard allows)."""
    _act(swap_id, {ActionKind.CLAIM_COUNTER, ActionKind.CLAIM_USER_LOCK}, "claim", as_json)


@group.command("refund")
@click.argument("swap_id")
@engine_options
@json_option
def refund_command(swap_id: str, as_json: bool) -> None:
    """Refund our lock now (only once its timelock allows)."""
    kinds = {ActionKind.REFUND_USER_LOCK, ActionKind.REFUND_COUNTER}
    _act(swap_id, kinds, "refund", as_json)
