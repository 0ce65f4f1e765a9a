"""The ETM node's own configuration (not consensus): where it keeps data, where it listens.

Stored as ``node.json`` in the node's data directory next to ``genesis.json`` (the chain's
consensus config, owned by ``etm_bridge.chain``), ``chain.sqlite`` (the store) and
``forging_keys.json`` (seeds of the delegate keys this node forges with; development only) and
``slashing_protection.sqlite`` (the highest slot each key signed: never delete it while the keys
may forge; see ``slashing_protection.py``). The files with secrets (``node.json``: the admin
token; ``forging_keys.json``) are written and read through :mod:`etm_bridge.private_files`: mode
0600, atomic, never through a symlink. ``admin_token`` guards every endpoint that is not a read
or a signed transaction.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..private_files import read_private, write_private
from .p2p.settings import P2PSettings

NODE_CONFIG = "node.json"
GENESIS_CONFIG = "genesis.json"
FORGING_KEYS = "forging_keys.json"
CHAIN_DB = "chain.sqlite"
SLASHING_PROTECTION_DB = "slashing_protection.sqlite"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 26657
#: Largest request body accepted (a full tx is at most ~1 MiB payload + header; hex doubles it).
DEFAULT_MAX_BODY_BYTES = 2_200_000
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
#: field -> the JSON type its value must have in ``node.json``.
_FIELD_TYPES: dict[str, type] = {
    "admin_token": str,
    "host": str,
    "port": int,
    "max_body_bytes": int,
    "forging": bool,
    "log_level": str,
    "peers": tuple,
    "peer_exchange": bool,
    "max_outbound": int,
    "max_inbound": int,
    "max_inbound_per_ip": int,
    "ban_seconds": int,
    "unsafe_censor": str,
}


@dataclass(frozen=True)
class NodeConfig:
    """How one node runs. ``data_dir`` is not stored in the file (it is where the file is)."""

    data_dir: Path
    admin_token: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    forging: bool = True
    log_level: str = "warning"
    #: Peer layer (docs/network.md): HOST:PORT of peers to keep connected, peer exchange,
    #: connection limits, how long a misbehaving peer stays banned.
    peers: tuple[str, ...] = ()
    peer_exchange: bool = True
    max_outbound: int = 8
    max_inbound: int = 32
    max_inbound_per_ip: int = 4
    ban_seconds: int = 3600
    #: TEST-ONLY (``node.censor``): ``tx-types=NAME,...`` this node accepts but never relays
    #: nor includes; dev networks only. Empty: an honest node.
    unsafe_censor: str = ""

    def __post_init__(self) -> None:
        for name, kind in _FIELD_TYPES.items():
            value = getattr(self, name)
            # bool is an int subclass: "port": true must not pass as port 1.
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ConfigError(f"{name} must be a {kind.__name__}, got {value!r}")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"log_level {self.log_level!r} is not one of {', '.join(LOG_LEVELS)}")
        if len(self.admin_token) < 16:
            raise ConfigError("admin_token must be at least 16 characters")
        if not 0 <= self.port < 65536:
            raise ConfigError(f"port {self.port} is outside 0..65535")
        if self.max_body_bytes < 1024:
            raise ConfigError("max_body_bytes must be at least 1024")
        if not all(isinstance(p, str) for p in self.peers):
            raise ConfigError("peers must be a list of HOST:PORT strings")
        self.p2p_settings()  # raises ConfigError naming a bad peer address or limit

    def p2p_settings(self) -> P2PSettings:
        return P2PSettings(
            peers=self.peers,
            peer_exchange=self.peer_exchange,
            max_outbound=self.max_outbound,
            max_inbound=self.max_inbound,
            max_inbound_per_ip=self.max_inbound_per_ip,
            ban_seconds=self.ban_seconds,
        )

    @property
    def genesis_path(self) -> Path:
        return self.data_dir / GENESIS_CONFIG

    @property
    def db_path(self) -> Path:
        return self.data_dir / CHAIN_DB

    @property
    def forging_keys_path(self) -> Path:
        return self.data_dir / FORGING_KEYS

    @property
    def slashing_protection_path(self) -> Path:
        return self.data_dir / SLASHING_PROTECTION_DB

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        del out["data_dir"]
        out["peers"] = list(self.peers)
        return out

    def save(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        write_private(self.data_dir / NODE_CONFIG, json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, data_dir: Path, **overrides: Any) -> NodeConfig:
        """Read ``node.json``; ``overrides`` that are not None replace file values."""
        path = Path(data_dir) / NODE_CONFIG
        text = read_private(path)
        if text is None:
            raise ConfigError(f"{path} not found: run `etm-bridge node init` first")
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path} must hold a JSON object, got {type(raw).__name__}")
        known = {f.name for f in fields(cls)} - {"data_dir"}
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(f"{path}: unknown keys {sorted(unknown)}")
        raw.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(raw.get("peers"), list):
            raw["peers"] = tuple(raw["peers"])
        return cls(data_dir=Path(data_dir), **raw)


def new_admin_token() -> str:
    return secrets.token_hex(24)
