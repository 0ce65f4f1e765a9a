"""Ethereum consensus encodings shared by proof builders and verifiers.

Owns, as pure functions of data (no node access):

- the block header RLP built from ``eth_getBlockByNumber`` fields, for every hardfork from
  Frontier to Prague (London ``baseFeePerGas``, Shanghai ``withdrawalsRoot``, Cancun
  ``blobGasUsed``/``excessBlobGas``/``parentBeaconBlockRoot``, Prague ``requestsHash``), and
  the header hash ``keccak256(rlp(header))``;
- the consensus encoding of a transaction receipt from its JSON-RPC form (EIP-2718: legacy
  receipts are plain RLP, typed ones are ``type_byte || rlp([status, cumulativeGasUsed,
  logsBloom, logs])``);
- the receipts trie (keys ``rlp(index)``): its root and Merkle-Patricia proofs, as lists of
  RLP-encoded nodes from the root node down.

Field values are accepted as ``0x`` hex strings (raw JSON-RPC), ``bytes`` or ``int`` (web3's
formatted results), so callers need not care which layer they came from. Byte strings are
returned as raw bytes in the chain's natural (big-endian) order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import rlp
from eth_utils import keccak
from trie import HexaryTrie

from etm_bridge.chains.ethereum.spv import rlp_bounded
from etm_bridge.errors import ProofError, ValidationError

#: Header fields present since Frontier, in consensus order: (JSON name, kind).
BASE_HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("parentHash", "hash"),
    ("sha3Uncles", "hash"),
    ("miner", "address"),
    ("stateRoot", "hash"),
    ("transactionsRoot", "hash"),
    ("receiptsRoot", "hash"),
    ("logsBloom", "bloom"),
    ("difficulty", "int"),
    ("number", "int"),
    ("gasLimit", "int"),
    ("gasUsed", "int"),
    ("timestamp", "int"),
    ("extraData", "bytes"),
    ("mixHash", "hash"),
    ("nonce", "nonce"),
)
#: Fields appended by later hardforks, in order. A header has a prefix of this list.
FORK_HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("baseFeePerGas", "int"),  # London (EIP-1559)
    ("withdrawalsRoot", "hash"),  # Shanghai (EIP-4895)
    ("blobGasUsed", "int"),  # Cancun (EIP-4844)
    ("excessBlobGas", "int"),  # Cancun (EIP-4844)
    ("parentBeaconBlockRoot", "hash"),  # Cancun (EIP-4788)
    ("requestsHash", "hash"),  # Prague (EIP-7685)
)
_FIXED_LENGTHS = {"hash": 32, "address": 20, "bloom": 256, "nonce": 8}
#: Index of receiptsRoot in the header list.
RECEIPTS_ROOT_INDEX = 5
NUMBER_INDEX = 8


def to_bytes(value: Any, what: str) -> bytes:
    """``0x`` hex string / bytes -> bytes; raises :class:`ValidationError` naming ``what``."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.startswith(("0x", "0X")):
        digits = value[2:]
        try:
            return bytes.fromhex(digits if len(digits) % 2 == 0 else "0" + digits)
        except ValueError as exc:
            raise ValidationError(f"{what} is not valid hex: {value!r}") from exc
    raise ValidationError(f"{what} must be 0x-hex or bytes, got {type(value).__name__}")


def to_int(value: Any, what: str) -> int:
    """``0x`` hex quantity / int -> non-negative int."""
    if isinstance(value, bool):
        raise ValidationError(f"{what} must be an integer, got bool")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str) and value.startswith(("0x", "0X")):
        try:
            result = int(value, 16)
        except ValueError as exc:
            raise ValidationError(f"{what} is not a hex quantity: {value!r}") from exc
    elif isinstance(value, bytes | bytearray):
        result = int.from_bytes(value, "big")
    else:
        raise ValidationError(f"{what} must be a hex quantity or int, got {value!r}")
    if result < 0:
        raise ValidationError(f"{what} must be non-negative, got {result}")
    return result


def _field(value: Any, kind: str, what: str) -> bytes | int:
    if kind == "int":
        return to_int(value, what)
    raw = to_bytes(value, what)
    expected = _FIXED_LENGTHS.get(kind)
    if expected is not None and len(raw) != expected:
        raise ValidationError(f"{what} must be {expected} bytes, got {len(raw)}")
    return raw


def header_fields(block: Mapping[str, Any]) -> list[bytes | int]:
    """The header's consensus field list from an ``eth_getBlockBy*`` result."""
    fields = []
    for name, kind in BASE_HEADER_FIELDS:
        if block.get(name) is None:
            raise ValidationError(f"block JSON lacks header field {name!r}")
        fields.append(_field(block[name], kind, f"header field {name}"))
    missing: str | None = None
    for name, kind in FORK_HEADER_FIELDS:
        if block.get(name) is None:
            missing = missing or name
            continue
        if missing is not None:
            raise ValidationError(f"block JSON has {name!r} but lacks the earlier {missing!r}")
        fields.append(_field(block[name], kind, f"header field {name}"))
    return fields


def encode_header(block: Mapping[str, Any]) -> bytes:
    """Consensus RLP of the header of an ``eth_getBlockBy*`` result."""
    return rlp.encode(header_fields(block))


def header_hash(header_rlp: bytes) -> bytes:
    """The block hash: keccak256 of the header RLP."""
    return keccak(header_rlp)


def encode_checked_header(block: Mapping[str, Any]) -> bytes:
    """Header RLP, after checking that it hashes to the block's ``hash`` (else ProofError).

    This catches a node that reports fields of a hardfork this module does not know yet.
    """
    header_rlp = encode_header(block)
    claimed = to_bytes(block.get("hash"), "block hash")
    if header_hash(header_rlp) != claimed:
        raise ProofError(
            f"header RLP of block {to_int(block['number'], 'number')} hashes to "
            f"{header_hash(header_rlp).hex()}, node says {claimed.hex()} (unknown header fields?)"
        )
    return header_rlp


def decode_header(header_rlp: bytes) -> list[bytes]:
    """The raw field list of a header RLP (ints stay big-endian minimal bytes)."""
    try:
        fields = rlp_bounded.decode(header_rlp, max_depth=1, max_items=64)
    except ValidationError as exc:
        raise ProofError(f"header is not valid RLP: {exc}") from exc
    if not isinstance(fields, list) or len(fields) < len(BASE_HEADER_FIELDS):
        raise ProofError("header RLP is not a list of at least 15 fields")
    if not all(isinstance(f, bytes) for f in fields):
        raise ProofError("header RLP fields must be byte strings")
    return fields


def header_receipts_root(header_rlp: bytes) -> bytes:
    """The receiptsRoot committed to by a header RLP."""
    return decode_header(header_rlp)[RECEIPTS_ROOT_INDEX]


def header_number(header_rlp: bytes) -> int:
    """The block number committed to by a header RLP."""
    return int.from_bytes(decode_header(header_rlp)[NUMBER_INDEX], "big")


# --- receipts ----------------------------------------------------------------------------------


def _encode_log(log: Mapping[str, Any]) -> list[Any]:
    address = _field(log["address"], "address", "log address")
    topics = [_field(t, "hash", "log topic") for t in log["topics"]]
    return [address, topics, to_bytes(log["data"], "log data")]


def encode_receipt(receipt: Mapping[str, Any]) -> bytes:
    """Consensus (EIP-2718) encoding of a receipt from its JSON-RPC form."""
    if receipt.get("status") is not None:
        outcome: bytes | int = to_int(receipt["status"], "receipt status")
    elif receipt.get("root") is not None:  # pre-Byzantium: post-state root
        outcome = _field(receipt["root"], "hash", "receipt root")
    else:
        raise ValidationError("receipt JSON has neither 'status' nor 'root'")
    payload = rlp.encode(
        [
            outcome,
            to_int(receipt["cumulativeGasUsed"], "cumulativeGasUsed"),
            _field(receipt["logsBloom"], "bloom", "receipt logsBloom"),
            [_encode_log(log) for log in receipt["logs"]],
        ]
    )
    tx_type = to_int(receipt.get("type", 0), "receipt type")
    if tx_type == 0:
        return payload
    if tx_type > 0x7F:
        raise ValidationError(f"receipt type {tx_type} is not an EIP-2718 type (0..0x7f)")
    return bytes([tx_type]) + payload


# --- receipts trie -----------------------------------------------------------------------------


def receipt_trie_key(index: int) -> bytes:
    """The receipts-trie key of the receipt at ``index``: ``rlp(index)``."""
    if index < 0:
        raise ValidationError(f"receipt index must be non-negative, got {index}")
    return rlp.encode(index)


def _build_trie(encoded_receipts: Sequence[bytes]) -> HexaryTrie:
    trie = HexaryTrie(db={})
    for index, receipt in enumerate(encoded_receipts):
        trie[receipt_trie_key(index)] = receipt
    return trie


def receipts_root(encoded_receipts: Sequence[bytes]) -> bytes:
    """Root of the trie of all of a block's receipts (in index order)."""
    return bytes(_build_trie(encoded_receipts).root_hash)


def build_receipt_proof(
    encoded_receipts: Sequence[bytes], index: int
) -> tuple[bytes, tuple[bytes, ...]]:
    """(receipts root, proof nodes) for the receipt at ``index`` of a block's receipts.

    The nodes are RLP-encoded, from the root node down: ``keccak(nodes[0]) == root``, each
    later node is referenced by hash from the one before it along the nibbles of
    ``rlp(index)``, and the last node's value is ``encoded_receipts[index]``.
    """
    if not 0 <= index < len(encoded_receipts):
        raise ValidationError(f"receipt index {index} not in block of {len(encoded_receipts)}")
    trie = _build_trie(encoded_receipts)
    nodes = trie.get_proof(receipt_trie_key(index))
    return bytes(trie.root_hash), tuple(rlp.encode(node) for node in nodes)
