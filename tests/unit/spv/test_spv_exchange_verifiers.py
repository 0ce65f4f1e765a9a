"""The exchange's Bitcoin verifier bound to the chain's SPV relay (the profile's verifier)."""

from __future__ import annotations

import pytest
from spv_testkit import branch_of, build_tree, mine_chain, mine_header

from etm_bridge.chain.params import ETM_EPOCH_UNIX, ChainParams
from etm_bridge.chain.registry import TxContext, build_registry
from etm_bridge.chain.state import EmptyBackend, State, TableStore
from etm_bridge.chains.bitcoin.etm.genesis import BtcRelayGenesis
from etm_bridge.chains.bitcoin.etm.relay_types import BTC_HEADERS
from etm_bridge.chains.bitcoin.etm.verifier import BtcProof, htlc_witness_script, lock_marker, p2wsh
from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof
from etm_bridge.chains.bitcoin.spv.params import REGTEST
from etm_bridge.chains.bitcoin.spv.tx import parse_tx
from etm_bridge.chains.registry import chain_registry
from etm_bridge.errors import InclusionProofError, TxRejectedError
from etm_bridge.exchange.pool import Pool, PoolParams
from etm_bridge.spv.genesis_section import SpvSection

T0 = 1_767_300_000
VERIFIERS = chain_registry().verifiers()
HASHLOCK, CLAIM, REFUND = b"\x11" * 32, b"\x02" + b"\x22" * 32, b"\x03" + b"\x33" * 32


def _lock_tx(script_pubkey: bytes, value_sat: int, marker: bytes = b"") -> bytes:
    """A one-input transaction paying ``script_pubkey``, then (if given) the lock's marker."""
    outputs = [(value_sat, script_pubkey)] + ([(0, marker)] if marker else [])
    return (
        b"\x02\x00\x00\x00\x01" + b"\x44" * 32 + b"\x00\x00\x00\x00\x00\xff\xff\xff\xff"
        + bytes([len(outputs)])
        + b"".join(v.to_bytes(8, "little") + bytes([len(s)]) + s for v, s in outputs)
        + b"\x00\x00\x00\x00"
    )  # fmt: skip


def _state(initialised: bool = True) -> State:
    registry = build_registry(ChainParams(tx_plugins=("etm_bridge.spv.relay_types",)))
    state = State(EmptyBackend(), registry.table_names)
    if initialised:
        SpvSection({"btc": BtcRelayGenesis(network="regtest")}).initialise(state)
    return state


def test_a_relayed_btc_htlc_lock_is_verified_through_the_chain_relay() -> None:
    state = _state()
    script = htlc_witness_script(HASHLOCK, CLAIM, REFUND, 500)
    raw = _lock_tx(p2wsh(script), 250_000, lock_marker(CLAIM, REFUND, 500))
    levels = build_tree([parse_tx(raw).txid_le])
    block = mine_header(bh.dsha256(REGTEST.genesis_header), T0, 0x207FFFFF, merkle_le=levels[-1][0])
    ctx = TxContext(ChainParams(), 5, T0 + 10_000 - ETM_EPOCH_UNIX, bytes(32))
    relay = BitcoinRelay(TableStore(state, BTC_HEADERS), REGTEST)
    relay.submit_headers(
        [block, *mine_chain(bh.dsha256(block), T0 + 600, 2, bits=0x207FFFFF)], T0 + 10_000
    )
    tx_proof = BitcoinTxProof(raw, bh.dsha256(block), 0, 1, tuple(branch_of(levels, 0)))
    pool = Pool(PoolParams("btc", "etm1operator", CLAIM))
    lock = (
        chain_registry()
        .verifiers()["btc"]
        .verify_lock(state, pool, BtcProof(tx_proof, 0, script).encode(), ctx)
    )
    assert lock.amount == 250_000 and lock.hashlock == HASHLOCK and lock.confirmations == 3
    unknown = BitcoinTxProof(raw, b"\x09" * 32, 0, 1, tuple(branch_of(levels, 0)))
    with pytest.raises(InclusionProofError, match="unknown-block"):
        VERIFIERS["btc"].verify_lock(state, pool, BtcProof(unknown, 0, script).encode(), ctx)


def test_without_a_relay_the_verifiers_reject_with_a_reason() -> None:
    pool = Pool(PoolParams("btc", "etm1operator", CLAIM))
    ctx = TxContext(ChainParams(), 5, 100, bytes(32))
    proof = BtcProof(BitcoinTxProof(_lock_tx(b"\x51", 1), b"\x01" * 32, 0, 1, ()), 0)
    with pytest.raises(TxRejectedError, match="spv_relay_not_initialised"):
        VERIFIERS["btc"].verify_lock(_state(False), pool, proof.encode(), ctx)
