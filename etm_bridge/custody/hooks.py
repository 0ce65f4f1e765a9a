"""The custody round hook (design-14 sections 1.3 and 10.2): committees and epochs on chain.

Runs at every round close (``registry.add_round_hook``) and does nothing on a chain without the
genesis section ``plugins.custody``. Steps implemented so far:

* **first committee**: while no committee exists, the registered members are selected from the
  election's ranking (``RoundClose.ranked``, top ``delegates_per_round``); the first selection
  of at least ``min_committee`` becomes epoch 0 (reason ``first``);
* **price snapshots**: each pool's price (``breaker.price_ppt``) is appended to its window
  ``custody_prices[asset]``, the last ``price_window_rounds`` kept (the breaker values a vault
  at the window's maximum);
* **epoch change**: at a round close with ``round % epoch_rounds == 0`` (or after a member was
  slashed: ``custody_current['pending_rotation']``), a selection that differs from the newest
  committee becomes the next epoch (``committee.next_epoch``); a rotation in progress (a vault
  ``pending`` or ``retiring``) makes it wait;
* **funding queued mandates** (after the epoch step, so with the committee a 207 in the next
  block would see): the FIFO ``custody_queue`` is read from its head, at most
  ``fund_per_round`` entries; each queued ``lp_withdraw`` is funded as its 207 would have
  opened it now (:func:`.lp.fund`: the same input selection over the active epoch's unspent
  outputs, ``sign_until_s`` from the closing block's timestamp) and leaves the queue. The walk
  stops at the first mandate the vault cannot pay yet: **strict FIFO**, so a large withdrawal
  is never starved by later small ones (and, in turn, holds every later one until the vault
  can pay it; docs/custody.md 2.10). A mandate no single input of the active committee's
  vault could pay (its payout less that one-input fee is dust: its 207 checked a smaller
  committee, whose inputs cost less) can never be paid by this committee whatever the vault
  holds: it moves to the queue's tail (:func:`.mandate_store.requeue`) instead of holding
  the queue for ever, and waits for a committee that can pay it. The books do not move (the
  207 counted ``owed``).

Work per round close: one scan of the pools (one record per asset), one read of the epoch,
at most ``fund_per_round`` fundings (each one selection over the active epoch's outputs);
the members table (at most one record per delegate) is scanned only when a selection is due
(a boundary, a pending rotation, or no committee yet). Keys per chain are sorted by the
chain's ``CustodySpec.sort_keys``; a chain whose profile has no custody spec yet uses ascending
bytes (the order BIP67 gives compressed keys and uint160 gives addresses). Pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..chain.registry import RoundClose, RoundHook
from ..chain.state import State
from ..errors import ConfigError, CustodyError
from ..exchange import records as exchange_records
from ..exchange.pool import Pool
from . import lp, mandate_store, records
from .breaker import push_price
from .committee import KeySorters, make_committee, next_epoch, select_ranked
from .params import CustodyParams
from .plans import current_epoch
from .records import MandateKind, MandateStatus
from .vaults import ChainPart, Specs, chain_part, committee_of, overlay


def ascending(keys: Sequence[bytes]) -> tuple[bytes, ...]:
    return tuple(sorted(keys))


def installed_sorters() -> Mapping[str, Callable[[Sequence[bytes]], tuple[bytes, ...]]]:
    from ..chains.registry import chain_registry

    return {p.ticker: p.custody.sort_keys for p in chain_registry() if p.custody is not None}


def _members(state: State) -> dict[bytes, records.Member]:
    return {
        k: records.decode(records.Member, json.loads(v)) for k, v in state.scan(records.MEMBERS)
    }


def _rotation_in_progress(state: State) -> bool:
    busy = (records.VaultStatus.PENDING, records.VaultStatus.RETIRING)
    return any(json.loads(v)["status"] in busy for _, v in state.scan(records.VAULTS))


def _write_epoch(state: State, committee: records.Committee) -> None:
    state.put_json(records.EPOCHS, records.epoch_key(committee.epoch), records.encode(committee))
    state.put(records.CURRENT, b"epoch", records.epoch_key(committee.epoch))
    state.delete(records.CURRENT, b"pending_rotation")


def snapshot_prices(state: State, p: CustodyParams) -> None:
    for key, raw in state.scan(exchange_records.POOLS):
        pool = exchange_records.decode(Pool, json.loads(raw))
        window = [int(x) for x in state.get_json(records.PRICES, key) or []]
        new = list(push_price(window, pool.etm_reserve, pool.asset_reserve, p.price_window_rounds))
        if new != window:
            state.put_json(records.PRICES, key, new)


def installed_specs() -> Mapping[str, Any]:
    from .txtypes import installed_specs as specs

    return specs()


def _part(p: CustodyParams, ticker: str, specs: Specs) -> ChainPart | None:
    try:
        return chain_part(p, ticker, specs)
    except (CustodyError, ConfigError):  # no installed spec: nothing this node can build
        return None


def fund_queue(state: State, p: CustodyParams, close: RoundClose, specs: Specs) -> int:
    """Fund queued mandates from the queue's head (see the module docstring); how many."""
    page = mandate_store.queue_page(state, p.fund_per_round)
    newest = current_epoch(state) if page else None
    if newest is None:
        return 0
    committee = committee_of(state, newest)
    funded = 0
    for key, mid in page:
        queued = mandate_store.get_mandate(state, mid)
        if queued is None or queued.status is not MandateStatus.QUEUED:
            return funded  # no such entry is ever written; never reorder around one
        part = _part(p, queued.ticker, specs)
        if queued.kind is not MandateKind.LP_WITHDRAW or part is None:
            return funded  # only 207 queues today
        buffer = overlay(state)
        if lp.fund(buffer, p, part, committee, queued, key, close.height, close.timestamp) is None:
            if lp.payable_by(part, committee, queued):
                return funded  # strict FIFO: the head waits until the vault can pay it
            mandate_store.requeue(state, key, mid)  # this committee can never pay it
            continue
        for (table, k), value in buffer.changes().items():
            state.put(table, k, value)
        funded += 1
    return funded


def make_hook(
    sorters: Callable[[], KeySorters] = installed_sorters,
    specs: Specs = installed_specs,
) -> RoundHook:
    def hook(state: State, close: RoundClose) -> None:
        raw = state.get_json(records.PARAMS, b"params")
        if raw is None:
            return
        p = CustodyParams.from_json(raw)
        snapshot_prices(state, p)
        epochs(state, close, p, sorters)
        fund_queue(state, p, close, specs)

    return hook


def epochs(
    state: State, close: RoundClose, p: CustodyParams, sorters: Callable[[], KeySorters]
) -> None:
    """The first committee and epoch changes (see the module docstring)."""
    newest = current_epoch(state)
    pending_raw = state.get(records.CURRENT, b"pending_rotation")
    pending = None if pending_raw is None else pending_raw.decode()
    due = newest is None or pending is not None or close.round_no % p.epoch_rounds == 0
    if not due:
        return
    members = _members(state)
    found = sorters()
    order = {t: found.get(t, ascending) for t in p.chains}
    elected_n = close.params.delegates_per_round
    chosen = select_ranked(close.ranked, elected_n, members, p)

    def make(delegates: tuple[bytes, ...], reason: str, epoch: int) -> records.Committee:
        return make_committee(epoch, delegates, members, order, p, close.height, reason)

    if newest is None:
        if chosen is not None:
            _write_epoch(state, make(chosen, "first", 0))
        return
    raw_current = state.get_json(records.EPOCHS, records.epoch_key(newest))
    current = records.decode(records.Committee, raw_current)
    decision = next_epoch(
        current, close.round_no, pending, _rotation_in_progress(state), chosen,
        lambda ds, why: make(ds, why, newest + 1), p,
    )  # fmt: skip
    if decision.committee is not None:
        _write_epoch(state, decision.committee)
