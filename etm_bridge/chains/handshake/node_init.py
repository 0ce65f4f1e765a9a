"""``node init`` options of the Handshake relay: ``--hns-network`` and its built-in checkpoint.

With ``--hns-network`` the relay starts at genesis from that network's genesis block (main or
regtest); without it the chain has no Handshake relay (there is no development autostart).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from etm_bridge.chains.profile import NodeInitSpec, OptionSpec

if TYPE_CHECKING:
    from .etm.genesis import HnsRelayGenesis

NETWORK = OptionSpec(
    "--hns-network",
    "Handshake relay network, started at its genesis block (main: set a newer checkpoint run "
    "in the genesis for real use). Default: no Handshake relay.",
    choices=("main", "regtest"),
)


def relay_genesis(network: str) -> HnsRelayGenesis:
    from .etm.genesis import HnsRelayGenesis
    from .spv.checkpoints import default_checkpoint
    from .spv.headers import params_for

    params = params_for(network)
    return HnsRelayGenesis(network=params.name, checkpoint=default_checkpoint(params.name))


def build(values: Mapping[str, Any]) -> HnsRelayGenesis | None:
    network = values.get(NETWORK.dest)
    return None if network is None else relay_genesis(str(network))


def summary(values: Mapping[str, Any], cfg: HnsRelayGenesis | None) -> dict[str, Any]:
    return {"hnsNetwork": values.get(NETWORK.dest)}


NODE_INIT = NodeInitSpec(options=(NETWORK,), build=build, summary=summary)
