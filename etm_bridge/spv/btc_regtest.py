"""Plug-in ``etm_bridge.spv.btc_regtest``: the SPV types with a Bitcoin regtest relay by default.

For development chains whose genesis has no ``spv`` section: the first ``btc_relay_headers``
batch starts the relay at the regtest genesis block (a constant, so no transaction chooses the
checkpoint) with regtest's confirmation policy. List it in ``tx_plugins`` instead of
``etm_bridge.spv.txtypes`` (not both: they declare the same types).
"""

from __future__ import annotations

from etm_bridge.chain.registry import Registry
from etm_bridge.spv import txtypes


def register(registry: Registry) -> None:
    txtypes.register(registry, btc_default_network="regtest")
