"""The test-only censoring node (``node run --unsafe-censor``): refused off the development
network and for unknown types; when on, its forger leaves those transactions out of its blocks
(they stay in its mempool, answered ``pending``) while other types go in."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_node_api import PARAMS, transfer_hex

from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.tx_transfer import TRANSFER
from etm_bridge.errors import ConfigError
from etm_bridge.exchange.txtypes import HTLC_CLAIM
from etm_bridge.node.censor import apply_censor, parse_censor
from etm_bridge.node.service import NodeService
from etm_bridge.store import ChainStore

pytestmark = pytest.mark.unit


def _chain(params=PARAMS) -> tuple[Chain, dict]:  # type: ignore[no-untyped-def]
    genesis, keys = dev_genesis(params, 3, funded=2)
    return Chain(ChainStore.memory(), genesis), keys


def test_names_and_ids_are_parsed() -> None:
    chain, _ = _chain()
    assert parse_censor("tx-types=transfer", chain) == {TRANSFER}
    assert parse_censor(f"tx-types={TRANSFER}", chain) == {TRANSFER}


@pytest.mark.parametrize(
    ("text", "match"),
    [("transfer", "expected tx-types="), ("tx-types=", "expected"), ("tx-types=nope", "nope")],
)
def test_malformed_is_one_clear_error(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_censor(text, _chain()[0])


def test_refused_off_the_development_network() -> None:
    chain, _ = _chain(replace(PARAMS, network_id=0x45544D00))
    with pytest.raises(ConfigError, match="not a development network: refused"):
        apply_censor("tx-types=transfer", chain)
    assert chain.unsafe_censored_types == frozenset()


def test_the_censor_keeps_its_victims_out_of_its_blocks(caplog: pytest.LogCaptureFixture) -> None:
    chain, keys = _chain()
    apply_censor("tx-types=transfer", chain)
    assert "UNSAFE TEST-ONLY" in caplog.text
    service = NodeService(chain, keys)
    tx_id = service.submit_tx(bytes.fromhex(transfer_hex()))["id"]  # accepted: "pending"
    for slot in range(1, 7):
        service.forge(PARAMS.slot_time(slot))
    assert chain.status()["height"] >= 3
    assert service.transaction(bytes.fromhex(tx_id))["status"] == "pending"
    chain.unsafe_censored_types = frozenset({HTLC_CLAIM})  # other types go in
    service.forge(PARAMS.slot_time(7))
    assert service.transaction(bytes.fromhex(tx_id))["status"] == "confirmed"
