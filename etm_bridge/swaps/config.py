"""Where the swap engine keeps its files and how it reaches each chain, read once.

The home directory (``--home``, else ``$ETM_BRIDGE_HOME``, else ``./.etm/swaps``) holds
``config.toml`` and ``swaps.db``. The keys come from the user's wallet keystore
(:mod:`etm_bridge.wallet`, made by ``etm-bridge wallet new``): ``keystore = "<path>"`` at the top
of ``config.toml`` (relative to the home), else ``$ETM_BRIDGE_KEYSTORE``, else the wallet's
default ``~/.local/share/etm-bridge/keystore.json``. ``config.toml`` names one table per
chain the swaps use; the table's keys are the adapter's own ``from_config`` options, plus
``adapter`` (the entry-point name, default: the chain's name) and ``key`` (which wallet key signs
for it: ``btc``, ``eth`` or ``etm``). The secret is injected under the option the adapter
expects (``secret_hex``, or ``private_key`` for Ethereum; override with ``secret_field``)::

    [chains.bitcoin]
    rpc_url = "http://127.0.0.1:18443"
    rpc_user = "etm"
    rpc_password = "..."
    data_dir = ".etm/swaps/bitcoin"

    [chains.ethereum]
    rpc_url = "http://127.0.0.1:8545"
    htlc_address = "0x..."
    data_dir = ".etm/swaps/ethereum"

    [policy]            # optional: etm_bridge.swaps.policy.PolicyConfig fields
    leg_margin_s = 21600
    reveal_margin_s = 7200       # time a foreign counter lock must still have when we reveal
    etm_reveal_margin_s = 600    # the same on ETM
    min_counter_lock_s = 10800   # shortest foreign counter lock we accept

Without ``config.toml``, the local stack is used by default: when the stack's ``stack.json``
(``$ETM_STACK_DIR``, else ``./.etm/stack``, written by ``etm-bridge stack up``) exists and its
Bitcoin node is on regtest, :func:`stack_chains` gives ``bitcoin`` (its RPC, birth height 0),
``ethereum`` (anvil and the stack's EtherSwap HTLC, when the stack deployed one) and ``etm`` (the
node's API), with data dirs under the home, and the policy retries every 2 s and proves the
user's own lock at once (regtest blocks come on demand).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..adapter import ChainAdapter
from ..adapters_registry import create_adapter
from ..errors import ConfigError
from .policy import PolicyConfig

if TYPE_CHECKING:  # the wallet package is only needed for its type here
    from ..wallet import UnlockedWallet

DEFAULT_KEYS = {"bitcoin": "btc", "ethereum": "eth", "etm": "etm"}
SECRET_FIELDS = {"ethereum": "private_key"}


@dataclass(frozen=True)
class EngineConfig:
    home: Path
    chains: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    keystore: Path | None = None

    @property
    def db_path(self) -> Path:
        return self.home / "swaps.db"

    @property
    def keystore_path(self) -> Path:
        """``keystore`` in config.toml, else ``$ETM_BRIDGE_KEYSTORE``, else the wallet CLI's
        default ``$XDG_DATA_HOME/etm-bridge/keystore.json`` (``~/.local/share/...``)."""
        if self.keystore is not None:
            return self.keystore
        if os.environ.get("ETM_BRIDGE_KEYSTORE"):
            return Path(os.environ["ETM_BRIDGE_KEYSTORE"]).expanduser()
        data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        return data / "etm-bridge" / "keystore.json"

    @classmethod
    def load(cls, home: Path | str | None = None) -> EngineConfig:
        root = Path(home or os.environ.get("ETM_BRIDGE_HOME") or Path.cwd() / ".etm" / "swaps")
        path = root / "config.toml"
        root = root.resolve()
        if not path.exists():
            chains = stack_chains(root)
            return cls(root, chains, STACK_POLICY) if chains else cls(root)
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        chains = raw.get("chains", {})
        if not isinstance(chains, dict) or not all(isinstance(v, dict) for v in chains.values()):
            raise ConfigError(f"{path}: [chains.<name>] must be tables")
        try:
            policy = PolicyConfig(**raw.get("policy", {}))
        except TypeError as exc:
            raise ConfigError(f"{path}: [policy]: {exc}") from None
        keystore = raw.get("keystore")
        if keystore is not None and not isinstance(keystore, str):
            raise ConfigError(f"{path}: keystore must be a path string")
        return cls(root, chains, policy, root / keystore if keystore else None)

    def chain(self, name: str) -> Mapping[str, Any]:
        try:
            return self.chains[name]
        except KeyError:
            known = ", ".join(sorted(self.chains)) or "none"
            raise ConfigError(
                f"chain {name!r} is not configured in {self.home / 'config.toml'} "
                f"(configured: {known}); add a [chains.{name}] section "
                "(see docs/swaps.md, 'Command line') or use a configured chain name"
            ) from None

    def adapter_options(self, name: str, wallet: UnlockedWallet) -> tuple[str, dict[str, Any]]:
        """(entry-point name, from_config mapping with the secret injected) of chain ``name``."""
        options = dict(self.chain(name))
        kind = str(options.pop("adapter", name))
        key_name = str(options.pop("key", DEFAULT_KEYS.get(kind, "etm")))
        secret_field = str(options.pop("secret_field", SECRET_FIELDS.get(kind, "secret_hex")))
        secret = _secret(wallet, key_name)
        options[secret_field] = "0x" + secret if secret_field == "private_key" else secret
        return kind, options

    def build_adapters(
        self, wallet: UnlockedWallet, only: list[str] | None = None
    ) -> dict[str, ChainAdapter]:
        """One adapter per configured chain (or per chain in ``only``)."""
        adapters: dict[str, ChainAdapter] = {}
        for name in only or sorted(self.chains):
            kind, options = self.adapter_options(name, wallet)
            adapters[name] = create_adapter(kind, options)
        return adapters


STACK_POLICY = PolicyConfig(retry_after_s=2, user_proof_delay_blocks=0)


def stack_chains(home: Path, env: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The local regtest stack's chains as ``[chains.*]`` tables ({} without a regtest stack)."""
    env = os.environ if env is None else env
    state_dir = Path(env.get("ETM_STACK_DIR") or Path.cwd() / ".etm" / "stack")
    try:
        state = json.loads((state_dir / "stack.json").read_text())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise ConfigError(f"{state_dir / 'stack.json'} is not valid JSON ({exc})") from None
    btc, anvil, etm = (state.get(k) or {} for k in ("bitcoin", "anvil", "etm"))
    if btc.get("network") != "regtest":
        return {}
    chains: dict[str, dict[str, Any]] = {}
    if btc.get("rpc_url"):
        chains["bitcoin"] = {
            "rpc_url": btc["rpc_url"], "rpc_user": btc.get("rpc_user"),
            "rpc_password": btc.get("rpc_password"), "network": "regtest",
            "birth_height": 0, "data_dir": str(home / "bitcoin"),
        }  # fmt: skip
    pool = etm.get("eth_pool") or {}
    if anvil.get("rpc_url") and pool.get("htlc_address"):
        chains["ethereum"] = {
            "rpc_url": anvil["rpc_url"], "htlc_address": pool["htlc_address"],
            "from_block": int(pool.get("htlc_block", 0)), "data_dir": str(home / "ethereum"),
        }  # fmt: skip
    if etm.get("rpc_url"):
        chains["etm"] = {"url": etm["rpc_url"]}
    return chains


def _secret(wallet: UnlockedWallet, key_name: str) -> str:
    """The hex secret of wallet key ``key_name`` (``btc``, ``eth`` or ``etm``)."""
    if key_name == "btc":
        return wallet.unsafe_export_btc_secret().hex()
    if key_name == "eth":
        return wallet.unsafe_export_eth_private_key().removeprefix("0x")
    if key_name == "etm":
        return wallet.unsafe_export_etm_seed().hex()
    raise ConfigError(f"unknown wallet key {key_name!r}: use btc, eth or etm")
