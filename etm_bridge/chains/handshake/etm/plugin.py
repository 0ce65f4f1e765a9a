"""Tx plug-in ``etm_bridge.chains.handshake.etm.plugin``: the Handshake relay's types (121/122)
and tables on an ETM chain whose genesis starts that relay (``node init --hns-network`` lists it
after ``etm_bridge.node.spv_plugin``). A chain that does not list it has no Handshake types, so
installing this chain leaves every other ETM chain's consensus unchanged. Pure. The path of
this module is in genesis files: it does not move."""

from __future__ import annotations

from etm_bridge.chain.registry import Registry
from etm_bridge.spv.relay_types import register_chain

from ..profile import TICKER


def register(registry: Registry) -> None:
    register_chain(registry, TICKER)
