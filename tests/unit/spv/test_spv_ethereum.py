"""Ethereum: real mainnet header and receipt proofs, negatives, events, and the header relay."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import rlp
from spv_testkit import GENESIS, anvil_chain, anvil_header

from etm_bridge.chains.ethereum.spv import headers as eth
from etm_bridge.chains.ethereum.spv.header_relay import COMMITTEE, EthRelay, check_eth_receipt
from etm_bridge.errors import ConfigError, HeaderRejectedError, InclusionProofError
from etm_bridge.spv.kvstore import MemoryKeyValueStore

ROOT = Path(__file__).resolve().parents[3]
RELAYER = b"\x07" * 32


def _hex(value: str) -> bytes:
    return bytes.fromhex(value[2:])


@pytest.fixture(scope="module")
def block(vectors) -> dict:
    return vectors.json("ethereum/mainnet_block_21925176_receipts.json")


def test_real_cancun_header_parses_and_hashes(block) -> None:
    header = eth.parse_header(_hex(block["header_rlp"]), eth.ETHEREUM_MAINNET)
    assert header.hash_hex == block["block_hash"]
    assert header.number == 21925176
    assert "0x" + header.receipts_root.hex() == block["receipts_root"]


def test_fork_field_set_is_enforced(block) -> None:
    fields = rlp.decode(_hex(block["header_rlp"]))
    for wrong in (fields[:-1], [*fields, b"\x00" * 32]):
        with pytest.raises(HeaderRejectedError) as info:
            eth.parse_header(rlp.encode(wrong), eth.ETHEREUM_MAINNET)
        assert info.value.reason == "bad-field-count"
    with pytest.raises(HeaderRejectedError, match="bad-field-count"):
        eth.parse_header(_hex(block["header_rlp"]), eth.ANVIL)  # anvil (Prague layout): 21


def test_all_real_receipt_proofs_verify_and_decode(block) -> None:
    header = eth.parse_header(_hex(block["header_rlp"]), eth.ETHEREUM_MAINNET)
    for proof in block["proofs"]:
        encoded = eth.verify_receipt_proof(
            header.receipts_root, proof["index"], [_hex(n) for n in proof["proof"]]
        )
        assert encoded == _hex(proof["receipt"])
        receipt = eth.decode_receipt(encoded)
        assert receipt.status == (0 if proof["index"] == 90 else 1)
        assert receipt.tx_type == (0 if proof["index"] == 20 else 2)


def test_negative_cases_are_rejected(block) -> None:
    header = eth.parse_header(_hex(block["header_rlp"]), eth.ETHEREUM_MAINNET)
    for case in block["negative_cases"]:
        if "header_rlp_override" in case:
            forged = eth.parse_header(_hex(case["header_rlp_override"]), eth.ETHEREUM_MAINNET)
            assert forged.hash_hex != block["block_hash"], case["name"]
            continue
        root = _hex(case.get("receipts_root_override", "0x" + header.receipts_root.hex()))
        nodes = [_hex(n) for n in case["proof"]]
        try:
            proven = eth.verify_receipt_proof(root, int(case["index"]), nodes)
        except InclusionProofError as exc:
            assert exc.reason == "bad-receipt-proof", case["name"]
            continue
        assert proven != _hex(case["receipt"]), case["name"]  # the claimed receipt is not proven


def test_locked_event_matches_the_compiled_abi() -> None:
    artifact = json.loads((ROOT / "contracts/ethereum/artifacts/EtherSwapHTLC.json").read_text())
    entry = next(e for e in artifact["abi"] if e.get("name") == "Locked")
    assert eth.EventAbi.from_json(entry) == eth.LOCKED_EVENT
    assert eth.LOCKED_EVENT.signature == (
        "Locked(bytes32,bytes32,address,uint256,address,address,uint256)"
    )


def test_locked_event_decoding_and_its_rejections() -> None:
    contract = b"\xaa" * 20
    topics = (eth.LOCKED_EVENT.topic0, b"\x01" * 32, b"\x02" * 32, bytes(12) + b"\xcc" * 20)
    data = (5).to_bytes(32, "big") + bytes(32) + bytes(12) + b"\xdd" * 20 + (99).to_bytes(32, "big")
    receipt = eth.EthReceipt(2, 1, 21000, (eth.EthLog(contract, topics, data),))
    [event] = eth.find_events(receipt, eth.LOCKED_EVENT, contract)
    assert event == {
        "preimageHash": b"\x01" * 32,
        "swapHash": b"\x02" * 32,
        "claimAddress": b"\xcc" * 20,
        "amount": 5,
        "token": bytes(20),
        "refundAddress": b"\xdd" * 20,
        "timelock": 99,
    }
    assert eth.find_events(receipt, eth.LOCKED_EVENT, b"\xbb" * 20) == []
    with pytest.raises(InclusionProofError, match="failed-transaction"):
        eth.find_events(eth.EthReceipt(2, 0, 1, receipt.logs), eth.LOCKED_EVENT, contract)
    with pytest.raises(InclusionProofError, match="bad-event"):
        eth.decode_event(eth.EthLog(contract, topics, data[:-1]), eth.LOCKED_EVENT)
    dirty = (*topics[:3], b"\x01" * 32)
    with pytest.raises(InclusionProofError, match="bad-event"):
        eth.decode_event(eth.EthLog(contract, dirty, data), eth.LOCKED_EVENT)


# --- the relay on a synthetic anvil-shaped chain ----------------------------------------------


#: anvil's layout with the base-fee rule on (anvil itself is exempt, see ethereum.ANVIL).
STRICT = replace(eth.ANVIL, check_base_fee=True)


def _relay() -> EthRelay:
    return EthRelay.initialise(MemoryKeyValueStore(), STRICT, GENESIS, [RELAYER])


def test_relay_accepts_continuity_and_reorgs_to_the_longer_branch() -> None:
    relay = _relay()
    main = anvil_chain(GENESIS, 4, 2_000)
    relay.submit_headers(main, RELAYER)
    assert relay.tip().number == 4
    side = anvil_chain(main[1], 3, 9_000)  # numbers 3..5
    result = relay.submit_headers(side, RELAYER)
    assert result.reorg and result.tip.number == 5
    assert relay.confirmations(eth.parse_header(main[3], eth.ANVIL).hash) == 0
    assert relay.confirmations(eth.parse_header(main[1], eth.ANVIL).hash) == 4


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"parentHash": b"\x09" * 32}, "bad-parent"),
        ({"timestamp": 999}, "bad-timestamp"),
        ({"baseFeePerGas": 7}, "bad-base-fee"),
        ({"gasLimit": 40_000_000}, "bad-gas-limit"),
        ({"gasUsed": 31_000_000}, "bad-gas-used"),
        ({"difficulty": 1}, "bad-post-merge"),
        ({"extraData": b"x" * 33}, "bad-header-rlp"),
    ],
)
def test_relay_rejections_name_the_rule(change: dict, reason: str) -> None:
    relay = _relay()
    fields = {"parentHash": eth.parse_header(GENESIS, eth.ANVIL).hash, "timestamp": 1_001}
    fields.update(change)
    parent = fields.pop("parentHash")
    timestamp = fields.pop("timestamp")
    raw = anvil_header(parent, 1, timestamp, fields.pop("baseFeePerGas", 875_000_000), **fields)
    with pytest.raises(HeaderRejectedError) as info:
        relay.submit_headers([raw], RELAYER)
    assert info.value.reason == reason
    assert relay.tip().number == 0


def test_relay_rejects_untrusted_relayers_duplicates_and_reinitialisation() -> None:
    relay = _relay()
    chain = anvil_chain(GENESIS, 1, 1_500)
    with pytest.raises(HeaderRejectedError, match="untrusted-relayer"):
        relay.submit_headers(chain, b"\x08" * 32)
    relay.submit_headers(chain, RELAYER)
    with pytest.raises(HeaderRejectedError, match="duplicate"):
        relay.submit_headers(chain, RELAYER)
    with pytest.raises(ConfigError):
        EthRelay.initialise(relay.store, eth.ANVIL, GENESIS, [RELAYER])


@pytest.mark.parametrize(
    ("mode", "twice"), [(None, "is stored"), (COMMITTEE, "twice")], ids=["trusted", "committee"]
)
def test_a_rejected_header_names_its_place_in_the_batch_in_both_modes(mode, twice) -> None:
    relay = EthRelay.initialise(
        MemoryKeyValueStore(), STRICT, GENESIS, [] if mode else [RELAYER], *([mode] if mode else [])
    )
    chain = anvil_chain(GENESIS, 2, 1_500)
    with pytest.raises(HeaderRejectedError) as info:
        relay.submit_headers([chain[1]], RELAYER)  # its parent was never relayed
    assert info.value.reason == "bad-parent"
    assert "header 0: bad-parent: the parent is not in the relay" in str(info.value)
    with pytest.raises(HeaderRejectedError) as info:
        relay.submit_headers([chain[0], chain[1], chain[1]], RELAYER)
    assert info.value.reason == "duplicate" and "header 2: duplicate: block " in str(info.value)
    assert str(info.value).endswith(twice)
    assert relay.tip().number == 0


def test_receipt_proof_against_the_relay_follows_the_best_chain(block) -> None:
    relay = _relay()
    proof = block["proofs"][0]
    real_root = _hex(block["receipts_root"])
    main = anvil_chain(GENESIS, 1, 1_100, receipts_root=real_root)
    main += anvil_chain(main[0], 2, 1_200)
    relay.submit_headers(main, RELAYER)
    block_hash = eth.parse_header(main[0], eth.ANVIL).hash
    nodes = [_hex(n) for n in proof["proof"]]
    header, receipt = check_eth_receipt(relay, block_hash, proof["index"], nodes, 3)
    assert receipt.status == 1 and header.number == 1
    with pytest.raises(InclusionProofError, match="insufficient-confirmations"):
        check_eth_receipt(relay, block_hash, proof["index"], nodes, 4)
    relay.submit_headers(anvil_chain(GENESIS, 4, 5_000), RELAYER)
    with pytest.raises(InclusionProofError, match="not-in-best-chain"):
        check_eth_receipt(relay, block_hash, proof["index"], nodes, 1)


def test_mainnet_requires_strictly_later_timestamps_anvil_allows_equal() -> None:
    parent = eth.parse_header(GENESIS, eth.ANVIL)
    same_second = eth.parse_header(anvil_header(parent.hash, 1, 1_000, 875_000_000), eth.ANVIL)
    eth.check_child(parent, same_second, eth.ANVIL)
    with pytest.raises(HeaderRejectedError, match="bad-timestamp"):
        eth.check_child(parent, same_second, replace(eth.ANVIL, strict_timestamps=True))
