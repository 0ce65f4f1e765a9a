"""The genesis block and initial state, built from a config (initial balances, delegates, params).

Config JSON (``GenesisConfig.to_json``)::

    {"params": {...ChainParams...},
     "balances": {"etm1...": 100000000000, ...},
     "delegates": [{"name": "genesis_1", "publicKey": "<64 hex>"}, ...],
     "plugins": {"spv": {...}}}

``plugins`` (optional, omitted when empty so older configs keep their hash) holds one JSON
section per transaction-type plug-in that needs initial state, e.g. the SPV relays' checkpoints.
A plug-in claims its section with ``Registry.add_genesis_section``; a section no loaded plug-in
claims is a :class:`~etm_bridge.errors.ConfigError` (it would silently do nothing).

The genesis block has height 0, ``previous_block`` = 32 zero bytes, timestamp =
``params.genesis_time``, no transactions, zero generator key, reveal and signature, the chain's
``network_id``, and ``payload_hash`` =
sha256 of the canonical config JSON, so the genesis id commits to the whole config. Each genesis
delegate's deposit is minted straight into the ``delegate_deposits`` escrow. Round 1's order is
``forging_order(genesis id, elected genesis delegates)``; the genesis id also starts round 1's
RANDAO accumulator.

The genesis id is also the **block signing domain** (``block.BlockHeader.signing_root``): it is
written to state at genesis (``meta/genesis_id``, as beacon chains keep ``genesis_validators_root``
in its state), so every rule that checks a block signature, the slashing transaction's included,
reads it from the state it checks against (:func:`signing_genesis_id`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ConfigError, ValidationError
from ..units import ETM
from .address import address_hash, decode_address, encode_address
from .block import ZERO32, Block, BlockHeader
from .codec import sha256
from .keys import SigningKey, dev_key
from .params import ChainParams
from .state import META, State, StateView, canonical_json
from .tx_delegates import DEPOSIT_ESCROW, put_delegate


@dataclass(frozen=True)
class GenesisDelegate:
    name: str
    public_key: bytes


@dataclass(frozen=True)
class GenesisConfig:
    params: ChainParams
    balances: tuple[tuple[bytes, int], ...] = ()
    delegates: tuple[GenesisDelegate, ...] = field(default=())
    #: (section name, canonical JSON text) per plug-in section, sorted by name.
    plugin_sections: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.delegates:
            raise ConfigError("genesis needs at least one delegate")
        keys = [d.public_key for d in self.delegates]
        if len(set(keys)) != len(keys) or len({d.name for d in self.delegates}) != len(keys):
            raise ConfigError("genesis delegates must have distinct names and keys")
        for d in self.delegates:
            if len(d.public_key) != 32:
                raise ConfigError(f"genesis delegate {d.name!r}: publicKey must be 32 bytes")
        if len({addr for addr, _ in self.balances}) != len(self.balances):
            raise ConfigError("genesis balances name an address twice (e.g. upper and lower case)")
        for addr, amount in self.balances:
            exact = isinstance(amount, int) and not isinstance(amount, bool)
            if len(addr) != 20 or not exact or not 0 <= amount < 2**63:
                raise ConfigError(f"bad genesis balance {addr.hex()}: {amount!r}")

    def to_json(self) -> dict[str, Any]:
        out = {
            "params": self.params.to_json(),
            "balances": {encode_address(a): v for a, v in sorted(self.balances)},
            "delegates": [
                {"name": d.name, "publicKey": d.public_key.hex()} for d in self.delegates
            ],
        }
        if self.plugin_sections:
            out["plugins"] = {name: json.loads(text) for name, text in self.plugin_sections}
        return out

    def with_plugin_section(self, name: str, data: Any) -> GenesisConfig:
        """A copy with plug-in section ``name`` set to the JSON value ``data``."""
        sections = dict(self.plugin_sections)
        sections[name] = canonical_json(data).decode()
        return replace(self, plugin_sections=tuple(sorted(sections.items())))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GenesisConfig:
        try:
            params = ChainParams.from_json(data["params"])
            balances = tuple(sorted((decode_address(a), v) for a, v in data["balances"].items()))
            delegates = tuple(
                GenesisDelegate(d["name"], bytes.fromhex(d["publicKey"])) for d in data["delegates"]
            )
            plugins = data.get("plugins", {})
            sections = tuple(
                sorted((str(k), canonical_json(v).decode()) for k, v in plugins.items())
            )
        except KeyError as exc:
            raise ConfigError(f"malformed genesis config: missing field {exc}") from exc
        except (TypeError, ValueError, ValidationError, AttributeError) as exc:
            raise ConfigError(f"malformed genesis config: {exc}") from exc
        return cls(params, balances, delegates, sections)

    def config_hash(self) -> bytes:
        return sha256(canonical_json(self.to_json()))


def genesis_block(cfg: GenesisConfig) -> Block:
    header = BlockHeader(
        version=cfg.params.block_version, network=cfg.params.network_id,
        timestamp=cfg.params.genesis_time, height=0,
        previous_block=ZERO32, number_of_transactions=0, total_amount=0, total_fee=0, reward=0,
        payload_length=0, payload_hash=cfg.config_hash(), generator_public_key=ZERO32,
    )  # fmt: skip
    return Block(header)


GENESIS_ID_KEY = b"genesis_id"


def signing_genesis_id(view: StateView) -> bytes:
    """The chain's genesis id as recorded in its state: the domain of every block signature."""
    raw = view.get(META, GENESIS_ID_KEY)
    if raw is None or len(raw) != 32:
        raise ValidationError(
            "state has no genesis id (meta/genesis_id): the chain was made before block"
            " signatures were bound to their genesis; re-create it (node init --force)"
        )
    return raw


def apply_genesis(state: State, cfg: GenesisConfig) -> None:
    """Write the genesis id (the signing domain), the initial balances and delegates (round 1 is
    opened by ``rounds.open_round``)."""
    state.put(META, GENESIS_ID_KEY, genesis_block(cfg).id)
    for addr, amount in cfg.balances:
        state.mint(addr, amount)
    for d in cfg.delegates:
        addr = address_hash(d.public_key)
        state.mint(addr, cfg.params.delegate_deposit)
        state.to_escrow(addr, cfg.params.delegate_deposit, DEPOSIT_ESCROW)
        put_delegate(state, d.public_key, d.name, cfg.params.delegate_deposit, 0)


def apply_plugin_sections(
    state: State, cfg: GenesisConfig, inits: Mapping[str, Callable[[State, Any], None]]
) -> None:
    """Run each plug-in's genesis initialiser on its section (``inits``: from the registry)."""
    for name, text in cfg.plugin_sections:
        init = inits.get(name)
        if init is None:
            raise ConfigError(
                f"genesis section plugins.{name} is claimed by no plug-in in tx_plugins"
            )
        init(state, json.loads(text))


def dev_genesis(
    params: ChainParams, n_delegates: int, funded: int = 10, each: int = 1_000_000 * ETM
) -> tuple[GenesisConfig, dict[bytes, SigningKey]]:
    """UNSAFE for real funds: a development chain with deterministic keys.

    Delegates are ``dev_key("delegate-<i>")``; ``funded`` accounts ``dev_key("user-<i>")`` get
    ``each`` base units. Returns the config and the delegates' keys by public key.
    """
    keys = [dev_key(f"delegate-{i}") for i in range(n_delegates)]
    users = [dev_key(f"user-{i}") for i in range(funded)]
    delegates = tuple(GenesisDelegate(f"genesis_{i}", k.public_key) for i, k in enumerate(keys))
    balances = tuple(sorted((address_hash(u.public_key), each) for u in users))
    return GenesisConfig(params, balances, delegates), {k.public_key: k for k in keys}
