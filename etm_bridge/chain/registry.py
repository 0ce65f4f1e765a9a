"""The registry of ETM transaction types and state tables: the plug-in API of the chain.

Adding a transaction type never edits block code. A type is a :class:`TxType` value::

    TxType(
        type_id=101,                      # u16, unique; ranges below
        name="acme_relay_headers",        # unique, shown in the API
        decode=decode_payload,            # (payload: bytes) -> P; ValidationError if malformed
        check=check,                      # (view: StateView, tx: Tx, p: P, ctx: TxContext) -> None
        apply=apply,                      # (state: State, tx: Tx, p: P, ctx: TxContext) -> None
        amount=lambda p: 0,               # ETM moved, for the block header's totalAmount
        describe=lambda p: {...},         # JSON-able view of the payload for the node API
        min_fee=0,                        # extra minimum fee on top of the chain's fee rule
    )

``check`` raises :class:`~etm_bridge.errors.TxRejectedError` (``reason`` a short snake_case
code, ``detail`` a sentence naming the value) for any stateless or stateful problem. ``apply``
performs the writes; it may also raise (the tx is then rejected and all its writes undone;
an exception that is not a ``TxRejectedError`` becomes ``rejected_by_type``). Before ``check``
the chain has already verified, in this order: network id, known type, size, fee >= minimum,
signature, nonce == account nonce, balance >= fee, and only then that the payload decodes (so
``decode`` only ever sees signed, fee-paying bytes; it must still bound its own work: depth and
item caps, no recursion on input); it has debited the fee and incremented the nonce (``check``
sees the post-fee balance). Both must be deterministic and pure:
no clock, no I/O, no floats, no randomness -- only ``view``/``state``, ``tx``, payload and ``ctx``.

State tables: a module declares its own with ``registry.add_table(TableSpec("spv_acme_headers",
owner="spv"))`` and reads/writes them through the :mod:`state` API (``get/put/scan/put_json``).

Plug-in modules expose ``register(registry: Registry) -> None`` and are listed in the chain
parameter ``tx_plugins`` (e.g. ``"etm_bridge.node.spv_plugin"``); :func:`build_registry` imports
them. Type id ranges: 1-99 core chain, 100-199 SPV relays, 200-299 exchange (pools, HTLC,
binding), 300-319 custody (``etm_bridge.custody``, reserved), 320+ anything else.

Two more seams between plug-ins (design-14 section 10.2):

* **Round hooks**: ``registry.add_round_hook(name, hook)``; ``rounds.close_round`` calls every
  hook, in registration order, with ``(state, RoundClose)`` at each round's last block, after
  the next round is opened and before the block's transactions. A hook must be pure,
  deterministic and bounded, like ``apply``. A chain whose plug-ins add no hook closes rounds
  exactly as before (same writes, same state digest).
* **Services**: ``registry.provide(name, obj)`` offers an object another plug-in may use (once
  per name); ``registry.port(name, default)`` returns it, or ``default`` when no plug-in
  provided one (the exchange asks ``port("custody", LegacyOperatorCustody())``). Plug-ins load in
  ``tx_plugins`` order, so a provider must be listed before its users.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..errors import ConfigError, TxRejectedError
from .params import ChainParams
from .state import CORE_TABLES, State, StateView, TableSpec
from .tx import Tx

P = TypeVar("P")
T = TypeVar("T")


@dataclass(frozen=True)
class TxContext:
    """Where a tx is being applied: the block's height, timestamp and forger, and the params.

    For mempool admission these describe the next block (generator = 32 zero bytes).
    """

    params: ChainParams
    height: int
    timestamp: int
    generator: bytes


@dataclass(frozen=True)
class RoundClose:
    """What a round hook learns about the round being closed (``rounds.close_round``).

    ``ranked``: every candidate of the election, by the vote ranking it used (the weights
    recorded at the previous round's close; ties by key); ``elected``: the next round's forgers
    in rank order. ``timestamp`` is the closing block's header timestamp (ETM seconds)."""

    params: ChainParams
    round_no: int
    height: int
    timestamp: int
    ranked: tuple[bytes, ...]
    elected: tuple[bytes, ...]


#: ``(state, close) -> None``: pure, deterministic and bounded (see the module docstring).
RoundHook = Callable[[State, RoundClose], None]


def _no_amount(payload: Any) -> int:
    return 0


def _no_description(payload: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class TxType(Generic[P]):
    """One transaction type; see the module docstring for the contract of each callable."""

    type_id: int
    name: str
    decode: Callable[[bytes], P]
    check: Callable[[StateView, Tx, P, TxContext], None]
    apply: Callable[[State, Tx, P, TxContext], None]
    amount: Callable[[P], int] = _no_amount
    describe: Callable[[P], dict[str, Any]] = _no_description
    min_fee: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.type_id < 2**16:
            raise ConfigError(f"tx type id {self.type_id} must be in [1, 65535]")
        if not self.name or not self.name.replace("_", "").isalnum():
            raise ConfigError(f"tx type name {self.name!r} must be snake_case")


class Registry:
    """Transaction types and state tables of one chain (built once per chain, then read-only)."""

    def __init__(self) -> None:
        self._types: dict[int, TxType[Any]] = {}
        self._names: dict[str, int] = {}
        self._tables: dict[str, TableSpec] = {t.name: t for t in CORE_TABLES}
        self._genesis_sections: dict[str, Callable[[State, Any], None]] = {}
        self._round_hooks: dict[str, RoundHook] = {}
        self._services: dict[str, object] = {}
        #: The chain's parameters when built by :func:`build_registry` (a genesis section
        #: initialiser may need them, e.g. the network id a genesis signature names).
        self.params: ChainParams | None = None

    def add_type(self, tx_type: TxType[Any]) -> None:
        if tx_type.type_id in self._types:
            other = self._types[tx_type.type_id].name
            raise ConfigError(f"tx type id {tx_type.type_id} already used by {other!r}")
        if tx_type.name in self._names:
            raise ConfigError(f"tx type name {tx_type.name!r} already registered")
        self._types[tx_type.type_id] = tx_type
        self._names[tx_type.name] = tx_type.type_id

    def add_table(self, spec: TableSpec) -> None:
        if spec.name in self._tables:
            raise ConfigError(
                f"state table {spec.name!r} already declared by {self._tables[spec.name].owner!r}"
            )
        self._tables[spec.name] = spec

    def add_genesis_section(self, name: str, init: Callable[[State, Any], None]) -> None:
        """Claim genesis section ``plugins.<name>``: ``init(state, section_json)`` writes the
        plug-in's initial state when the genesis block is applied."""
        if name in self._genesis_sections:
            raise ConfigError(f"genesis section {name!r} is already claimed")
        self._genesis_sections[name] = init

    @property
    def genesis_sections(self) -> dict[str, Callable[[State, Any], None]]:
        return dict(self._genesis_sections)

    def add_round_hook(self, name: str, hook: RoundHook) -> None:
        """Run ``hook(state, RoundClose)`` at every round close, after the hooks added before."""
        if name in self._round_hooks:
            raise ConfigError(f"round hook {name!r} is already registered")
        self._round_hooks[name] = hook

    @property
    def round_hooks(self) -> tuple[RoundHook, ...]:
        return tuple(self._round_hooks.values())

    def provide(self, name: str, service: object) -> None:
        """Offer ``service`` to other plug-ins under ``name`` (once per name)."""
        if name in self._services:
            raise ConfigError(f"service {name!r} is already provided")
        self._services[name] = service

    def port(self, name: str, default: T) -> T:
        """The service provided under ``name``, or ``default`` when none was."""
        return self._services.get(name, default)  # type: ignore[return-value]

    def type_of(self, type_id: int) -> TxType[Any]:
        """The type with this id; raises TxRejectedError(unknown_type)."""
        try:
            return self._types[type_id]
        except KeyError:
            raise TxRejectedError("unknown_type", f"no transaction type {type_id}") from None

    def type_named(self, name: str) -> TxType[Any]:
        if name not in self._names:
            raise TxRejectedError("unknown_type", f"no transaction type named {name!r}")
        return self._types[self._names[name]]

    @property
    def types(self) -> list[TxType[Any]]:
        return [self._types[i] for i in sorted(self._types)]

    @property
    def tables(self) -> list[TableSpec]:
        return [self._tables[n] for n in sorted(self._tables)]

    @property
    def table_names(self) -> frozenset[str]:
        return frozenset(self._tables)

    def load_plugin(self, module_name: str) -> None:
        """Import ``module_name`` and call its ``register(self)``."""
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"tx plugin {module_name!r} cannot be imported: {exc}") from exc
        register = getattr(module, "register", None)
        if not callable(register):
            raise ConfigError(f"tx plugin {module_name!r} has no register(registry) function")
        register(self)

    def tx_json(self, tx: Tx) -> dict[str, Any]:
        """The API view of a tx: base fields plus the type name and decoded payload."""
        out = tx.to_json()
        tx_type = self._types.get(tx.type_id)
        if tx_type is not None:
            out["typeName"] = tx_type.name
            try:
                out["asset"] = tx_type.describe(tx_type.decode(tx.payload))
            except ValueError:
                out["asset"] = None
        return out


def build_registry(params: ChainParams) -> Registry:
    """The core types and tables plus every plugin in ``params.tx_plugins`` (in order)."""
    from . import rounds, tx_delegates, tx_slash, tx_transfer

    registry = Registry()
    registry.params = params
    for table in rounds.TABLES:
        registry.add_table(table)
    for core in (tx_transfer, tx_delegates, tx_slash):
        core.register(registry)
    for name in params.tx_plugins:
        registry.load_plugin(name)
    return registry
