"""The use cases' context: THE one source of the clock, of secrets and of swap ids.

An :class:`AppContext` is made once per command (the CLI's ``cli/context.py``) or per party
(the demo, the tests) and handed to every use case of :mod:`etm_bridge.app`. It holds the
config, how to get the keystore passphrase, and lazily opens what the use cases need: the
unlocked wallet (:class:`KeySource`), the chain adapters (``Config.adapter_options``, the one
place secrets go in, then the adapter registry), the ETM leg, the exchange port
(:class:`~etm_bridge.etm_client.exchange.NodeExchange`) and the swap database.

Only this module reads the clock (:meth:`AppContext.now`), draws a secret
(:attr:`AppContext.new_secret`) or names a swap (:meth:`AppContext.new_swap`). A swap's secret
comes from the wallet's seed and the next swap index (:meth:`AppContext.seed_secret`: the index
is taken for good in the swap database first, and an index whose hashlock ETM has seen is
skipped), so `swap recover` can find every swap again from the seed; only a context whose
secrets are injected, or whose keys are not a wallet's, draws random ones. A test
(``tests/unit/app/test_single_sources.py``) holds the engine, the client, the use cases, the
CLI and the demo to it. Tests and the demo inject their clock, secrets, keys, adapters or store.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

from ..adapter import ChainAdapter
from ..adapters_registry import create_adapter
from ..chain.keys import SigningKey
from ..chains.profile import ChainProfile
from ..chains.registry import chain_registry
from ..config import ETM, Config
from ..errors import ConfigError
from ..etm_client.endpoints import NodeSet
from ..etm_client.exchange import NodeExchange
from ..etm_client.htlc_leg import EtmAdapter
from ..etm_client.submit import Submitter
from ..hashlock import PREIMAGE_LEN, sha256
from ..node.client import NodeClient
from ..swaps.core.ids import user_swap_id
from ..swaps.core.policy import PolicyConfig
from ..swaps.runtime.store import SwapStore
from ..wallet import WalletPublic, load_keystore


class KeySource(Protocol):
    """Where a party's keys come from: an unlocked keystore (``UnlockedWallet``) or the demo's
    party record."""

    def etm_signing_key(self) -> SigningKey: ...

    def unsafe_export_chain_secret(self, label: str) -> bytes: ...

    def public(self) -> WalletPublic: ...


#: How many seed swap indexes :meth:`AppContext.seed_secret` skips because ETM has seen them.
USED_INDEX_SKIPS = 64


def _strong_secret() -> bytes:
    return secrets.token_bytes(PREIMAGE_LEN)


def _no_passphrase(confirm: bool) -> str:
    raise ConfigError("no keystore passphrase source (set ETM_BRIDGE_PASSPHRASE)")


@dataclass
class AppContext:
    """What one party's use cases run with (see the module docstring).

    ``config``: the loaded config (None when everything below is injected); ``passphrase``:
    ``confirm -> passphrase``; ``clock``: unix seconds; ``new_secret``: 32 fresh bytes;
    ``keys``: the party's keys (else the keystore is unlocked on first use); ``given``:
    adapters made elsewhere by leg name (the demo's), used instead of the config's;
    ``swaps_db``: the swap database (default: the home's); ``policy``: the engine's policy
    (default: the config's); ``relay_key``: the trusted relayer's key an operator feeds the
    relays that need one with (default: its own ETM key)."""

    config: Config | None = None
    passphrase: Callable[[bool], str] = _no_passphrase
    clock: Callable[[], float] = time.time
    new_secret: Callable[[], bytes] = _strong_secret
    keys: KeySource | None = None
    given: Mapping[str, ChainAdapter] = field(default_factory=dict)
    swaps_db: Path | None = None
    policy_config: PolicyConfig | None = None
    relay_key: SigningKey | None = None
    _adapters: dict[str, ChainAdapter] = field(default_factory=dict, init=False, repr=False)
    _exchanges: dict[bool, NodeExchange] = field(default_factory=dict, init=False, repr=False)
    _store: SwapStore | None = field(default=None, init=False, repr=False)

    # --- the single sources -------------------------------------------------------------------

    def now(self) -> int:
        """THE clock of swap terms, records and the watcher (unix seconds)."""
        return int(self.clock())

    def new_swap(self) -> tuple[bytes, bytes, str]:
        """(preimage, hashlock, swap id) of a new swap: the ONLY place a user's swap is made."""
        preimage = self.seed_secret()
        if preimage is None:
            preimage = self.new_secret()
        hashlock = sha256(preimage)
        return preimage, hashlock, user_swap_id(hashlock)

    def seed_secret(self) -> bytes | None:
        """The next swap secret from the wallet's seed (None when secrets are injected or the
        keys are not a wallet's). The index is reserved in the swap database before the
        secret is derived (a crash burns it, never reuses it); an index whose hashlock ETM
        already knows (an HTLC with it, or an intent reserving it: the database was lost and
        `swap recover` not run, or the wallet restored on a second machine while a swap in of
        the first waits for its proof) is skipped, up to :data:`USED_INDEX_SKIPS` of them."""
        if self.new_secret is not _strong_secret:
            return None
        wallet = self.wallet()
        derive = getattr(wallet, "unsafe_swap_secret", None)
        if derive is None:
            return None
        store = self.store()
        configured = self.config is not None or bool(self.given)
        node = self.node() if configured and self.etm_name_or_none() is not None else None
        for _ in range(USED_INDEX_SKIPS):
            preimage = cast(bytes, derive(store.reserve_swap_index()))
            if node is None or not node.hashlock_seen(sha256(preimage)):
                return preimage
        raise ConfigError(
            f"the next {USED_INDEX_SKIPS} swap secrets of this wallet were all used on ETM: the "
            "swap database looks lost or replaced; run `etm-bridge swap recover` first"
        )

    # --- config -------------------------------------------------------------------------------

    def require_config(self) -> Config:
        if self.config is None:
            raise ConfigError("this command needs a configuration (etm-bridge config)")
        return self.config

    @property
    def policy(self) -> PolicyConfig:
        if self.policy_config is not None:
            return self.policy_config
        return self.config.policy if self.config is not None else PolicyConfig()

    def chains(self) -> tuple[str, ...]:
        """The swap legs this party can use: injected adapters, else the configured chains."""
        if self.given:
            return tuple(self.given)
        return self.require_config().swap_chains()

    def resolve(self, text: str) -> str:
        """The leg a user means by ``text`` (a configured name, else a chain's name, ticker or
        alias)."""
        return chain_registry().resolve(text, self.chains())

    def adapter_entry(self, chain: str) -> str:
        """The adapter entry point of leg ``chain``."""
        if chain in self.given:
            return self.given[chain].name
        return self.require_config().adapter_of(chain) if chain != ETM else ETM

    def etm_name_or_none(self) -> str | None:
        """The leg name of the ETM chain (its adapter is ``etm``), None if not configured."""
        return next((n for n in self.chains() if self.adapter_entry(n) == ETM), None)

    def etm_name(self) -> str:
        name = self.etm_name_or_none()
        if name is None:
            raise ConfigError("pool swaps need the ETM chain configured ([etm] url)")
        return name

    def node(self, url: str | None = None) -> NodeClient:
        """A client of the ETM nodes for reads (``url``, else ``[etm] urls`` / ``url`` as a
        :class:`~etm_bridge.etm_client.endpoints.NodeSet`: reads from the endpoints the
        majority backs, writes to all): no key needed."""
        if url is not None:
            return NodeClient(url)
        name = self.etm_name_or_none()
        if name is None:  # says how to configure it
            return NodeClient(str(self.require_config().require("etm.url")))
        if name in self.given:
            return self.etm_leg().client
        options = self.require_config().chain_options(name)[1]
        urls = [str(u) for u in options.get("urls") or [options["url"]]]
        return NodeSet.from_urls(urls, admin_token=options.get("admin_token"))

    def foreign(self, chain: str) -> ChainProfile:
        """The foreign chain leg ``chain`` is on (its name, ticker or alias, else its
        adapter's); ConfigError if it is none (ETM, or an adapter no chain record knows)."""
        found = chain_registry().for_leg(chain, self.adapter_entry(chain))
        if found is None or found.exchange is None:
            raise ConfigError(f"chain {chain!r} has no ETM pool")
        return found

    # --- keys ---------------------------------------------------------------------------------

    def wallet(self) -> KeySource:
        """The party's keys, unlocking the keystore with the passphrase on first use."""
        if self.keys is None:
            path = self.require_config().keystore_path
            self.keys = load_keystore(path).unlock(self.passphrase(False))
        return self.keys

    def public_keys(self) -> WalletPublic:
        """The party's public keys: no passphrase (the keystore's public section)."""
        if self.keys is not None:
            return self.keys.public()
        return load_keystore(self.require_config().keystore_path).public

    # --- adapters, the ETM leg, the exchange, the store ---------------------------------------

    def adapter(self, chain: str) -> ChainAdapter:
        """The adapter of leg ``chain``, made once (config + wallet secret + registry)."""
        if chain in self.given:
            return self.given[chain]
        if chain not in self._adapters and self.adapter_entry(chain) == ETM:
            return self.etm_leg()
        if chain not in self._adapters:
            config = self.require_config()
            entry, options = config.adapter_options(chain, self.wallet())
            adapter = create_adapter(entry, options)
            config.check_opened_network(chain, adapter.info().network)
            self._adapters[chain] = adapter
        return self._adapters[chain]

    def adapters(self, only: Iterable[str] | None = None) -> dict[str, ChainAdapter]:
        """Adapters for ``only`` (default: every leg). Every chain's options are checked before
        the passphrase is asked."""
        names = list(only) if only is not None else list(self.chains())
        if not self.given:
            config = self.require_config()
            for name in names:
                config.chain_options(name)  # an unknown chain or a bad value fails first
        return {name: self.adapter(name) for name in names}

    def etm_leg(self) -> EtmAdapter:
        """The ETM leg (the core chain's own adapter class, made from ``[etm]`` and the
        wallet's ETM key; or the one injected under its leg name)."""
        name = self.etm_name()
        if name in self.given:
            return cast(EtmAdapter, self.given[name])  # injected: the demo's, the tests'
        if name not in self._adapters:
            _, options = self.require_config().adapter_options(name, self.wallet())
            self._adapters[name] = EtmAdapter.from_config(options)
        return cast(EtmAdapter, self._adapters[name])

    def exchange(self, *, trusted_relayer: bool = False) -> NodeExchange:
        """The exchange port, signing with the ETM leg's key and submitter. ``trusted_relayer``:
        our ETM key is one of the trusted relayers of the relays that need one (the pool
        operator's), so it also feeds those."""
        if trusted_relayer not in self._exchanges:
            etm = self.etm_leg()
            legs = {}
            for name in self.chains():
                found = chain_registry().for_leg(name, self.adapter_entry(name))
                if (
                    found is not None
                    and found.exchange is not None
                    and (self.adapter_entry(name) != ETM)
                ):
                    legs[name] = found
            sources = _LazyAdapters(self, tuple(legs))  # opened when a header is needed
            relay = None
            if trusted_relayer:
                key = self.relay_key
                own = key is None or key.seed == etm.key.seed
                relay = etm.submitter if key is None or own else Submitter(etm.client, key)
            self._exchanges[trusted_relayer] = NodeExchange(
                etm.submitter, etm, legs, sources, relay
            )
        return self._exchanges[trusted_relayer]

    def store(self) -> SwapStore:
        """The party's swap database (the home's ``swaps.db`` unless injected)."""
        if self._store is None:
            path = self.swaps_db or self.require_config().home.swaps_db
            path.parent.mkdir(parents=True, exist_ok=True)
            self._store = SwapStore(path)
        return self._store

    def close(self) -> None:
        """Close what this context opened (injected adapters are their owner's)."""
        for adapter in self._adapters.values():
            adapter.close()
        self._adapters.clear()
        if self._store is not None:
            self._store.close()
            self._store = None


class _LazyAdapters(Mapping[str, ChainAdapter]):
    """The exchange's header sources: the context's adapters, opened on first use."""

    def __init__(self, ctx: AppContext, names: tuple[str, ...]) -> None:
        self.ctx, self.names = ctx, names

    def __getitem__(self, name: str) -> ChainAdapter:
        if name not in self.names:
            raise KeyError(name)
        return self.ctx.adapter(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)
