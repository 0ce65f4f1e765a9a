"""Genesis custody members (design-14 section 1.1): ``plugins.custody.members``.

Each entry ``{delegate, agent, keys: {ticker: hex}, pops: {ticker: hex}, agent_pop, bond}`` is
checked exactly like a ``custody_register`` (tx 300) by a genesis delegate, its bond minted into
the escrow ``custody_bonds`` (as genesis delegate deposits are), and epoch 0 is formed from the
members ranked by the genesis vote weights (all zero: by key). A bad entry or too few members
to form a committee refuse the genesis (ConfigError naming the entry).

Genesis pools, ``plugins.custody.pools``: each ``{asset, fee_ppm, min_confirmations,
min_withdrawal}`` (the last three optional, the exchange's defaults) becomes an empty exchange
pool whose operator is ``"committee"`` and which has no claim key: it belongs to the chain,
its asset is held by the committee's vault. One pool per asset, of a chain under custody; the
exchange plug-in must be loaded (its ``xchg_pools`` table). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..chain.address import address_hash
from ..chain.params import ChainParams
from ..chain.state import State
from ..chain.tx_delegates import DELEGATES, delegate_record
from ..errors import ConfigError, CustodyError, ExchangeError
from ..exchange import records as exchange_records
from ..exchange.binding import chain_of_asset
from ..exchange.pool import COMMITTEE_OPERATOR, Pool, PoolParams
from . import records, registration
from .committee import KeySorters, genesis_committee
from .hooks import ascending
from .params import CustodyParams
from .plans import PopSchemes, agent_owner, key_owner


def _hex(entry: Mapping[str, Any], name: str, where: str) -> bytes:
    try:
        return bytes.fromhex(str(entry[name]))
    except (KeyError, ValueError):
        raise ConfigError(f"{where}.{name} must be hex") from None


def _entry(entry: Mapping[str, Any], where: str) -> tuple[bytes, registration.Register]:
    keys, pops = entry.get("keys"), entry.get("pops")
    if not isinstance(keys, Mapping) or not isinstance(pops, Mapping) or set(keys) != set(pops):
        raise ConfigError(f"{where} needs keys and pops objects with the same tickers")
    bond = entry.get("bond")
    if not isinstance(bond, int) or isinstance(bond, bool) or not 0 <= bond < 2**64:
        raise ConfigError(f"{where}.bond must be an integer number of base units")
    register = registration.Register(
        _hex(entry, "agent", where), _hex(entry, "agent_pop", where), bond,
        {t: _hex(keys, t, f"{where}.keys") for t in keys},
        {t: _hex(pops, t, f"{where}.pops") for t in pops},
    )  # fmt: skip
    return _hex(entry, "delegate", where), register


def init_members(
    state: State, p: CustodyParams, chain: ChainParams, schemes: PopSchemes, sorters: KeySorters
) -> None:
    missing = [t for t in p.chains if t not in schemes]
    if missing:
        raise ConfigError(f"plugins.custody.chains {missing}: no installed chain has that ticker")
    members: dict[bytes, records.Member] = {}
    for i, entry in enumerate(p.members):
        where = f"plugins.custody.members[{i}]"
        delegate, register = _entry(entry, where)
        if delegate in members:
            raise ConfigError(f"{where}: delegate {delegate.hex()} is listed twice")
        view = registration.RegistrationView(
            sender=delegate, is_delegate=delegate_record(state, delegate) is not None,
            delegate_slashed=False, network_id=chain.network_id, domain=p.domain,
            chains=p.chains, key_len={t: schemes[t][0] for t in p.chains},
            verifiers={t: schemes[t][1] for t in p.chains},
            key_owner=lambda t, k: key_owner(state, t, k),
            agent_owner=lambda a: agent_owner(state, a),
            current=members.get(delegate), serving=False, balance=register.bond, height=0,
        )  # fmt: skip
        try:
            member = registration.check_registration(register, view)
        except CustodyError as exc:
            raise ConfigError(f"{where}: {exc.reason}: {exc.detail}") from exc
        members[delegate] = member
        state.put_json(records.MEMBERS, delegate, records.encode(member))
        for ticker, key in member.keys.items():
            state.put(records.KEYS, records.ticker_key(ticker, key), delegate)
        state.put(records.AGENTS, member.agent, delegate)
        address = address_hash(delegate)
        state.mint(address, register.bond)
        state.to_escrow(address, register.bond, records.BOND_ESCROW)
    voters = {k: 0 for k, _ in state.scan(DELEGATES)}
    order = {t: sorters.get(t, ascending) for t in p.chains}
    committee = genesis_committee(members, voters, chain.delegates_per_round, order, p)
    state.put_json(records.EPOCHS, records.epoch_key(0), records.encode(committee))
    state.put(records.CURRENT, b"epoch", records.epoch_key(0))


POOL_KEYS = frozenset({"asset", "fee_ppm", "min_confirmations", "min_withdrawal"})


def init_pools(state: State, p: CustodyParams) -> None:
    """Create the genesis pools (see the module docstring); ConfigError naming the entry."""
    seen: set[str] = set()
    for i, entry in enumerate(p.pools):
        where = f"plugins.custody.pools[{i}]"
        unknown = set(entry) - POOL_KEYS
        if unknown:
            raise ConfigError(f"{where} has unknown keys {sorted(unknown)}")
        asset = entry.get("asset")
        if not isinstance(asset, str) or asset in seen:
            raise ConfigError(f"{where}.asset must be an asset name, one pool per asset")
        try:
            chain = chain_of_asset(asset)
        except ExchangeError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        if chain not in p.chains:
            raise ConfigError(
                f"{where}: {asset} is not on a chain under custody (plugins.custody.chains "
                f"{list(p.chains)})"
            )
        if not state.has_table(exchange_records.POOLS):
            raise ConfigError(f"{where}: genesis pools need the exchange plug-in in tx_plugins")
        seen.add(asset)
        values = {k: entry[k] for k in ("fee_ppm", "min_confirmations", "min_withdrawal")
                  if k in entry}  # fmt: skip
        try:
            params = PoolParams(asset, COMMITTEE_OPERATOR, b"", **values)
        except (ExchangeError, TypeError) as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        state.put_json(
            exchange_records.POOLS, asset.encode(), exchange_records.encode(Pool(params))
        )
