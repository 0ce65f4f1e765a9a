"""Custody's identifiers are reserved (issue 14 K0): tx types 300-307 (block 300-319), the
attested relay's type 113, peer message code 10 and the ``custody_*`` tables. Nothing the node
loads today may take them, so the custody plug-in can claim them without moving any other id."""

from __future__ import annotations

import pytest

from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import build_registry
from etm_bridge.chains.registry import chain_registry
from etm_bridge.custody import records as cr
from etm_bridge.node.p2p import messages
from etm_bridge.node.setup import NODE_TX_PLUGINS

pytestmark = pytest.mark.unit


def test_no_plugin_of_the_node_uses_a_custody_type_id_or_table() -> None:
    registry = build_registry(ChainParams(tx_plugins=NODE_TX_PLUGINS))
    ids = {t.type_id for t in registry.types}
    assert not ids & set(cr.TYPE_ID_BLOCK)
    # 113 is the Ethereum relay's attestation type (issue 14, section 8): claimed by its profile
    assert registry.type_of(cr.ATTEST_HEADERS_TYPE_ID).name == "eth_attest_headers"
    assert not {t.name for t in registry.types} & set(cr.TYPE_IDS.values())
    assert not registry.table_names & set(cr.TABLES)


def test_the_reserved_ids_are_in_custody_blocks() -> None:
    assert set(cr.TYPE_IDS) == set(range(300, 308)) <= set(cr.TYPE_ID_BLOCK)
    assert all(name.startswith("custody_") for name in cr.TYPE_IDS.values())
    assert all(name.startswith("custody_") for name in cr.TABLES)
    # 113 lies in the Ethereum relay's block, and only that relay declares it
    eth = chain_registry().by_ticker("eth")
    assert eth.relay is not None and eth.relay.type_id_block == 110
    assert eth.relay.types[cr.ATTEST_HEADERS_TYPE_ID] == "eth_attest_headers"
    others = [p for p in chain_registry() if p.relay and p.ticker != "eth"]
    assert all(cr.ATTEST_HEADERS_TYPE_ID not in p.relay.types for p in others)


def test_peer_message_code_10_is_the_custody_share() -> None:
    kind = messages.REGISTRY[cr.SHARE_MESSAGE_CODE]
    assert (kind.name, kind.max_bytes) == (cr.SHARE_MESSAGE_NAME, cr.SHARE_MESSAGE_MAX_BYTES)
    assert [k.code for k in messages.REGISTRY.values() if k.name == cr.SHARE_MESSAGE_NAME] == [10]
