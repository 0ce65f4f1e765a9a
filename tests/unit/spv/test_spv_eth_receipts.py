"""Receipt proofs for every receipt of real mainnet block 21925176, and EIP-2718 typed receipts.

The header is rebuilt from the RPC JSON (as a relayer gets it) and must hash to the block hash;
every one of the 202 receipts is encoded from its RPC form, proven against the header's
``receiptsRoot`` through the verifier the ETM contract uses, and decoded back to the RPC values.
"""

from __future__ import annotations

import pytest
import rlp

from etm_bridge.chains.ethereum.spv import headers as eth
from etm_bridge.chains.ethereum.spv import rlp as eth_rlp
from etm_bridge.errors import InclusionProofError


@pytest.fixture(scope="module")
def rpc(vectors) -> tuple[dict, list[dict]]:
    block = vectors.json("ethereum/helios_rpc_block_21925176.json")
    receipts = vectors.json("ethereum/helios_rpc_receipts_21925176.json")
    unwrap = lambda doc: doc["result"] if isinstance(doc, dict) and "result" in doc else doc  # noqa: E731
    return unwrap(block), unwrap(receipts)


def test_header_from_rpc_json_hashes_to_the_block_hash(rpc) -> None:
    block, _ = rpc
    header = eth.parse_header(eth_rlp.encode_checked_header(block), eth.ETHEREUM_MAINNET)
    assert header.hash_hex == block["hash"] and header.number == 21925176


def test_every_receipt_index_is_proven_and_decodes_to_its_rpc_values(rpc) -> None:
    block, receipts = rpc
    header = eth.parse_header(eth_rlp.encode_header(block), eth.ETHEREUM_MAINNET)
    encoded = [eth_rlp.encode_receipt(r) for r in receipts]
    assert len(encoded) == len(block["transactions"]) == 202
    for index, receipt_json in enumerate(receipts):
        root, nodes = eth_rlp.build_receipt_proof(encoded, index)
        assert root == header.receipts_root
        proven = eth.verify_receipt_proof(header.receipts_root, index, nodes)
        assert proven == encoded[index]
        receipt = eth.decode_receipt(proven)
        assert receipt.tx_type == int(receipt_json["type"], 16)
        assert receipt.status == int(receipt_json["status"], 16)
        assert receipt.cumulative_gas_used == int(receipt_json["cumulativeGasUsed"], 16)
        assert [log.data.hex() for log in receipt.logs] == [
            log["data"][2:] for log in receipt_json["logs"]
        ]
        other = (index + 1) % len(encoded)
        try:
            wrong = eth.verify_receipt_proof(header.receipts_root, other, nodes)
        except InclusionProofError:
            continue
        assert wrong != proven  # a proof never proves its receipt at another index


@pytest.mark.parametrize("tx_type", [0, 1, 2, 3, 4])  # legacy, 2930, 1559, 4844, 7702
def test_typed_receipts_are_type_byte_then_the_legacy_rlp(rpc, tx_type: int) -> None:
    _, receipts = rpc
    with_logs = next(r for r in receipts if len(r["logs"]) >= 2)
    legacy = eth_rlp.encode_receipt({**with_logs, "type": "0x0"})
    status, gas, bloom, logs = rlp.decode(legacy)  # [status, cumulativeGasUsed, bloom, logs]
    assert int.from_bytes(gas, "big") == int(with_logs["cumulativeGasUsed"], 16)
    assert status == b"\x01" and len(bloom) == 256 and len(logs) == len(with_logs["logs"])
    encoded = eth_rlp.encode_receipt({**with_logs, "type": hex(tx_type)})
    assert encoded == (legacy if tx_type == 0 else bytes([tx_type]) + legacy)
    decoded = eth.decode_receipt(encoded)
    assert decoded.tx_type == tx_type and len(decoded.logs) == len(with_logs["logs"])


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x80" + rlp.encode([b"\x01", b"", b"\x00" * 256, []]),  # type byte above 0x7f
        b"\x02" + rlp.encode([b"\x01", b"", b"\x00" * 256]),  # 3 fields
        b"\x02" + rlp.encode([b"\x01", b"", b"\x00" * 256, [[b"\x01" * 20, b"x" * 32, b""]]]),
        b"\x02" + rlp.encode([b"\x01", b"", b"\x00" * 256, [[[b"a"] * 20, [], b""]]]),
        b"\x02" + rlp.encode([b"\x01", [b""], b"\x00" * 256, []]),
        b"\x02" + rlp.encode([b"\x01", b"", b"\x00" * 256, [[b"\x01" * 20, [], [b"x"]]]]),
    ],
)
def test_malformed_receipts_are_rejected_with_bad_receipt(garbage: bytes) -> None:
    with pytest.raises(InclusionProofError, match="bad-receipt"):
        eth.decode_receipt(garbage)
