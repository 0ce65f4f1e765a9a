"""Ethereum's part of the genesis ``spv`` section, and its relays' default policies.

:class:`EthRelayGenesis` is the Ethereum relay a chain starts with: its chain parameters
(``ethereum-mainnet`` or ``anvil``), a trusted checkpoint header (RLP), the ETM keys trusted to
relay headers, the confirmation floor and tip lag, the ``EtherSwapHTLC`` contract whose
``Locked`` events count, and the pool operators' ``PoolVault`` addresses. Its JSON keys
(``eth_chain``, ``eth_checkpoint_rlp``, ...) are part of the genesis id, so :func:`to_json`
writes every one of them, with their empty values when unset, exactly as before the section was
split per chain; the one exception is ``eth_attestation`` (issue 14: ``"committee"`` makes the
relay count only committee-attested headers), written only when set so that the genesis ids of
chains without it do not move. :func:`initialise` writes the relay into ``spv_eth_headers`` and its
``spv_config`` record under ``eth``. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etm_bridge.chain.state import State, TableStore
from etm_bridge.chains.ethereum.profile import HEADERS_TABLE, TICKER
from etm_bridge.chains.ethereum.spv.header_relay import COMMITTEE, UNSAFE_TRUSTED_RELAYERS, EthRelay
from etm_bridge.chains.ethereum.spv.headers import ETH_NETWORKS
from etm_bridge.errors import ConfigError
from etm_bridge.spv.relay_policy import DEFAULT_MAX_LAG_S, RelayPolicy, network_default
from etm_bridge.spv.relay_types import CONFIG

HEADERS = HEADERS_TABLE
#: Per chain: post-merge blocks are no hash race, so no value scaling (the relay trusts its
#: relayers instead); mainnet's floor is two epochs.
DEFAULT_POLICIES: dict[str, RelayPolicy] = {
    "ethereum-mainnet": RelayPolicy(64, 3600),
    "anvil": RelayPolicy(1, DEFAULT_MAX_LAG_S),
}


def default_policy(chain: str) -> RelayPolicy:
    return network_default(DEFAULT_POLICIES, chain, "Ethereum chain")


@dataclass(frozen=True)
class EthRelayGenesis:
    """The Ethereum relay a chain starts with (``chain`` None: none)."""

    chain: str | None = None
    checkpoint_rlp: bytes = b""
    relayers: tuple[bytes, ...] = ()
    min_confirmations: int = 1
    htlc_contract: bytes = b""  # the EtherSwapHTLC address whose Locked events count
    #: (operator address, PoolVault address) pairs: whose Deposited/Paid events count per pool
    pool_vaults: tuple[tuple[bytes, bytes], ...] = ()
    max_lag_s: int | None = None  # None: the chain's default
    #: None: the unsafe trusted-relayer rule; "committee": committee-attested headers only
    attestation: str | None = None

    @property
    def mode(self) -> str:
        return COMMITTEE if self.attestation == COMMITTEE else UNSAFE_TRUSTED_RELAYERS

    def policy(self, chain: str) -> RelayPolicy:
        base = default_policy(chain)
        return RelayPolicy(
            self.min_confirmations, self.max_lag_s or base.max_lag_s,
            base.attacker_share, base.loss_budget,
        )  # fmt: skip


def to_json(cfg: EthRelayGenesis | None) -> dict[str, Any]:
    """Ethereum's keys of the ``spv`` section (every key; empty values for no relay)."""
    cfg = cfg or EthRelayGenesis()
    out = {
        "eth_chain": cfg.chain,
        "eth_checkpoint_rlp": cfg.checkpoint_rlp.hex(),
        "eth_relayers": [k.hex() for k in cfg.relayers],
        "eth_min_confirmations": cfg.min_confirmations,
        "eth_htlc_contract": cfg.htlc_contract.hex(),
        "eth_pool_vaults": {op.hex(): vault.hex() for op, vault in cfg.pool_vaults},
        "eth_max_lag_s": cfg.max_lag_s,
    }
    if cfg.attestation is not None:
        out["eth_attestation"] = cfg.attestation
    return out


def from_json(data: Mapping[str, Any]) -> EthRelayGenesis | None:
    """Ethereum's relay from a section (None: no ``eth_chain``); raises on malformed keys."""
    lag = data.get("eth_max_lag_s")
    attestation = data.get("eth_attestation")
    if attestation not in (None, COMMITTEE):
        raise ConfigError(
            f"spv genesis: eth_attestation must be {COMMITTEE!r} or absent (got {attestation!r})"
        )
    cfg = EthRelayGenesis(
        chain=data.get("eth_chain"),
        checkpoint_rlp=bytes.fromhex(data.get("eth_checkpoint_rlp", "")),
        relayers=tuple(bytes.fromhex(k) for k in data.get("eth_relayers", ())),
        min_confirmations=int(data.get("eth_min_confirmations", 1)),
        htlc_contract=bytes.fromhex(data.get("eth_htlc_contract", "")),
        pool_vaults=tuple(
            (bytes.fromhex(op), bytes.fromhex(vault))
            for op, vault in dict(data.get("eth_pool_vaults") or {}).items()
        ),
        max_lag_s=None if lag is None else int(lag),
        attestation=attestation,
    )
    return None if cfg.chain is None else cfg


def initialise(state: State, cfg: EthRelayGenesis) -> None:
    """Write the relay's checkpoint, relayers and config into a genesis state."""
    assert cfg.chain is not None
    eth = ETH_NETWORKS[cfg.chain]
    EthRelay.initialise(TableStore(state, HEADERS), eth, cfg.checkpoint_rlp, cfg.relayers, cfg.mode)
    record = {
        "chain": eth.name,
        **cfg.policy(eth.name).to_json(),
        "htlc_contract": cfg.htlc_contract.hex(),
        "pool_vaults": {op.hex(): vault.hex() for op, vault in cfg.pool_vaults},
    }
    state.put_json(CONFIG, TICKER.encode(), record)
