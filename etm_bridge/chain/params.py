"""Chain parameters and the ETM epoch.

Timestamps on the ETM chain are u32 **seconds since the ETM epoch, 2026-01-01T00:00:00Z**
(unix 1767225600), valid until 2162. Slots: ``slot = (timestamp - genesis_time) // block_time_s``.
:class:`ChainParams` is part of the genesis config: every node of a chain must use the same values.
Amounts are integer base units (1 ETM = 10**8).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import ConfigError
from ..units import ETM
from .block import BLOCK_VERSION

ETM_EPOCH_UNIX = 1_767_225_600
#: Transaction-type plugin modules loaded by default (each exposes ``register(registry)``).
DEFAULT_TX_PLUGINS: tuple[str, ...] = ()


def etm_time(unix_seconds: float) -> int:
    """Seconds since the ETM epoch for a unix time (floored)."""
    t = int(unix_seconds) - ETM_EPOCH_UNIX
    if not 0 <= t < 2**32:
        raise ConfigError(f"unix time {unix_seconds} is outside the ETM epoch's u32 range")
    return t


#: The hashing test stays *light* (whitepaper 5.1 item 4): at most 2**16 expected nonce tries,
#: well under a second of one core. A harder target would hold the forger (and the node's one
#: event-loop thread) for minutes per block, so it is refused when the parameters are built.
MAX_HASH_TEST_BITS = 16
MIN_HASH_TARGET = 2 ** (256 - MAX_HASH_TEST_BITS)


@dataclass(frozen=True)
class ChainParams:
    """Consensus parameters (see docs/chain.md for each one's role)."""

    network_id: int = 0x45544D01  # "ETM" + 1: dev network
    genesis_time: int = 0  # ETM-epoch seconds of slot 0
    block_time_s: int = 10
    delegates_per_round: int = 5  # N: 101 for production-like configs
    block_reward: int = 5 * ETM
    round_voter_reward: int = 10 * ETM  # minted per round for tribunals
    fixed_reward_share_ppm: int = 500_000  # share of round_voter_reward paid by weight alone
    fee_base: int = 10_000
    fee_per_byte: int = 10
    delegate_deposit: int = 1_000 * ETM
    max_votes_per_account: int = 5
    hash_target: int = 2**252  # light hashing test: sha256d(header) < target (~16 tries)
    max_txs_per_block: int = 5_000
    max_block_payload_bytes: int = 4 << 20
    max_clock_drift_s: int = 5
    block_version: int = BLOCK_VERSION  # 2: network id and RANDAO reveal in the header
    tx_plugins: tuple[str, ...] = DEFAULT_TX_PLUGINS

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "tx_plugins" and (not isinstance(value, int) or value < 0):
                raise ConfigError(f"chain parameter {f.name} must be a non-negative integer")
        if self.block_time_s < 1:
            raise ConfigError("block_time_s must be at least 1 second (timestamps are seconds)")
        if self.delegates_per_round < 1:
            raise ConfigError("delegates_per_round must be at least 1")
        if not MIN_HASH_TARGET <= self.hash_target <= 2**256:
            raise ConfigError(
                f"hash_target must be in [2**{256 - MAX_HASH_TEST_BITS}, 2**256] (a light test:"
                f" at most 2**{MAX_HASH_TEST_BITS} expected tries), got {hex(self.hash_target)}"
            )
        if self.fixed_reward_share_ppm > 1_000_000:
            raise ConfigError("fixed_reward_share_ppm must be at most 1000000")
        if self.network_id >= 2**32:
            raise ConfigError("network_id must fit in u32")
        if self.block_version != BLOCK_VERSION:
            raise ConfigError(
                f"block_version {self.block_version} is not supported: this node writes and reads"
                f" version-{BLOCK_VERSION} headers (network id and RANDAO reveal signed); a"
                " development chain made by an older release must be re-created"
                " (`etm-bridge node init --force`)"
            )

    def slot_of(self, timestamp: int) -> int:
        """The forging slot of an ETM-epoch timestamp (negative before genesis)."""
        return (timestamp - self.genesis_time) // self.block_time_s

    def slot_time(self, slot: int) -> int:
        """The first second of ``slot``."""
        return self.genesis_time + slot * self.block_time_s

    def round_of(self, height: int) -> int:
        """Round number of a block height: genesis is round 0, heights 1..N round 1, ..."""
        return 0 if height == 0 else (height - 1) // self.delegates_per_round + 1

    def is_round_end(self, height: int) -> bool:
        return height > 0 and height % self.delegates_per_round == 0

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["tx_plugins"] = list(self.tx_plugins)
        out["hash_target"] = hex(self.hash_target)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChainParams:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown chain parameters: {sorted(unknown)}")
        values = dict(data)
        if isinstance(values.get("hash_target"), str):
            values["hash_target"] = int(values["hash_target"], 0)
        if "tx_plugins" in values:
            values["tx_plugins"] = tuple(values["tx_plugins"])
        return cls(**values)
