"""The SPV relays as ETM transaction types: every installed chain's relay, registered generically.

``register(registry)`` (the strict plug-in ``etm_bridge.spv.relay_types``) declares the generic
``spv_config`` table and, for each chain profile with a relay (in type-id order), its tables and
transaction types (``profile.relay.tx_types(False)``). :func:`register_dev` does the same with
``tx_types(True)``: a chain whose genesis configures no relay for a profile with
``dev_autostart`` starts that relay at the named network's genesis block with its first header
batch (development chains; ``etm_bridge.node.spv_plugin`` uses it). A relay that declares its own
``tx_plugin`` is left out of both: :func:`register_chain` registers it from that plug-in, which a
genesis lists only when it starts that relay. The types, tables and genesis keys are the
profiles' own; this module names no chain.

``spv_config`` holds one record per relay under its ticker (network, confirmation policy and
the chain's own fields) and the development flags under ``dev`` (``{"pools": true}``: pools on
development relays, see :func:`require_pool_network`). Relays are initialised from the genesis
(:mod:`.genesis_section`): a checkpoint is genesis state, never something a transaction sets.

Helpers for the chains' rules: :func:`relay_config` (the record, or ``spv_relay_not_initialised``)
and :func:`spv_call` (an :class:`~etm_bridge.errors.SpvRejectedError` becomes a
:class:`~etm_bridge.errors.TxRejectedError` with reason ``spv_<rule>``). Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..chain.registry import Registry, TxContext
from ..chain.state import StateView, TableSpec
from ..chains.registry import chain_registry
from ..errors import ConfigError, SpvRejectedError, TxRejectedError

#: The generic relay config table: ticker -> relay record; ``dev`` -> development flags.
CONFIG = "spv_config"
#: ``spv_config`` key of the development flags (``{"pools": true}``).
DEV_KEY = b"dev"
#: Plug-ins that start a ``dev_autostart`` relay with its first header batch.
DEV_PLUGINS = frozenset({"etm_bridge.node.spv_plugin"})
T = TypeVar("T")


def spv_call(call: Callable[[], T]) -> T:
    """Run an SPV check, turning its rule name into a transaction rejection reason."""
    try:
        return call()
    except SpvRejectedError as exc:
        raise TxRejectedError("spv_" + exc.reason.replace("-", "_"), str(exc)) from None


def relay_config(view: StateView, ticker: str) -> dict[str, Any]:
    """The ``ticker`` relay's ``spv_config`` record; ``spv_relay_not_initialised`` if none."""
    cfg = view.get_json(CONFIG, ticker.encode())
    if cfg is None:
        raise TxRejectedError("spv_relay_not_initialised", f"no {ticker} relay in this chain")
    return dict(cfg)


def dev_pools_allowed(view: StateView) -> bool:
    """The genesis's development flag ``allow_dev_pools``."""
    dev = view.get_json(CONFIG, DEV_KEY) or {}
    return dev.get("pools") is True


def require_pool_network(view: StateView, ticker: str, ctx: TxContext) -> None:
    """Refuse (``dev_network_pool``) a pool whose relay is a development network (the
    profile's ``relay.dev_networks``: e.g. regtest, including the relay a development chain
    starts with its first header batch, or a testnet whose minimum-difficulty headers cost
    ~2^32 hashes), unless the genesis sets the development flag ``allow_dev_pools``: such
    headers are cheap to forge, so anyone could prove a lock that never existed. A chain with
    no relay for ``ticker`` at all can prove nothing on it; its pools are harmless and
    allowed."""
    relay = chain_registry().by_ticker(ticker).relay
    if relay is None:
        return
    network = relay.network_of(view)
    if network is None and relay.dev_autostart and DEV_PLUGINS & set(ctx.params.tx_plugins):
        network = relay.dev_autostart
    if network is None or network not in relay.dev_networks or dev_pools_allowed(view):
        return
    raise TxRejectedError(
        "dev_network_pool",
        f"this chain's {ticker} relay is a {network} relay: its headers are forgeable, so pools "
        "on it are refused unless the genesis sets the development flag allow_dev_pools (node init "
        "--dev-pools; never on a chain holding real value)",
    )


def _register(registry: Registry, dev: bool) -> None:
    registry.add_table(
        TableSpec(CONFIG, owner="spv", doc="ticker -> relay network and policy; dev -> flags")
    )
    for profile in chain_registry().relayed():
        assert profile.relay is not None
        if profile.relay.tx_plugin is None:
            _register_relay(registry, profile, dev)


def _register_relay(registry: Registry, profile: Any, dev: bool) -> None:
    relay = profile.relay
    if relay is not None:
        for table in relay.tables:
            registry.add_table(table)
        for tx_type in relay.tx_types(dev):
            if relay.types.get(tx_type.type_id) != tx_type.name:
                raise ConfigError(
                    f"chain profile {profile.name!r}: type {tx_type.type_id} {tx_type.name!r} "
                    "is not one its relay declares"
                )
            registry.add_type(tx_type)


def register_chain(registry: Registry, ticker: str) -> None:
    """The relay of chain ``ticker`` from its own tx plug-in (``relay.tx_plugin``), after the
    node's SPV plug-in (which declares ``spv_config`` and claims the genesis section)."""
    if CONFIG not in registry.table_names:
        raise ConfigError(
            f"the {ticker} relay plug-in needs etm_bridge.node.spv_plugin listed before it"
        )
    _register_relay(registry, chain_registry().by_ticker(ticker), dev=False)


def register(registry: Registry) -> None:
    """Declare the relays' tables and types (plug-in ``etm_bridge.spv.relay_types``)."""
    _register(registry, dev=False)


def register_dev(registry: Registry) -> None:
    """:func:`register`, with relays that start themselves on development chains."""
    _register(registry, dev=True)
