"""The SPV transaction types through the chain registry's check/apply contract."""

from __future__ import annotations

import pytest
import rlp
from spv_testkit import GENESIS, anvil_chain, branch_of, build_tree, mine_chain, mine_header

from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.params import ETM_EPOCH_UNIX, ChainParams
from etm_bridge.chain.registry import Registry, TxContext, build_registry
from etm_bridge.chain.state import EmptyBackend, State
from etm_bridge.chain.tx import Tx
from etm_bridge.chains.bitcoin.etm.genesis import BtcRelayGenesis
from etm_bridge.chains.bitcoin.etm.relay_types import BTC_RELAY_HEADERS, BTC_TX_PROOF, proven_btc_tx
from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof
from etm_bridge.chains.bitcoin.spv.params import REGTEST
from etm_bridge.chains.bitcoin.spv.tx import parse_tx
from etm_bridge.chains.ethereum.etm.genesis import EthRelayGenesis
from etm_bridge.chains.ethereum.etm.relay_types import (
    ETH_RECEIPT_PROOF,
    ETH_RELAY_HEADERS,
    EthReceiptProof,
    proven_eth_receipt,
)
from etm_bridge.chains.ethereum.spv.headers import ANVIL, parse_header
from etm_bridge.errors import TxRejectedError, ValidationError
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.spv.relay_status import relay_status

BITS = 0x207FFFFF
T0 = 1_767_300_000  # unix, after the ETM epoch
RELAYER = dev_key("eth-relayer")
ANYONE = dev_key("anyone")


def _setup() -> tuple[Registry, State, TxContext]:
    params = ChainParams(tx_plugins=("etm_bridge.spv.relay_types",))
    registry = build_registry(params)
    state = State(EmptyBackend(), registry.table_names)
    btc = BtcRelayGenesis(network="regtest", min_confirmations=2)
    eth = EthRelayGenesis(chain="anvil", checkpoint_rlp=GENESIS, relayers=(RELAYER.public_key,))
    SpvSection({"btc": btc, "eth": eth}).initialise(state)
    ctx = TxContext(params, 10, T0 + 3600 - ETM_EPOCH_UNIX, bytes(32))
    return registry, state, ctx


def _run(
    registry: Registry, state: State, ctx: TxContext, type_id: int, payload: bytes, key=ANYONE
):
    tx = Tx.create(
        key, network=ctx.params.network_id, type_id=type_id, nonce=0, fee=0, payload=payload
    )
    tx_type = registry.type_of(type_id)
    decoded = tx_type.decode(payload)
    tx_type.check(state, tx, decoded, ctx)
    tx_type.apply(state, tx, decoded, ctx)


def test_bitcoin_headers_and_a_proof_go_on_chain_and_follow_reorgs() -> None:
    registry, state, ctx = _setup()
    txs = [bytes.fromhex(
        "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff"
        "0403010203ffffffff0100f2052a010000001600140101010101010101010101010101010101010101"
        "00000000"
    )]  # fmt: skip
    levels = build_tree([parse_tx(t).txid_le for t in txs])
    genesis = bh.dsha256(REGTEST.genesis_header)
    block = mine_header(genesis, T0, BITS, merkle_le=levels[-1][0])
    headers = [block, *mine_chain(bh.dsha256(block), T0 + 600, 1, bits=BITS)]
    _run(registry, state, ctx, BTC_RELAY_HEADERS, b"".join(headers))
    proof = BitcoinTxProof(txs[0], bh.dsha256(block), 0, 1, tuple(branch_of(levels, 0)))
    _run(registry, state, ctx, BTC_TX_PROOF, proof.encode())
    record = proven_btc_tx(state, parse_tx(txs[0]).txid_le)
    assert record["height"] == 1 and record["confirmations"] == 2
    assert record["outputs"] == [[50 * 10**8, "0014" + "01" * 20]]
    competing = mine_chain(genesis, T0 + 5000, 3, bits=BITS)
    _run(registry, state, ctx, BTC_RELAY_HEADERS, b"".join(competing))
    with pytest.raises(TxRejectedError) as info:
        proven_btc_tx(state, parse_tx(txs[0]).txid_le)
    assert info.value.reason == "spv_not_in_best_chain"
    with pytest.raises(TxRejectedError) as info:
        _run(registry, state, ctx, BTC_TX_PROOF, proof.encode())
    assert info.value.reason == "spv_not_in_best_chain"


def test_bitcoin_rejections_carry_the_rule() -> None:
    registry, state, ctx = _setup()
    too_new = mine_header(bh.dsha256(REGTEST.genesis_header), T0 + 3600 + 7201, BITS)
    with pytest.raises(TxRejectedError) as info:
        _run(registry, state, ctx, BTC_RELAY_HEADERS, too_new)
    assert info.value.reason == "spv_time_too_new"
    with pytest.raises(ValidationError):
        registry.type_of(BTC_RELAY_HEADERS).decode(too_new[:79])


def test_ethereum_headers_need_a_trusted_relayer_and_receipts_are_recorded(vectors) -> None:
    registry, state, ctx = _setup()
    block = vectors.json("ethereum/mainnet_block_21925176_receipts.json")
    root = bytes.fromhex(block["receipts_root"][2:])
    chain = anvil_chain(GENESIS, 1, 1_100, receipts_root=root)
    payload = rlp.encode(chain)
    with pytest.raises(TxRejectedError) as info:
        _run(registry, state, ctx, ETH_RELAY_HEADERS, payload)
    assert info.value.reason == "spv_untrusted_relayer"
    _run(registry, state, ctx, ETH_RELAY_HEADERS, payload, key=RELAYER)
    proof = block["proofs"][1]
    block_hash = parse_header(chain[0], ANVIL).hash
    nodes = tuple(bytes.fromhex(n[2:]) for n in proof["proof"])
    encoded = EthReceiptProof(block_hash, proof["index"], nodes).encode()
    _run(registry, state, ctx, ETH_RECEIPT_PROOF, encoded)
    record = proven_eth_receipt(state, block_hash, proof["index"])
    assert record["status"] == 1 and len(record["logs"]) == 8 and record["confirmations"] == 1


def test_without_relay_config_types_reject() -> None:
    registry = build_registry(ChainParams(tx_plugins=("etm_bridge.spv.relay_types",)))
    state = State(EmptyBackend(), registry.table_names)
    ctx = TxContext(ChainParams(), 1, 100, bytes(32))
    header = mine_header(bh.dsha256(REGTEST.genesis_header), T0, BITS)
    with pytest.raises(TxRejectedError, match="spv_relay_not_initialised"):
        _run(registry, state, ctx, BTC_RELAY_HEADERS, header)


def test_relay_status_reports_tips_forks_and_policies() -> None:
    registry, state, ctx = _setup()
    genesis = bh.dsha256(REGTEST.genesis_header)
    main = mine_chain(genesis, T0, 3, bits=BITS)
    side = mine_chain(genesis, T0 + 50, 2, bits=BITS)
    _run(registry, state, ctx, BTC_RELAY_HEADERS, b"".join(main + side))
    status = relay_status(state)
    btc = status["bitcoin"]
    assert btc["network"] == "regtest" and btc["min_confirmations"] == 2
    assert btc["tip"]["height"] == 3 and btc["tip"]["hash"] == bh.dsha256(main[-1])[::-1].hex()
    assert [f["height"] for f in btc["forks"]] == [2]
    assert status["ethereum"]["tip"]["number"] == 0
    assert status["ethereum"]["trusted_relayers"] == [RELAYER.public_key.hex()]


def test_btc_regtest_plugin_starts_the_relay_at_regtest_genesis_on_first_batch() -> None:
    params = ChainParams(tx_plugins=("etm_bridge.node.spv_plugin",))
    registry = build_registry(params)
    state = State(EmptyBackend(), registry.table_names)
    ctx = TxContext(params, 3, T0 + 3600 - ETM_EPOCH_UNIX, bytes(32))
    chain = mine_chain(bh.dsha256(REGTEST.genesis_header), T0, 3, bits=BITS)
    tx_type = registry.type_of(BTC_RELAY_HEADERS)
    tx = Tx.create(ANYONE, network=params.network_id, type_id=101, nonce=0, fee=0, payload=b"")
    tx_type.check(state, tx, chain, ctx)
    assert state.changes() == {}  # check() wrote nothing
    tx_type.apply(state, tx, chain[:2], ctx)
    _run(registry, state, ctx, BTC_RELAY_HEADERS, chain[2])
    status = relay_status(state)["bitcoin"]
    assert status["tip"]["height"] == 3 and status["checkpoint_height"] == 0
    with pytest.raises(TxRejectedError, match="spv_bad_prevblk"):
        _run(registry, state, ctx, BTC_RELAY_HEADERS, mine_header(b"\x01" * 32, T0, BITS))
