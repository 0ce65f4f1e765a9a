"""Fuzz every decoder of SPV evidence and chain wire data (issue 11 item 3).

Each decoder gets random bytes and mutations of a real or well-formed seed (flipped, cut,
inserted bytes) and must either return or raise one of the project's errors (a
:class:`~etm_bridge.errors.EtmBridgeError`: ValidationError, InclusionProofError,
HeaderRejectedError, ProofError...): never a library's exception, never a crash or a stall.
Derandomized, a few hundred examples each, so CI sees the same inputs on every run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
import rlp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spv_testkit import GENESIS, anvil_chain, branch_of, build_tree

from etm_bridge.chain.block import Block, BlockHeader
from etm_bridge.chain.tx import Tx
from etm_bridge.chains.bitcoin.etm.relay_types import decode_btc_headers
from etm_bridge.chains.bitcoin.etm.verifier import BtcProof, parse_htlc_witness_script
from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv import merkle
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof
from etm_bridge.chains.bitcoin.spv.tx import parse_tx, split_block
from etm_bridge.chains.ethereum.etm.relay_types import (
    EthReceiptProof,
    decode_eth_headers,
    decode_eth_receipt_proof,
)
from etm_bridge.chains.ethereum.etm.verifier import EthLogProof, EthProof
from etm_bridge.chains.ethereum.hostile import flat_rlp, nested_rlp
from etm_bridge.chains.ethereum.spv import headers as eth
from etm_bridge.chains.ethereum.spv import rlp_bounded
from etm_bridge.chains.ethereum.spv.rlp import decode_header
from etm_bridge.errors import EtmBridgeError

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

COINBASE = bytes.fromhex(
    "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff"
    "0403010203ffffffff0100f2052a010000001600140101010101010101010101010101010101010101"
    "00000000"
)
SEGWIT_TX = bytes.fromhex(
    "02000000000101" + "11" * 32 + "00000000" + "00" + "ffffffff" + "01"
    + (50_000).to_bytes(8, "little").hex() + "046a02abcd" + "010107" + "00000000"
)  # fmt: skip
_LEVELS = build_tree([parse_tx(COINBASE).txid_le, bh.dsha256(b"x")])
BTC_PROOF = BitcoinTxProof(COINBASE, bytes(32), 0, 2, tuple(branch_of(_LEVELS, 0)))
ETH_HEADER = anvil_chain(GENESIS, 1, 1_100)[0]
TRIE_NODES = (rlp.encode([b"\x20\x01", b"receipt"]), rlp.encode([b""] * 16 + [b"v"]))


def mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    """``seed`` with 1-4 bytes flipped, inserted or cut away, or random bytes instead."""

    @st.composite
    def mutate(draw: Any) -> bytes:
        raw = bytearray(seed)
        for _ in range(draw(st.integers(1, 4))):
            action = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
            pos = draw(st.integers(0, len(raw)))
            if action == "flip" and pos < len(raw):
                raw[pos] = draw(st.integers(0, 255))
            elif action == "cut" and pos < len(raw):
                del raw[pos]
            elif action == "insert":
                raw[pos:pos] = draw(st.binary(min_size=1, max_size=40))
            else:
                del raw[pos:]
        return bytes(raw)

    return st.one_of(mutate(), st.binary(max_size=len(seed) + 64))


def only_project_errors(decode: Callable[[bytes], Any], data: bytes) -> None:
    with contextlib.suppress(EtmBridgeError):
        decode(data)


def _receipt_proof(data: bytes) -> None:
    nodes = rlp_bounded.decode(data) if data[:1] >= b"\xc0" else [data]
    if isinstance(nodes, list) and all(isinstance(n, bytes) for n in nodes):
        eth.verify_receipt_proof(bytes(32), 1, [*TRIE_NODES, *nodes])


DECODERS: dict[str, tuple[Callable[[bytes], Any], bytes]] = {
    "bitcoin tx": (parse_tx, SEGWIT_TX),
    "bitcoin block": (split_block, bh.BlockHeader(1, bytes(32), _LEVELS[-1][0], 0, 0x207FFFFF, 0,
                                                  b"\0" * 32).to_bytes() + b"\x01" + COINBASE),
    "bitcoin header": (bh.BlockHeader.from_bytes, bytes(80)),
    "bitcoin headers payload": (decode_btc_headers, bytes(160)),
    "merkle block": (merkle.parse_merkle_block, bytes(80) + b"\x01\x00\x00\x00\x01" + bytes(33)),
    "bitcoin tx proof": (BitcoinTxProof.decode, BTC_PROOF.encode()),
    "exchange btc proof": (BtcProof.decode, BtcProof(BTC_PROOF, 0, b"\x63\x68").encode()),
    "htlc witness script": (parse_htlc_witness_script, bytes.fromhex("63a820" + "00" * 32)),
    "eth header": (lambda d: eth.parse_header(d, eth.ANVIL), ETH_HEADER),
    "eth header fields": (decode_header, ETH_HEADER),
    "eth receipt": (eth.decode_receipt, b"\x02" + rlp.encode([b"\x01", b"\x05", bytes(256), []])),
    "eth headers payload": (decode_eth_headers, rlp.encode([ETH_HEADER])),
    "eth receipt proof payload": (
        decode_eth_receipt_proof,
        EthReceiptProof(bytes(32), 1, TRIE_NODES).encode(),
    ),
    "receipt trie proof": (_receipt_proof, rlp.encode(list(TRIE_NODES))),
    "exchange eth proof": (EthProof.decode, EthProof(bytes(32), 1, TRIE_NODES, 0).encode()),
    "exchange eth log proof": (
        EthLogProof.decode, EthLogProof(EthProof(bytes(32), 1, TRIE_NODES), TRIE_NODES).encode(),
    ),
    "rlp": (rlp_bounded.decode, rlp.encode([[b"a", [b"b"]], b"c" * 60])),
    "etm tx": (Tx.decode, Tx(1, 1, bytes(32), 0, 0, b"payload", bytes(64)).encoded),
    "etm block header": (BlockHeader.decode, bytes(500)),
    "etm block": (Block.decode, bytes(300)),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_decoder_raises_only_project_errors(name: str) -> None:
    decode, seed = DECODERS[name]

    @FUZZ
    @given(mutations(seed))
    def run(data: bytes) -> None:
        only_project_errors(decode, data)

    run()


@pytest.mark.parametrize("name", sorted(DECODERS))
@pytest.mark.parametrize("bomb", [nested_rlp(50_000), flat_rlp(500_000), b"[" * 200_000])
def test_decoder_refuses_bombs(name: str, bomb: bytes) -> None:
    decode, _ = DECODERS[name]
    only_project_errors(decode, bomb)


rlp_items = st.recursive(st.binary(max_size=40), lambda c: st.lists(c, max_size=18), max_leaves=30)


def test_real_receipt_proofs_with_hostile_extra_or_mutated_nodes(vectors: Any) -> None:
    """Issue 11 item 11's attack, fuzzed: a real mainnet receipt proof plus any extra node, or
    with one node mutated, is accepted or refused as bad-receipt-proof, never with trie's own
    exceptions."""
    block = vectors.json("ethereum/mainnet_block_21925176_receipts.json")
    root = bytes.fromhex(block["receipts_root"][2:])
    proof = block["proofs"][1]
    nodes = [bytes.fromhex(n[2:]) for n in proof["proof"]]
    assert eth.verify_receipt_proof(root, proof["index"], nodes)

    @FUZZ
    @given(rlp_items, st.integers(0, len(nodes) - 1), st.binary(max_size=3), st.booleans())
    def run(extra: Any, which: int, splice: bytes, mutate: bool) -> None:
        chosen = list(nodes)
        if mutate:
            chosen[which] = chosen[which][:-3] + splice
        else:
            chosen.insert(which, rlp.encode(extra))
        only_project_errors(lambda _: eth.verify_receipt_proof(root, proof["index"], chosen), b"")

    run()
