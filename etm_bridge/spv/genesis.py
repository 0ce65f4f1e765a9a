"""The SPV section of a chain's genesis: which relays exist, from which checkpoints, for whom.

A checkpoint is consensus-critical configuration, so it is genesis state: no transaction may set
it. :class:`SpvGenesis` is the ``spv`` section (JSON codec for the genesis file);
:func:`initialise_relays` writes it into the genesis state (relay records + ``spv_config``):
per relay its network and :class:`~.relay_policy.RelayPolicy` (confirmation floor, value-scaled
depth, maximal tip lag; unset fields take the network's defaults), and under ``dev`` the
development flag ``allow_dev_pools`` (pools on a Bitcoin regtest, testnet3/testnet4 or anvil
relay, whose headers anyone can forge; refused without it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etm_bridge.chain.state import State, TableStore
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.params import params_for
from etm_bridge.chains.ethereum.spv.header_relay import EthRelay
from etm_bridge.chains.ethereum.spv.headers import ETH_NETWORKS
from etm_bridge.errors import ConfigError
from etm_bridge.spv.relay_policy import RelayPolicy, default_policy

BTC_HEADERS, ETH_HEADERS, CONFIG = "spv_btc_headers", "spv_eth_headers", "spv_config"
#: ``spv_config`` key of the development flags (``{"pools": true}``).
DEV_KEY = b"dev"
#: Relay networks whose headers prove nothing against an attacker (regtest: ~2 hashes a header;
#: testnet3/testnet4: a header stamped 20 minutes after its parent may have the minimum
#: difficulty, ~2^32 hashes, and may be stamped up to 2 h ahead, so anyone appends six free
#: headers holding a lock that never existed to the relay's tip (review a11b); anvil:
#: development relayer keys): pools on them need ``allow_dev_pools``.
DEV_NETWORKS = frozenset({"regtest", "testnet", "testnet3", "testnet4", "anvil"})


@dataclass(frozen=True)
class SpvGenesis:
    """The relays a chain starts with (part of its genesis config)."""

    btc_network: str | None = None
    btc_checkpoint: Checkpoint | None = None  # default: the network's genesis block
    btc_min_confirmations: int | None = None  # default: the network's policy
    eth_chain: str | None = None
    eth_checkpoint_rlp: bytes = b""
    eth_relayers: tuple[bytes, ...] = ()
    eth_min_confirmations: int = 1
    eth_htlc_contract: bytes = b""  # the EtherSwapHTLC address whose Locked events count
    #: (operator address, PoolVault address) pairs: whose Deposited/Paid events count per pool
    eth_pool_vaults: tuple[tuple[bytes, bytes], ...] = ()
    #: relay policies beyond the confirmation floor (None: the network's default)
    btc_max_lag_s: int | None = None
    btc_attacker_share: str | None = None
    btc_loss_budget: int | None = None
    eth_max_lag_s: int | None = None
    #: development flag: allow pools on regtest / anvil relays (forgeable headers)
    allow_dev_pools: bool = False

    def btc_policy(self, network: str) -> RelayPolicy:
        """The Bitcoin relay's policy: the fields set here over ``network``'s defaults."""
        base = default_policy(network)
        return RelayPolicy(
            self.btc_min_confirmations or base.min_confirmations,
            self.btc_max_lag_s or base.max_lag_s,
            self.btc_attacker_share if self.btc_attacker_share is not None
            else base.attacker_share,
            self.btc_loss_budget if self.btc_loss_budget is not None else base.loss_budget,
        )  # fmt: skip

    def eth_policy(self, chain: str) -> RelayPolicy:
        base = default_policy(chain)
        return RelayPolicy(
            self.eth_min_confirmations, self.eth_max_lag_s or base.max_lag_s,
            base.attacker_share, base.loss_budget,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """The ``spv`` section of a genesis config (hex for bytes)."""
        cp = self.btc_checkpoint
        return {
            "btc_network": self.btc_network,
            "btc_checkpoint": None
            if cp is None
            else {
                "height": cp.height,
                "header": cp.header.hex(),
                "chain_work": hex(cp.chain_work),
                "ancestor_times": list(cp.ancestor_times),
            },
            "btc_min_confirmations": self.btc_min_confirmations,
            "eth_chain": self.eth_chain,
            "eth_checkpoint_rlp": self.eth_checkpoint_rlp.hex(),
            "eth_relayers": [k.hex() for k in self.eth_relayers],
            "eth_min_confirmations": self.eth_min_confirmations,
            "eth_htlc_contract": self.eth_htlc_contract.hex(),
            "eth_pool_vaults": {op.hex(): vault.hex() for op, vault in self.eth_pool_vaults},
            "btc_max_lag_s": self.btc_max_lag_s,
            "btc_attacker_share": self.btc_attacker_share,
            "btc_loss_budget": self.btc_loss_budget,
            "eth_max_lag_s": self.eth_max_lag_s,
            "allow_dev_pools": self.allow_dev_pools,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SpvGenesis:
        try:
            cp = data.get("btc_checkpoint")
            checkpoint = None
            if cp is not None:
                times = tuple(int(t) for t in cp.get("ancestor_times", ()))
                checkpoint = Checkpoint(
                    int(cp["height"]), bytes.fromhex(cp["header"]), int(cp["chain_work"], 16), times
                )
            return cls(
                btc_network=data.get("btc_network"),
                btc_checkpoint=checkpoint,
                btc_min_confirmations=data.get("btc_min_confirmations"),
                eth_chain=data.get("eth_chain"),
                eth_checkpoint_rlp=bytes.fromhex(data.get("eth_checkpoint_rlp", "")),
                eth_relayers=tuple(bytes.fromhex(k) for k in data.get("eth_relayers", ())),
                eth_min_confirmations=int(data.get("eth_min_confirmations", 1)),
                eth_htlc_contract=bytes.fromhex(data.get("eth_htlc_contract", "")),
                eth_pool_vaults=tuple(
                    (bytes.fromhex(op), bytes.fromhex(vault))
                    for op, vault in dict(data.get("eth_pool_vaults") or {}).items()
                ),
                btc_max_lag_s=_opt_int(data.get("btc_max_lag_s")),
                btc_attacker_share=_opt_str(data.get("btc_attacker_share")),
                btc_loss_budget=_opt_int(data.get("btc_loss_budget")),
                eth_max_lag_s=_opt_int(data.get("eth_max_lag_s")),
                allow_dev_pools=_flag(data.get("allow_dev_pools", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"malformed spv genesis section: {exc}") from None


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"allow_dev_pools must be true or false, got {value!r}")
    return value


def initialise_relays(state: State, spv: SpvGenesis) -> None:
    """Write the checkpoints and policies into a genesis state."""
    if spv.allow_dev_pools:
        state.put_json(CONFIG, DEV_KEY, {"pools": True})
    if spv.btc_network is not None:
        params = params_for(spv.btc_network)
        checkpoint = spv.btc_checkpoint or Checkpoint.genesis(params)
        BitcoinRelay.initialise(TableStore(state, BTC_HEADERS), params, checkpoint)
        policy = spv.btc_policy(params.name)
        state.put_json(CONFIG, b"btc", {"network": params.name, **policy.to_json()})
    if spv.eth_chain is not None:
        eth = ETH_NETWORKS[spv.eth_chain]
        store = TableStore(state, ETH_HEADERS)
        EthRelay.initialise(store, eth, spv.eth_checkpoint_rlp, spv.eth_relayers)
        cfg = {
            "chain": eth.name,
            **spv.eth_policy(eth.name).to_json(),
            "htlc_contract": spv.eth_htlc_contract.hex(),
            "pool_vaults": {op.hex(): vault.hex() for op, vault in spv.eth_pool_vaults},
        }
        state.put_json(CONFIG, b"eth", cfg)
