"""Property tests of the relay's fork choice on random trees, and the genesis SPV section."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spv_testkit import mine_header

from etm_bridge.chains.bitcoin.etm.genesis import BtcRelayGenesis
from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.params import REGTEST
from etm_bridge.chains.ethereum.etm.genesis import EthRelayGenesis
from etm_bridge.errors import ConfigError
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.spv.kvstore import MemoryKeyValueStore

T0 = 1_700_000_000
NOW = 2_000_000_000


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=25), st.data())
def test_tip_is_the_first_seen_most_work_leaf_and_the_index_follows_it(choices, data) -> None:
    relay = BitcoinRelay.initialise(MemoryKeyValueStore(), REGTEST, Checkpoint.genesis(REGTEST))
    genesis = bh.dsha256(REGTEST.genesis_header)
    nodes = [(genesis, 0, T0)]  # (hash, height, time)
    parent_of: dict[bytes, bytes] = {}
    headers = []
    for i, choice in enumerate(choices):
        parent, height, time = nodes[choice % len(nodes)]
        raw = mine_header(parent, time + 600, 0x207FFFFF, merkle_le=i.to_bytes(32, "little"))
        nodes.append((bh.dsha256(raw), height + 1, time + 600))
        parent_of[bh.dsha256(raw)] = parent
        headers.append(raw)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(headers)), max_size=4)))
    for start, end in zip([0, *cuts], [*cuts, len(headers)], strict=True):
        if end > start:
            relay.submit_headers(headers[start:end], NOW)
    best_height = max(h for _, h, _ in nodes)
    expected_tip = next(n for n, h, _ in nodes if h == best_height)
    assert relay.tip().hash_le == expected_tip and relay.tip().height == best_height
    on_best, cursor = set(), expected_tip
    while cursor != genesis:
        on_best.add(cursor)
        cursor = parent_of[cursor]
    for node_hash, height, _ in nodes[1:]:
        expected = best_height - height + 1 if node_hash in on_best else 0
        assert relay.confirmations(node_hash) == expected
        if node_hash in on_best:
            assert relay.best_hash_at(height) == node_hash
    leaves = {n for n, _, _ in nodes} - set(parent_of.values())
    assert {t.hash_le for t in relay.chain_tips()} == leaves


def test_spv_genesis_section_round_trips_and_rejects_garbage() -> None:
    header = REGTEST.genesis_header
    btc = BtcRelayGenesis(network="regtest", checkpoint=Checkpoint(0, header, 2, (1, 2)),
                          min_confirmations=3)  # fmt: skip
    eth = EthRelayGenesis(chain="anvil", checkpoint_rlp=b"\xc0", relayers=(b"\x01" * 32,),
                          min_confirmations=2, htlc_contract=b"\x02" * 20)  # fmt: skip
    spv = SpvSection({"btc": btc, "eth": eth})
    assert SpvSection.from_json(spv.to_json()) == spv
    assert SpvSection.from_json(SpvSection().to_json()) == SpvSection()
    with pytest.raises(ConfigError, match="spv genesis"):
        SpvSection.from_json({"btc_checkpoint": {"height": 0, "header": "zz"}})
