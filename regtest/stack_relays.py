"""``stack up``'s feeding of the ETM chain's Handshake relay with hsd's headers.

The Handshake relay takes headers from anyone (no trusted relayer), so once the stack is up
its ETM chain is brought to hsd's tip here, signed by the development account
``dev_key("user-8")`` (not ``user-0``, the Ethereum relayer and the demo's funder, nor
``user-9``, the faucet: no nonce races). The swap engines and ``lp deposit`` feed it further as
they need. A stack whose ETM genesis has no Handshake relay, or that runs no hsd, is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from etm_bridge.chain.keys import dev_key
from etm_bridge.errors import NotFoundError
from etm_bridge.etm_client import header_feed
from etm_bridge.etm_client.endpoints import NodeSet

from .hsd import HsdNode

HNS_RELAYER = "user-8"


def hsd_node(info: Mapping[str, Any]) -> HsdNode | None:
    """A handle on the stack's hsd from its ``stack.json`` entry (None if it runs none)."""
    if not info.get("rpc_url"):
        return None
    ports = info["ports"]
    return HsdNode(int(ports["rpc"]), int(ports["wallet"]), str(info["api_key"]),
                   Path(str(info.get("log", "hsd.log"))))  # fmt: skip


def feed_hns_relay(report: Mapping[str, Mapping[str, Any]]) -> int | None:
    """Relay hsd's headers the ETM chain lacks; how many (None: no hsd or no HNS relay)."""
    node = hsd_node(report.get("hsd") or {})
    if node is None:
        return None
    etm = report["etm"]
    client = NodeSet.from_urls([str(u) for u in etm.get("urls") or [etm["rpc_url"]]])
    try:
        client.spv_relay("hns")
    except NotFoundError:
        return None  # a genesis made before hsd could run here
    try:
        return header_feed.relay_missing_headers(client, dev_key(HNS_RELAYER), node, chain="hns")
    finally:
        node.close()
