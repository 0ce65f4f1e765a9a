"""The genesis block and initial state, built from a config (initial balances, delegates, params).

Config JSON (``GenesisConfig.to_json``)::

    {"params": {...ChainParams...},
     "balances": {"etm1...": 100000000000, ...},
     "delegates": [{"name": "genesis_1", "publicKey": "<64 hex>"}, ...]}

The genesis block has height 0, ``previous_block`` = 32 zero bytes, timestamp =
``params.genesis_time``, no transactions, zero generator key and signature, and ``payload_hash`` =
sha256 of the canonical config JSON, so the genesis id commits to the whole config. Each genesis
delegate's deposit is minted straight into the ``delegate_deposits`` escrow. Round 1's order is
``forging_order(genesis id, elected genesis delegates)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, ValidationError
from ..units import ETM
from .address import address_hash, decode_address, encode_address
from .block import ZERO32, Block, BlockHeader
from .codec import sha256
from .keys import SigningKey, dev_key
from .params import ChainParams
from .state import State, canonical_json
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

    def __post_init__(self) -> None:
        if not self.delegates:
            raise ConfigError("genesis needs at least one delegate")
        keys = [d.public_key for d in self.delegates]
        if len(set(keys)) != len(keys) or len({d.name for d in self.delegates}) != len(keys):
            raise ConfigError("genesis delegates must have distinct names and keys")
        for addr, amount in self.balances:
            if len(addr) != 20 or not isinstance(amount, int) or not 0 <= amount < 2**63:
                raise ConfigError(f"bad genesis balance {addr.hex()}: {amount}")

    def to_json(self) -> dict[str, Any]:
        return {
            "params": self.params.to_json(),
            "balances": {encode_address(a): v for a, v in sorted(self.balances)},
            "delegates": [
                {"name": d.name, "publicKey": d.public_key.hex()} for d in self.delegates
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GenesisConfig:
        try:
            params = ChainParams.from_json(data["params"])
            balances = tuple(
                sorted((decode_address(a), int(v)) for a, v in data["balances"].items())
            )
            delegates = tuple(
                GenesisDelegate(d["name"], bytes.fromhex(d["publicKey"])) for d in data["delegates"]
            )
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise ConfigError(f"malformed genesis config: {exc}") from exc
        return cls(params, balances, delegates)

    def config_hash(self) -> bytes:
        return sha256(canonical_json(self.to_json()))


def genesis_block(cfg: GenesisConfig) -> Block:
    header = BlockHeader(
        version=cfg.params.block_version, timestamp=cfg.params.genesis_time, height=0,
        previous_block=ZERO32, number_of_transactions=0, total_amount=0, total_fee=0, reward=0,
        payload_length=0, payload_hash=cfg.config_hash(), generator_public_key=ZERO32,
    )  # fmt: skip
    return Block(header)


def apply_genesis(state: State, cfg: GenesisConfig) -> None:
    """Write the initial balances and delegates (round 1 is opened by ``rounds.open_round``)."""
    for addr, amount in cfg.balances:
        state.mint(addr, amount)
    for d in cfg.delegates:
        addr = address_hash(d.public_key)
        state.mint(addr, cfg.params.delegate_deposit)
        state.to_escrow(addr, cfg.params.delegate_deposit, DEPOSIT_ESCROW)
        put_delegate(state, d.public_key, d.name, cfg.params.delegate_deposit, 0)


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
