"""``node init`` options of the Bitcoin relay: ``--btc-network`` and its built-in checkpoint.

With ``--btc-network`` the relay starts at genesis from that network's built-in checkpoint
(:mod:`.spv.checkpoints`: mainnet block 826560, testnet4's genesis, regtest's genesis; signet is
refused: its block signatures are not in the headers). Without it a development chain's relay is
regtest, started at the regtest genesis block by the first header batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from etm_bridge.chains.profile import NodeInitSpec, OptionSpec

if TYPE_CHECKING:
    from .etm.genesis import BtcRelayGenesis

NETWORK = OptionSpec(
    "--btc-network",
    "Bitcoin relay network, started at genesis from its built-in checkpoint (mainnet "
    "826560, testnet4/regtest genesis; signet is refused). Default: regtest, started by the "
    "first header batch.",
    choices=("mainnet", "testnet4", "signet", "regtest"),
)


def relay_genesis(network: str) -> BtcRelayGenesis:
    """The relay of ``network`` from its built-in checkpoint (ConfigError for signet)."""
    from .etm.genesis import BtcRelayGenesis
    from .spv.checkpoints import default_checkpoint
    from .spv.params import params_for

    params = params_for(network)  # signet: ConfigError with the reason
    return BtcRelayGenesis(network=params.name, checkpoint=default_checkpoint(params.name))


def build(values: Mapping[str, Any]) -> BtcRelayGenesis | None:
    network = values.get(NETWORK.dest)
    return None if network is None else relay_genesis(str(network))


def summary(values: Mapping[str, Any], cfg: BtcRelayGenesis | None) -> dict[str, Any]:
    return {"btcNetwork": values.get(NETWORK.dest) or "regtest"}


NODE_INIT = NodeInitSpec(options=(NETWORK,), build=build, summary=summary)
