"""Tx 304 ``custody_fraud`` on chain: the verdict (:func:`.fraud.judge`) and the slash.

``check`` judges the proof against state: the accused epoch's committee (``custody_epochs``),
the members, the chain's :class:`~.spec.CustodySpec` (``fraud`` parses the body and checks the
signature) and the covered-digest registry (``custody_covered``). ``apply`` slashes the
offender (:func:`.fraud.slash_split`): its custody bond leaves ``custody_bonds`` (the finder's
share to the tx sender, the rest to the ETM reserves of the ticker's pools pro rata, burnt when
there is none), its delegate deposit leaves ``delegate_deposits`` as a double-forging proof
splits it, its member record and delegate record are marked slashed (out of every future
committee and the forging election), and ``custody_current['pending_rotation']`` asks the round
hook for a new committee. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace

from ..chain.address import address_hash
from ..chain.registry import TxContext
from ..chain.state import State, StateView
from ..chain.tx import Tx
from ..chain.tx_delegates import DELEGATES, DEPOSIT_ESCROW, delegate_record
from ..errors import BindingError, CustodyError
from ..exchange import records as exchange_records
from ..exchange.binding import chain_of_asset
from ..exchange.pool import Pool
from . import fraud, records
from .plans import get_member, get_params
from .spec import CustodySpec

Specs = Callable[[], Mapping[str, CustodySpec]]


def offender_of(view: StateView, f: fraud.Fraud, specs: Specs) -> bytes:
    """The member the proof convicts (CustodyError with the reason otherwise)."""
    get_params(view)
    spec = specs().get(f.ticker)
    if spec is None:
        raise CustodyError(records.Reason.NOT_CUSTODY_SCRIPT, f"no custody chain {f.ticker!r}")
    raw = view.get_json(records.EPOCHS, records.epoch_key(f.epoch))
    committee = None if raw is None else records.decode(records.Committee, raw)
    members = {}
    if committee is not None:
        members = {d: m for d in committee.members if (m := get_member(view, d)) is not None}
    return fraud.judge(f, committee, members, spec.fraud,
                    lambda digest: view.get(records.COVERED, digest) is not None)  # fmt: skip


def _pools_of(state: State, ticker: str) -> dict[str, Pool]:
    pools = {}
    for key, raw in state.scan(exchange_records.POOLS):
        try:
            chain = chain_of_asset(key.decode())
        except BindingError:  # a pool of a chain not installed here: not this ticker's
            continue
        if chain == ticker:
            pools[key.decode()] = exchange_records.decode(Pool, json.loads(raw))
    return pools


def apply_slash(state: State, tx: Tx, f: fraud.Fraud, offender: bytes, ctx: TxContext) -> None:
    p = get_params(state)
    member = get_member(state, offender)
    record = delegate_record(state, offender)
    assert member is not None and record is not None  # judge() found both
    deposit = int(record["deposit"])
    pools = _pools_of(state, f.ticker)
    split = fraud.slash_split(member.bond, deposit, p.finder_ppm,
                           {a: pool.etm_reserve for a, pool in pools.items()})  # fmt: skip
    finder_bond = member.bond * p.finder_ppm // fraud.PPM
    state.from_escrow(records.BOND_ESCROW, tx.sender, finder_bond)
    state.from_escrow(DEPOSIT_ESCROW, tx.sender, split.reporter - finder_bond)
    transit = address_hash(offender)  # bond ETM to the pools' escrow, through the offender
    for asset, credit in split.pools.items():
        state.from_escrow(records.BOND_ESCROW, transit, credit)
        state.to_escrow(transit, credit, exchange_records.ESCROW)
        pool = replace(pools[asset], etm_reserve=pools[asset].etm_reserve + credit)
        state.put_json(exchange_records.POOLS, asset.encode(), exchange_records.encode(pool))
    bond_burnt = member.bond - finder_bond - sum(split.pools.values())
    state.burn_escrow(records.BOND_ESCROW, bond_burnt)
    state.burn_escrow(DEPOSIT_ESCROW, deposit - (split.reporter - finder_bond))
    state.put_json(records.MEMBERS, offender, records.encode(replace(member, bond=0, slashed=True)))
    state.put_json(DELEGATES, offender, {**record, "slashed": True, "deposit": 0})
    state.put(records.CURRENT, b"pending_rotation", b"slashed_member")
