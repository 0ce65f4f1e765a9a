"""The installed foreign chains: their profiles found once, validated, and looked up.

Two sources, read once per process (:func:`chain_registry`, cached):

- **in-tree chains**: every sub-package of :mod:`etm_bridge.chains` that defines ``PROFILE``
  (``etm_bridge/chains/<name>/``, one folder per chain);
- **out-of-tree chains** (and test chains): every object of the entry-point group
  ``etm_bridge.chains``, e.g. ``[project.entry-points."etm_bridge.chains"] acme =
  "acme_chain:PROFILE"``.

The installed set is consensus: a node with another set registers other transaction types
(except relays with their own ``relay.tx_plugin``, registered only where a genesis lists it).
So a profile that fails to import, or breaks a rule below, is a
:class:`~etm_bridge.errors.ConfigError` naming it and where it came from (both profiles for a
clash), and the node refuses to start, rather than silently dropping a chain's types.

Rules: names, tickers and aliases are unique across profiles and none is ``etm``, ``kdf`` or
``policy``; a ticker matches ``[a-z][a-z0-9]{1,9}`` and is the wallet label;
``key_kind.length == binding.key_len``; an exchange needs a relay and a 20..65-byte key, a
client side needs an exchange; relay
type-id blocks are multiples of 10 in [100, 190] or [1000, 65530], do not overlap, and hold every
type of the relay; an out-of-tree relay declares its own ``relay.tx_plugin`` (only the in-tree
first chains register theirs on every ETM chain); type names start with ``<ticker>_``, tables
with ``spv_<ticker>_``, genesis keys with ``<ticker>_``; proof kinds are unique; no profile owns
another's native asset and adapters are unique (:meth:`ChainRegistry.for_asset` and
:meth:`~ChainRegistry.for_adapter` must not depend on the order).

Lookups: :meth:`ChainRegistry.by_name`, :meth:`~ChainRegistry.by_ticker`,
:meth:`~ChainRegistry.find` (name, ticker or alias), :meth:`~ChainRegistry.resolve` (configured
names first), :meth:`~ChainRegistry.for_asset`, :meth:`~ChainRegistry.for_adapter`,
:meth:`~ChainRegistry.for_leg`, :meth:`~ChainRegistry.pooled`, :meth:`~ChainRegistry.unit_of`,
:meth:`~ChainRegistry.proof_kind`, :meth:`~ChainRegistry.verifiers`. No I/O beyond importing
the chain packages.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from ..errors import BindingError, ConfigError
from .profile import RESERVED_NAMES, TICKER_RE, TYPE_ID_BLOCKS, ChainProfile, ProofKind

if TYPE_CHECKING:
    from ..exchange.txtypes import ForeignVerifier
    from ..units import Unit

#: The entry-point group of out-of-tree chain profiles.
GROUP = "etm_bridge.chains"


@dataclass(frozen=True)
class Registered:
    """A profile and where it came from (``package etm_bridge.chains.<name>``, ``distribution
    acme-chain 0.1 (acme_chain:PROFILE)``); ``in_tree``: a folder of :mod:`etm_bridge.chains`."""

    profile: ChainProfile
    origin: str
    in_tree: bool = False


class ChainRegistry:
    """The validated profiles, sorted by relay type-id block (chains without a relay last)."""

    def __init__(self, entries: Iterable[Registered]) -> None:
        ordered = sorted(entries, key=_order)
        _validate(ordered)
        self._entries = tuple(ordered)
        self.profiles: tuple[ChainProfile, ...] = tuple(e.profile for e in ordered)
        self._spelled = {s: e.profile for e in ordered for s in e.profile.spellings}

    def __iter__(self) -> Iterator[ChainProfile]:
        return iter(self.profiles)

    def origin(self, profile: ChainProfile) -> str:
        return next(e.origin for e in self._entries if e.profile is profile)

    def entries(self) -> tuple[Registered, ...]:
        return self._entries

    # --- lookups ------------------------------------------------------------------------------

    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.profiles)

    def tickers(self) -> tuple[str, ...]:
        return tuple(p.ticker for p in self.profiles)

    def find(self, text: str) -> ChainProfile | None:
        """The profile named, tickered or aliased ``text`` (case-insensitive), else None."""
        return self._spelled.get(text.strip().lower())

    def by_name(self, name: str) -> ChainProfile:
        for p in self.profiles:
            if p.name == name:
                return p
        raise ConfigError(f"no chain named {name!r} is installed (installed: {self._known()})")

    def by_ticker(self, ticker: str) -> ChainProfile:
        for p in self.profiles:
            if p.ticker == ticker:
                return p
        raise ConfigError(f"no chain with ticker {ticker!r} is installed ({self._known()})")

    def resolve(self, text: str, configured: Iterable[str] = ()) -> str:
        """The chain name ``text`` means: a configured chain name as is (``[chains.<name>]``
        wins: a user may configure ``mybtc``), else a profile's name for its name, ticker or an
        alias, else ``text`` itself (an adapter with no profile, e.g. ``fake``)."""
        wanted, names = text.strip(), set(configured)
        if wanted in names:
            return wanted
        if wanted.lower() in names:
            return wanted.lower()
        profile = self.find(wanted)
        return profile.name if profile is not None else wanted.lower()

    def for_asset(self, asset: str) -> ChainProfile:
        """The chain whose keys and relay a pool of ``asset`` uses; BindingError otherwise."""
        from ..exchange.reasons import Reason

        for p in self.profiles:
            if p.assets.owns(asset):
                return p
        raise BindingError(Reason.UNSUPPORTED_CHAIN, f"no foreign chain for asset {asset!r}")

    def for_adapter(self, entry_point: str) -> ChainProfile | None:
        """The profile whose adapter is ``entry_point`` (None: an adapter of no profile)."""
        return next((p for p in self.profiles if p.adapter_name == entry_point), None)

    def for_leg(self, name: str, adapter: str | None = None) -> ChainProfile | None:
        """The chain a swap leg named ``name`` is on: by its name, ticker or alias, else by the
        entry point of its adapter (a chain configured as ``mine`` with ``adapter = <name>``)."""
        found = self.find(name)
        if found is None and adapter:
            found = self.for_adapter(adapter) or self.find(adapter)
        return found

    def pooled(self) -> tuple[ChainProfile, ...]:
        """The profiles whose assets have ETM pools a client can use (exchange and client)."""
        return tuple(p for p in self.profiles if p.exchange is not None and p.client is not None)

    def native_assets(self) -> tuple[str, ...]:
        return tuple(p.assets.native for p in self.profiles)

    def unit_of(self, asset: str) -> Unit | None:
        """The display unit of ``asset`` (None: no profile owns it, or a token without one)."""
        for p in self.profiles:
            if p.assets.owns(asset):
                return p.assets.unit_of(asset)
        return None

    def proof_kind(self, kind: str) -> ProofKind | None:
        for p in self.profiles:
            if kind in p.proof_kinds:
                return p.proof_kinds[kind]
        return None

    def relayed(self) -> tuple[ChainProfile, ...]:
        """The profiles with an ETM-side relay, in type-id order."""
        return tuple(p for p in self.profiles if p.relay is not None)

    def verifiers(self) -> dict[str, ForeignVerifier]:
        """ticker -> the exchange's proof verifier of that chain (chains with an exchange)."""
        return {p.ticker: p.exchange.verifier() for p in self.profiles if p.exchange is not None}

    def _known(self) -> str:
        return ", ".join(self.names()) or "none"


def _order(entry: Registered) -> tuple[int, str]:
    relay = entry.profile.relay
    return (relay.type_id_block if relay is not None else 1 << 20, entry.profile.name)


# --- validation -------------------------------------------------------------------------------


def _fail(entry: Registered, problem: str) -> ConfigError:
    return ConfigError(f"chain profile {entry.profile.name!r} ({entry.origin}): {problem}")


def _check_one(entry: Registered) -> None:
    p = entry.profile
    if not isinstance(p, ChainProfile):
        raise ConfigError(f"{entry.origin} is not a ChainProfile: {p!r}")
    if not TICKER_RE.fullmatch(p.ticker):
        raise _fail(entry, f"ticker {p.ticker!r} must match {TICKER_RE.pattern}")
    if not p.name or p.name != p.name.lower() or not p.name.replace("-", "").isalnum():
        raise _fail(entry, "name must be lowercase letters, digits and '-'")
    if p.key_kind.length != p.binding.key_len:
        raise _fail(
            entry, f"key kind {p.key_kind.value} is {p.key_kind.length} bytes, the binding key "
            f"{p.binding.key_len}"
        )  # fmt: skip
    if p.exchange is not None and p.relay is None:
        raise _fail(entry, "an exchange needs a relay (its proofs are checked against it)")
    if p.client is not None and p.exchange is None:
        raise _fail(entry, "a client side of pools needs an exchange")
    if p.exchange is not None and not 20 <= p.binding.key_len <= 65:
        raise _fail(entry, "a pool's claim key (the binding key) must be 20..65 bytes")
    if p.wallet.label != p.ticker:
        raise _fail(entry, f"wallet label {p.wallet.label!r} must be the ticker {p.ticker!r}")
    if p.relay is not None:
        _check_relay(entry)


def _check_relay(entry: Registered) -> None:
    p, relay = entry.profile, entry.profile.relay
    assert relay is not None
    block = relay.type_id_block
    if not any(block in r for r in TYPE_ID_BLOCKS):
        raise _fail(entry, f"type-id block {block} is not a multiple of 10 in 100..190 or "
                    "1000..65530")  # fmt: skip
    ids = {relay.headers_type_id, *relay.types}
    outside = sorted(i for i in ids if not block < i < block + 10)
    if outside:
        raise _fail(entry, f"type ids {outside} lie outside its block {block + 1}..{block + 9}")
    if relay.tx_plugin is None and not entry.in_tree:
        raise _fail(entry, "an installed chain's relay must declare its own tx_plugin: without "
                    "one its types would join every ETM chain, also those that never use it "
                    "(nodes with and without the plugin would split)")  # fmt: skip
    if relay.headers_type_id not in relay.types:
        raise _fail(entry, f"headers type {relay.headers_type_id} is not one of its types")
    bad = sorted(n for n in relay.types.values() if not n.startswith(p.ticker + "_"))
    if bad:
        raise _fail(entry, f"type names {bad} must start with {p.ticker + '_'!r}")
    bad = sorted(t.name for t in relay.tables if not t.name.startswith(f"spv_{p.ticker}_"))
    if bad:
        raise _fail(entry, f"tables {bad} must start with 'spv_{p.ticker}_'")
    bad = sorted(k for k in relay.genesis.keys if not k.startswith(p.ticker + "_"))
    if bad:
        raise _fail(entry, f"genesis keys {bad} must start with {p.ticker + '_'!r}")


def _validate(entries: Sequence[Registered]) -> None:
    for entry in entries:
        _check_one(entry)
    claimed: dict[str, Registered] = {}
    for entry in entries:
        p = entry.profile
        for spelling in p.spellings:
            if spelling in RESERVED_NAMES:
                raise _fail(entry, f"{spelling!r} is reserved (etm, kdf, policy)")
            other = claimed.get(spelling)
            if other is not None and other is not entry:
                raise _clash(entry, other, f"both answer to {spelling!r}")
            claimed[spelling] = entry
    for i, a in enumerate(entries):
        for b in entries[i + 1 :]:
            _check_pair(a, b)


def _check_pair(a: Registered, b: Registered) -> None:
    ra, rb = a.profile.relay, b.profile.relay
    if ra is not None and rb is not None and ra.type_id_block == rb.type_id_block:
        raise _clash(a, b, f"both use type-id block {ra.type_id_block}")
    if a.profile.adapter_name == b.profile.adapter_name:
        raise _clash(a, b, f"both name adapter {a.profile.adapter_name!r}")
    for one, other in ((a, b), (b, a)):
        native = one.profile.assets.native
        if other.profile.assets.owns(native):
            raise _clash(a, b, f"both own asset {native!r} (a pool's chain must be one)")
    shared = set(a.profile.proof_kinds) & set(b.profile.proof_kinds)
    if shared:
        raise _clash(a, b, f"both declare proof kind(s) {sorted(shared)}")


def _clash(a: Registered, b: Registered, what: str) -> ConfigError:
    return ConfigError(
        f"chain profiles {a.profile.name!r} ({a.origin}) and {b.profile.name!r} ({b.origin}) "
        f"clash: {what}"
    )


# --- discovery --------------------------------------------------------------------------------


def _in_tree() -> list[Registered]:
    from .. import chains

    found = []
    for info in sorted(pkgutil.iter_modules(chains.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        module_name = f"{chains.__name__}.{info.name}"
        origin = f"package {module_name}"
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # a chain package may fail in any way while importing
            raise ConfigError(
                f"chain {origin} failed to import: {type(exc).__name__}: {exc}"
            ) from None
        profile = getattr(module, "PROFILE", None)
        if profile is not None:
            found.append(Registered(profile, origin, in_tree=True))
    return found


def _installed() -> list[Registered]:
    found = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        dist = ep.dist
        who = f"{dist.metadata['Name']} {dist.version}" if dist is not None else "?"
        origin = f"distribution {who} ({ep.value})"
        try:
            profile = ep.load()
        except Exception as exc:  # a plugin may fail in any way while importing
            raise ConfigError(
                f"chain profile {ep.name!r} ({origin}) failed to import: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        found.append(Registered(profile, origin))
    return found


def discover() -> ChainRegistry:
    """Scan both sources and validate (uncached: see :func:`chain_registry`)."""
    return ChainRegistry([*_in_tree(), *_installed()])


@functools.cache
def chain_registry() -> ChainRegistry:
    """The installed chains, scanned and validated once per process."""
    return discover()


def reload_chain_registry() -> ChainRegistry:
    """Scan again (tests that install a chain at run time); returns the new registry."""
    chain_registry.cache_clear()
    return chain_registry()


def list_profiles() -> list[dict[str, Any]]:
    """One row per installed chain, for ``etm-bridge chains list``."""
    registry = chain_registry()
    return [
        {
            "name": p.name,
            "ticker": p.ticker,
            "aliases": list(p.aliases),
            "unit": p.unit.symbol,
            "decimals": p.unit.decimals,
            "adapter": p.adapter_name,
            "relay": None if p.relay is None else p.relay.type_id_block,
            "exchange": p.exchange is not None,
            "origin": registry.origin(p),
        }
        for p in registry.profiles
    ]
