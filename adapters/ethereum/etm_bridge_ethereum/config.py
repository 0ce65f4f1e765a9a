"""The Ethereum adapter's configuration, read once from a plain mapping and validated.

Keys (``from_config``): ``rpc_url``, ``private_key`` (``0x`` hex, 32 bytes) and ``data_dir``
(nonce state lives in ``<data_dir>/nonces``) are required. ``htlc_address`` (the deployed
EtherSwapHTLC) is required by every HTLC operation (lock, claim, refund, scans) and checked
against the artifact when the adapter opens; payments (an LP deposit into a pool vault) work
without it. Optional: ``from_block`` (first block scanned for HTLC events, e.g. the deploy block;
default 0), ``network`` (default from the chain id; a known name must match the node's chain
id, else the adapter refuses to open), ``confirmations`` (default 1 on dev chains
31337/1337, else 12), ``block_time_s`` (default 12), ``receipt_timeout_s`` (default 120),
``wait_for_receipts`` (claim/refund wait for their receipt so a mined revert is reported;
default true), ``fallback_max_fee_wei`` / ``fallback_priority_fee_wei`` (used only when the
node cannot estimate fees; default 50 gwei / 1 gwei).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import is_hex_address, to_checksum_address

from etm_bridge.errors import ConfigError

from .sender import GWEI, FeePolicy

#: chain id -> network name for ``info().network`` when the config does not say.
KNOWN_NETWORKS = {1: "mainnet", 11155111: "sepolia", 17000: "holesky", 31337: "anvil", 1337: "dev"}
DEV_CHAIN_IDS = frozenset({31337, 1337})
#: a configured ``network`` name -> the chain ids its nodes may report (every dev chain id for
#: the dev names: anvil can run as 1337 and geth --dev as 31337).
NETWORK_CHAIN_IDS = {
    "mainnet": frozenset({1}), "sepolia": frozenset({11155111}), "holesky": frozenset({17000}),
    "anvil": DEV_CHAIN_IDS, "dev": DEV_CHAIN_IDS, "regtest": DEV_CHAIN_IDS,
}  # fmt: skip
#: How the wallet's own check (``etm_bridge/config/model.py``) reads a network name: any case,
#: and ``main`` is mainnet; this check must read it the same way or a spelling slips past both.
NETWORK_ALIASES = {"main": "mainnet"}
MAINNET_CHAIN_ID = 1


@dataclass(frozen=True)
class EthereumConfig:
    rpc_url: str
    private_key: str
    htlc_address: str  # "" when not configured: HTLC operations then refuse (ConfigError)
    data_dir: Path
    from_block: int = 0
    network: str | None = None
    confirmations: int | None = None
    block_time_s: int = 12
    receipt_timeout_s: float = 120.0
    wait_for_receipts: bool = True
    fee_policy: FeePolicy = field(default_factory=FeePolicy)

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> EthereumConfig:
        missing = [k for k in ("rpc_url", "private_key", "data_dir") if not config.get(k)]
        if missing:
            raise ConfigError(f"ethereum adapter config lacks {', '.join(missing)}")
        htlc = config.get("htlc_address") or ""
        if htlc and not is_hex_address(str(htlc)):
            raise ConfigError(f"htlc_address is not an address: {config['htlc_address']!r}")
        key = str(config["private_key"])
        if len(key.removeprefix("0x")) != 64:
            raise ConfigError("private_key must be 32 bytes of hex")
        policy = FeePolicy(
            fallback_max_fee_wei=_int(config, "fallback_max_fee_wei", 50 * GWEI),
            fallback_priority_fee_wei=_int(config, "fallback_priority_fee_wei", GWEI),
        )
        confirmations = config.get("confirmations")
        return cls(
            rpc_url=str(config["rpc_url"]),
            private_key=key,
            htlc_address=to_checksum_address(str(htlc)) if htlc else "",
            data_dir=Path(config["data_dir"]),
            from_block=_int(config, "from_block", 0),
            network=config.get("network"),
            confirmations=None if confirmations is None else _int(config, "confirmations", 1),
            block_time_s=_int(config, "block_time_s", 12),
            receipt_timeout_s=float(config.get("receipt_timeout_s", 120.0)),
            wait_for_receipts=bool(config.get("wait_for_receipts", True)),
            fee_policy=policy,
        )

    def network_name(self, chain_id: int) -> str:
        return self.network or KNOWN_NETWORKS.get(chain_id, f"chain-{chain_id}")

    def check_chain_id(self, chain_id: int) -> None:
        check_chain_id(self.network, self.rpc_url, chain_id)

    def default_confirmations(self, chain_id: int) -> int:
        if self.confirmations is not None:
            return self.confirmations
        return 1 if chain_id in DEV_CHAIN_IDS else 12


def check_chain_id(network: str | None, rpc_url: str, chain_id: int) -> None:
    """Refuse a node on another chain than the configured ``network`` names (a ``mainnet``
    config on an anvil node would show its addresses and 1-confirmation default as if for
    real ether; a ``sepolia`` config on a mainnet node would spend real ether). No network,
    or one we do not know (a private chain), is taken as given, except on chain id 1: a named
    network that is not mainnet never runs there (``Sepolia``, ``testnet``: a test wallet's
    config would spend real ether). Names are read as the wallet's check reads them (any case,
    ``main`` = ``mainnet``)."""
    name = (network or "").lower()
    name = NETWORK_ALIASES.get(name, name)
    wanted = NETWORK_CHAIN_IDS.get(name)
    if wanted is None and network and chain_id == MAINNET_CHAIN_ID:
        wanted = frozenset()  # a test or private chain's name beside the main chain
    if wanted is None or chain_id in wanted:
        return
    node_is = KNOWN_NETWORKS.get(chain_id, "an unknown network")
    ids = " or ".join(str(i) for i in sorted(wanted)) or "not 1"
    raise ConfigError(
        f"chains.ethereum.network is {network!r} (chain id {ids}) but the node at {rpc_url} "
        f"is on chain id {chain_id} ({node_is}): point rpc_url at a {network} node, or set "
        "network to the node's"
    )


def _int(config: Mapping[str, Any], key: str, default: int) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{key} must be a non-negative integer, got {value!r}")
    return value
