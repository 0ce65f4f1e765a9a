"""The merged config: typed reads of the fixed keys, the chain tables, and adapter options.

:meth:`Config.adapter_options` is the one place a wallet secret is put into an adapter's
``from_config`` mapping. A chain table's own keys are checked against its adapter's
``CONFIG_KEYS`` (when it declares them) in :meth:`Config.chain_options`, which imports the
adapter: only commands that use a chain pay for that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import AdapterLoadError, ConfigError, ValidationError
from ..swaps.core.policy import PolicyConfig
from ..wallet.keystore import KdfParams
from .home import Home
from .schema import CHAIN_META, SETTINGS, coerce, env_name, is_secret, setting_for
from .sources import Entry

#: The core chain's name as a swap leg (its adapter entry point too); configured by ``[etm]``.
ETM = "etm"
#: the names chains give their main network (``mainnet``, or ``main`` as some nodes call it).
MAIN_NETWORK_NAMES = frozenset({"mainnet", "main"})


class ChainSecrets(Protocol):
    """What :meth:`Config.adapter_options` needs of a wallet (UnlockedWallet implements it)."""

    def unsafe_export_chain_secret(self, label: str) -> bytes: ...


@dataclass(frozen=True)
class Config:
    """One command's configuration, read once (:func:`etm_bridge.config.load_config`).

    ``values``: every fixed key (defaults included); ``sources``: where each set key came from;
    ``chains``: chain name -> option -> the entry that set it; ``notes``: one-line deprecation
    notes for the user (the CLI prints them on stderr).
    """

    home: Home
    values: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)
    chains: Mapping[str, Mapping[str, Entry]] = field(default_factory=dict)
    file: Path | None = None
    notes: tuple[str, ...] = ()

    # --- fixed keys ---------------------------------------------------------------------------

    def get(self, key: str) -> Any:
        """The value of a fixed key or of ``chains.<name>.<option>`` (as read), None if unset."""
        if key in SETTINGS:
            return self.values.get(key)
        parts = key.split(".", 2)
        if len(parts) == 3 and parts[0] == "chains":
            entry = self.chains.get(parts[1], {}).get(parts[2])
            return None if entry is None else entry.value
        raise KeyError(f"unknown setting {key!r}")

    def require(self, key: str) -> Any:
        """The value of ``key``; ConfigError saying how to set it when it is unset."""
        value = self.get(key)
        if value is None:
            raise ConfigError(
                f"no {key} configured: set it in the config file ({self.config_path}), or "
                f"{env_name(key)}, or start the local stack (`etm-bridge stack up`)"
            )
        return value

    @property
    def config_path(self) -> Path:
        """The file that was read, else where the home's would be."""
        return self.file or self.home.config_path

    @property
    def network(self) -> str:
        return str(self.values["network"])

    @property
    def keystore_path(self) -> Path:
        keystore = self.values.get("keystore")
        return Path(keystore) if keystore is not None else self.home.keystore_path

    @property
    def etm_urls(self) -> tuple[str, ...]:
        """The ETM endpoints: ``etm.urls``, else ``etm.url`` as a list of one (the loader keeps
        only the one the higher layer set, see ``loader._merge``)."""
        urls = self.values.get("etm.urls")
        if urls:
            return tuple(urls)
        url = self.values.get("etm.url")
        return (url,) if url else ()

    @property
    def etm_url(self) -> str | None:
        """The first ETM endpoint (for reads that need one node's URL)."""
        urls = self.etm_urls
        return urls[0] if urls else None

    def kdf(self) -> KdfParams:
        try:
            return KdfParams(self.values["kdf.opslimit"], self.values["kdf.memlimit"])
        except ValidationError as exc:
            where = [self.sources.get(k, "default") for k in ("kdf.opslimit", "kdf.memlimit")]
            raise ConfigError(
                f"{exc} (kdf.opslimit from {where[0]}, kdf.memlimit from {where[1]})"
            ) from None

    @property
    def policy(self) -> PolicyConfig:
        prefix = "policy."
        return PolicyConfig(
            **{k[len(prefix) :]: v for k, v in self.values.items() if k.startswith(prefix)}
        )

    # --- chains -------------------------------------------------------------------------------

    @property
    def chain_names(self) -> tuple[str, ...]:
        """The configured ``[chains.<name>]`` tables, sorted."""
        return tuple(sorted(self.chains))

    def adapter_of(self, name: str) -> str:
        """The adapter entry point of chain ``name`` (its ``adapter`` key, else the name)."""
        entry = self.chains.get(name, {}).get("adapter")
        return name if entry is None else str(entry.value)

    def swap_chains(self) -> tuple[str, ...]:
        """The chains the swap engine opens: every table, plus ``etm`` (the core chain, from
        ``[etm] url``) unless a table already uses the ETM adapter."""
        names = self.chain_names
        has_etm = any(self.adapter_of(n) == ETM for n in names)
        return names if has_etm or self.etm_url is None else (*names, ETM)

    def _table(self, name: str) -> Mapping[str, Entry]:
        try:
            return self.chains[name]
        except KeyError:
            known = ", ".join(self.swap_chains()) or "none"
            raise ConfigError(
                f"chain {name!r} is not configured (configured: {known}); add a "
                f"[chains.{name}] table to {self.config_path} (see docs/config.md) or use a "
                "configured chain name"
            ) from None

    def chain_options(self, name: str) -> tuple[str, dict[str, Any]]:
        """(adapter entry point, ``from_config`` options without the secret) of chain ``name``.

        Each option is checked against the adapter's ``CONFIG_KEYS`` when it declares them (an
        unknown key or a bad value is a ConfigError naming the key and its source); ``data_dir``
        defaults to ``<home>/<name>``. The ETM leg (``etm``) comes from ``[etm]``.
        """
        if name == ETM and name not in self.chains:
            if not self.etm_urls:
                self.require("etm.url")  # raises, saying how to set it
            urls = self.etm_urls
            return ETM, {"url": urls[0], **({"urls": list(urls)} if len(urls) > 1 else {})}
        table = self._table(name)
        self._check_network(name, table)
        adapter = self.adapter_of(name)
        declared = _adapter_class(name, adapter, table).CONFIG_KEYS
        options: dict[str, Any] = {}
        for option, entry in table.items():
            if option in CHAIN_META:
                continue
            dotted = f"chains.{name}.{option}"
            if declared is not None and option not in declared:
                known = ", ".join(f"chains.{name}.{k}" for k in [*CHAIN_META, *declared])
                raise ConfigError(f"unknown key {dotted!r} in {entry.source}; known keys: {known}")
            value = entry.value
            if declared is not None:
                kind = setting_for(declared[option])
                value = coerce(dotted, value, kind, entry.source, entry.base_dir)
            options[option] = str(value) if isinstance(value, Path) else value
        if declared is None or "data_dir" in declared:
            data_dir = table.get("data_dir")
            chosen = self.home.chain_data_dir(name) if data_dir is None else data_dir.value
            options["data_dir"] = str(chosen)
        return adapter, options

    def _check_network(self, name: str, table: Mapping[str, Entry]) -> None:
        """A chain's own ``network`` must be as real as the wallet's: a mainnet wallet with one
        chain on a test network (or the reverse) would show addresses and confirmation
        defaults of one and move coins on the other. Test networks may differ by name
        (a `regtest` wallet beside a chain whose dev network has another name)."""
        entry = table.get("network")
        if entry is None or _is_main(str(entry.value)) == _is_main(self.network):
            return
        raise ConfigError(
            f"chains.{name}.network is {entry.value!r} (from {entry.source}) but the wallet's "
            f"network is {self.network!r} (from {self.sources.get('network', 'default')}): "
            'a chain on mainnet needs network = "mainnet" and the reverse; fix one of them'
        )

    def check_opened_network(self, name: str, network: str) -> None:
        """After chain ``name``'s adapter opened: the network it says it is on (``info()``,
        its configured one, its default, or what its node reports) must be as real as the
        wallet's. :meth:`_check_network` sees only a ``network`` the table sets, so a table
        without one took the adapter's default or the node's word unchecked: a mainnet wallet
        beside a default test network, or a test wallet beside a node on a main network."""
        if _is_main(network) == _is_main(self.network):
            return
        raise ConfigError(
            f"chains.{name} is on network {network!r} (no network key, or what its node "
            f"reports) but the wallet's network is {self.network!r} (from "
            f"{self.sources.get('network', 'default')}): set chains.{name}.network and point "
            "rpc_url at a node of the wallet's kind of network, or change the wallet's"
        )

    def adapter_options(self, name: str, keys: ChainSecrets) -> tuple[str, dict[str, Any]]:
        """(adapter entry point, ``from_config`` mapping) of chain ``name`` with the wallet's
        secret injected: the key labelled ``key`` (default: the adapter's ``WALLET_KEY``) under
        ``secret_field`` (default: the adapter's ``SECRET_FIELD``). The one place secrets go in.
        """
        adapter, options = self.chain_options(name)
        table = self.chains.get(name, {})
        cls = _adapter_class(name, adapter, table)
        label_entry, field_entry = table.get("key"), table.get("secret_field")
        label = cls.WALLET_KEY if label_entry is None else str(label_entry.value)
        secret_field = cls.SECRET_FIELD if field_entry is None else str(field_entry.value)
        try:
            secret = keys.unsafe_export_chain_secret(label)
        except ValidationError as exc:
            where = "the adapter's default" if label_entry is None else label_entry.source
            raise ConfigError(f"chains.{name}.key {label!r} (from {where}): {exc}") from None
        options[secret_field] = ("0x" if secret_field == "private_key" else "") + secret.hex()
        return adapter, options

    # --- for a future `config show` -----------------------------------------------------------

    def describe(self) -> dict[str, dict[str, Any]]:
        """key -> {"value", "source"} for every fixed key and chain option; secrets masked."""
        rows = {k: (v, self.sources.get(k, "default")) for k, v in self.values.items()}
        for name, table in self.chains.items():
            rows.update({f"chains.{name}.{k}": (e.value, e.source) for k, e in table.items()})
        return {
            key: {
                "value": "***" if is_secret(key) and value is not None else _jsonable(value),
                "source": source,
            }
            for key, (value, source) in sorted(rows.items())
        }


def _is_main(network: str) -> bool:
    return network.lower() in MAIN_NETWORK_NAMES


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


def _adapter_class(name: str, adapter: str, table: Mapping[str, Entry]) -> Any:
    from ..adapters_registry import load_adapter_class  # imports the plugin: only when used

    try:
        return load_adapter_class(adapter)
    except AdapterLoadError as exc:
        entry = table.get("adapter")
        where = f" (adapter from {entry.source})" if entry is not None else ""
        raise ConfigError(f"chain {name!r}{where}: {exc}") from None
