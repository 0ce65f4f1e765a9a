"""Plug-in ``etm_bridge.node.spv_plugin``: the SPV relays of ``node init`` chains.

Every installed chain's relay types (but those with a tx plug-in of their own) as
:func:`etm_bridge.spv.relay_types.register_dev` declares them (a relay with ``dev_autostart``
that the genesis does not configure starts at that network's genesis block with the first
header batch), plus the genesis section
``plugins.spv``: a :class:`~etm_bridge.spv.genesis_section.SpvSection` JSON object whose relays
are written into the genesis state. That is how a chain gets a relay that must start from a
trusted checkpoint (with trusted relayer keys, contracts), which no transaction may choose;
``etm-bridge node init`` fills it from the chains' options. The path of this module is in
genesis files: it does not move. Pure: it imports only chain and SPV rules.
"""

from __future__ import annotations

from ..chain.registry import Registry
from ..spv import genesis_section
from ..spv.relay_types import register_dev

#: The genesis section this plug-in claims (``genesis.json`` -> ``plugins.spv``).
SECTION = genesis_section.SECTION


def register(registry: Registry) -> None:
    register_dev(registry)
    registry.add_genesis_section(SECTION, genesis_section.initialise)
