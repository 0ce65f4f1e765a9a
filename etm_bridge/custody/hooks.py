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
  ``pending`` or ``retiring``) makes it wait.

Work per round close: one scan of the pools (one record per asset), one read of the epoch;
the members table (at most one record per delegate) is scanned only when a selection is due
(a boundary, a pending rotation, or no committee yet). Keys per chain are sorted by the
chain's ``CustodySpec.sort_keys``; a chain whose profile has no custody spec yet uses ascending
bytes (the order BIP67 gives compressed keys and uint160 gives addresses). Pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from ..chain.registry import RoundClose, RoundHook
from ..chain.state import State
from ..exchange import records as exchange_records
from ..exchange.pool import Pool
from . import records
from .breaker import push_price
from .committee import KeySorters, make_committee, next_epoch, select_ranked
from .params import CustodyParams
from .plans import current_epoch


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


def make_hook(sorters: Callable[[], KeySorters] = installed_sorters) -> RoundHook:
    def hook(state: State, close: RoundClose) -> None:
        raw = state.get_json(records.PARAMS, b"params")
        if raw is None:
            return
        p = CustodyParams.from_json(raw)
        snapshot_prices(state, p)
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

    return hook
