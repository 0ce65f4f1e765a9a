"""Raw transaction parsing and inclusion proofs against the relay's best chain."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spv_testkit import branch_of, build_tree, mine_chain, mine_header

from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof, check_bitcoin_proof
from etm_bridge.chains.bitcoin.spv.params import REGTEST
from etm_bridge.chains.bitcoin.spv.tx import parse_tx
from etm_bridge.errors import InclusionProofError, ValidationError
from etm_bridge.spv.kvstore import MemoryKeyValueStore

T0 = 1_700_000_000
NOW = 2_000_000_000
BITS = 0x207FFFFF


def _tx(n: int, coinbase: bool = False) -> bytes:
    prevout = (b"\0" * 32 + b"\xff" * 4) if coinbase else (bytes([n]) * 32 + b"\0" * 4)
    script_sig = b"\x03" + n.to_bytes(3, "little") if coinbase else b""
    return (
        b"\x01\x00\x00\x00\x01"
        + prevout
        + bytes([len(script_sig)])
        + script_sig
        + b"\xff\xff\xff\xff\x01"
        + (5000 + n).to_bytes(8, "little")
        + b"\x16\x00\x14"
        + bytes([n]) * 20
        + b"\x00\x00\x00\x00"
    )


def test_real_transactions_parse_to_their_txids(vectors) -> None:
    for block in vectors.json("bitcoin/merkle_proofs.json")["blocks"]:
        for proof in block["proofs"]:
            if proof["raw_tx"]:
                tx = parse_tx(bytes.fromhex(proof["raw_tx"]))
                assert tx.txid_hex == proof["txid"]
                assert tx.is_coinbase == (proof["index"] == 0)


@pytest.mark.parametrize(
    "mutation",
    [
        lambda raw: raw[:-1],  # truncated
        lambda raw: raw + b"\x00",  # trailing byte
        lambda raw: raw[:4] + b"\x00\x02" + raw[4:],  # bad segwit flag
        lambda raw: raw[:4] + b"\xfd\x01\x00" + raw[5:],  # non-canonical CompactSize
    ],
)
def test_malformed_transactions_are_rejected(mutation) -> None:
    with pytest.raises(InclusionProofError) as info:
        parse_tx(mutation(_tx(1)))
    assert info.value.reason == "bad-tx"


@given(st.binary(max_size=300))
def test_parser_never_crashes_on_garbage(raw: bytes) -> None:
    try:
        parse_tx(raw)
    except InclusionProofError as exc:
        assert exc.reason == "bad-tx"


class Scenario:
    """A regtest relay with a block whose Merkle root commits to 5 transactions."""

    def __init__(self) -> None:
        self.relay = BitcoinRelay.initialise(
            MemoryKeyValueStore(), REGTEST, Checkpoint.genesis(REGTEST)
        )
        self.txs = [_tx(0, coinbase=True)] + [_tx(n) for n in range(1, 5)]
        self.levels = build_tree([parse_tx(t).txid_le for t in self.txs])
        genesis = bh.dsha256(REGTEST.genesis_header)
        self.block = mine_header(genesis, T0, BITS, merkle_le=self.levels[-1][0])
        self.block_hash = bh.dsha256(self.block)
        self.relay.submit_headers([self.block], NOW)

    def proof(self, index: int, **extra) -> BitcoinTxProof:
        branch = tuple(branch_of(self.levels, index))
        return BitcoinTxProof(self.txs[index], self.block_hash, index, 5, branch, **extra)


def test_proof_counts_confirmations_and_fails_after_a_reorg() -> None:
    s = Scenario()
    confirmed = check_bitcoin_proof(s.relay, s.proof(3), 1)
    assert confirmed.confirmations == 1 and confirmed.height == 1
    assert confirmed.tx.outputs[0].value_sat == 5003
    with pytest.raises(InclusionProofError, match="insufficient-confirmations"):
        check_bitcoin_proof(s.relay, s.proof(3), 2)
    s.relay.submit_headers(mine_chain(s.block_hash, T0 + 600, 2, bits=BITS), NOW)
    assert check_bitcoin_proof(s.relay, s.proof(3), 3).confirmations == 3
    genesis = bh.dsha256(REGTEST.genesis_header)
    s.relay.submit_headers(mine_chain(genesis, T0 + 90_000, 4, bits=BITS), NOW)
    with pytest.raises(InclusionProofError, match="not-in-best-chain"):
        check_bitcoin_proof(s.relay, s.proof(3), 1)


def test_unknown_block_and_coinbase_depth() -> None:
    s = Scenario()
    proof = s.proof(2)
    with pytest.raises(InclusionProofError, match="unknown-block"):
        check_bitcoin_proof(
            s.relay, BitcoinTxProof(proof.raw_tx, b"\x01" * 32, 2, 5, proof.branch_le), 1
        )
    with_coinbase = s.proof(
        2, coinbase_raw=s.txs[0], coinbase_branch_le=tuple(branch_of(s.levels, 0))
    )
    assert check_bitcoin_proof(s.relay, with_coinbase, 1).tx.txid_le == parse_tx(s.txs[2]).txid_le
    not_coinbase = s.proof(
        2, coinbase_raw=s.txs[1], coinbase_branch_le=tuple(branch_of(s.levels, 1))
    )
    with pytest.raises(InclusionProofError, match=r"merkle-root-mismatch|bad-coinbase"):
        check_bitcoin_proof(s.relay, not_coinbase, 1)
    shallow = s.proof(
        2, coinbase_raw=s.txs[0], coinbase_branch_le=tuple(branch_of(s.levels, 0))[:2]
    )
    with pytest.raises(InclusionProofError, match="bad-coinbase"):
        check_bitcoin_proof(s.relay, shallow, 1)


def test_proof_payload_round_trips_and_rejects_bad_lengths() -> None:
    s = Scenario()
    proof = s.proof(4, coinbase_raw=s.txs[0], coinbase_branch_le=tuple(branch_of(s.levels, 0)))
    assert BitcoinTxProof.decode(proof.encode()) == proof
    assert BitcoinTxProof.decode(s.proof(1).encode()) == s.proof(1)
    for bad in (proof.encode()[:-1], proof.encode() + b"\0"):
        with pytest.raises(ValidationError):
            BitcoinTxProof.decode(bad)


def test_proof_from_a_real_txoutproof(vectors) -> None:
    block = next(
        b for b in vectors.json("bitcoin/merkle_proofs.json")["blocks"] if b["height"] == 831332
    )
    entry = next(p for p in block["proofs"] if p["index"] == 1)
    blob = vectors.binary("bitcoin/txoutproof/0831332-1.bin")
    proof = BitcoinTxProof.from_txoutproof(bytes.fromhex(entry["raw_tx"]), blob, 1)
    assert proof.block_hash_le[::-1].hex() == block["block_hash"]
    assert [h[::-1].hex() for h in proof.branch_le] == entry["branch"]
    with pytest.raises(InclusionProofError, match="not-matched"):
        BitcoinTxProof.from_txoutproof(bytes.fromhex(entry["raw_tx"]), blob, 2)
