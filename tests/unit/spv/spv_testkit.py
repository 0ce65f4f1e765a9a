"""Builders and data for the SPV tests (imported by name; tests/unit/spv is on sys.path).

``Vectors`` reads the repository's real mainnet/testnet data (``tests/vectors``, see its README,
through ``vector_files``). ``mine_header``/``mine_chain`` build synthetic headers with valid
proof of work for parameter sets whose powLimit is easy (regtest-like): that is how the
contextual rules (time, nBits, forks, reorgs) are exercised beyond what real data contains.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import Any

import rlp
import vector_files

from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv.params import REGTEST, BitcoinParams
from etm_bridge.chains.ethereum.spv import headers as eth

EASY_BITS = 0x2007FFFF  # target ~2^251: 1 in 16 hashes passes

#: Regtest's easy powLimit with mainnet's retarget rules (no min-difficulty blocks).
EASY_MAINNET_LIKE: BitcoinParams = replace(
    REGTEST, name="easy-mainnet", allow_min_difficulty_blocks=False, no_retargeting=False
)
#: Regtest's easy powLimit with testnet3's rules (retarget + 20-minute min-difficulty).
EASY_TESTNET_LIKE: BitcoinParams = replace(REGTEST, name="easy-testnet", no_retargeting=False)


class Vectors:
    """Loader of the in-repo vector files (names relative to ``tests/vectors``)."""

    def headers(self, name: str) -> list[bytes]:
        return vector_files.read_header_lines(f"bitcoin/{name}")

    def json(self, relpath: str) -> Any:
        return vector_files.read_json(relpath)

    def binary(self, relpath: str) -> bytes:
        return vector_files.read_bytes(relpath)

    def text(self, relpath: str) -> str:
        return vector_files.read_text(relpath)


def mine_header(
    prev_le: bytes,
    time: int,
    bits: int = EASY_BITS,
    version: int = 0x20000000,
    merkle_le: bytes = b"\x11" * 32,
) -> bytes:
    """A header whose hash meets ``bits`` (grinds the nonce; meant for easy targets)."""
    target, _, _ = bh.decode_compact(bits)
    prefix = struct.pack("<i32s32sII", version, prev_le, merkle_le, time, bits)
    for nonce in range(1 << 32):
        raw = prefix + struct.pack("<I", nonce)
        if int.from_bytes(bh.dsha256(raw), "little") <= target:
            return raw
    raise AssertionError("no nonce found")


def mine_chain(
    prev_le: bytes, start_time: int, count: int, spacing_s: int = 600, bits: int = EASY_BITS
) -> list[bytes]:
    """``count`` linked headers after ``prev_le``, ``spacing_s`` apart."""
    out = []
    for i in range(count):
        raw = mine_header(prev_le, start_time + i * spacing_s, bits)
        out.append(raw)
        prev_le = bh.dsha256(raw)
    return out


def build_tree(leaves: list[bytes]) -> list[list[bytes]]:
    """All levels of Bitcoin's Merkle tree (odd levels duplicate their last node)."""
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        padded = [*level, level[-1]] if len(level) % 2 else level
        levels.append([bh.dsha256(padded[i] + padded[i + 1]) for i in range(0, len(padded), 2)])
    return levels


def branch_of(levels: list[list[bytes]], index: int) -> list[bytes]:
    out = []
    for level in levels[:-1]:
        sibling = index ^ 1
        out.append(level[sibling] if sibling < len(level) else level[index])
        index >>= 1
    return out


def anvil_header(parent: bytes, number: int, timestamp: int, base_fee: int, **over) -> bytes:
    fields = {
        "parentHash": parent,
        "sha3Uncles": eth.EMPTY_OMMERS_HASH,
        "miner": bytes(20),
        "stateRoot": b"\x01" * 32,
        "transactionsRoot": b"\x02" * 32,
        "receiptsRoot": over.pop("receipts_root", b"\x03" * 32),
        "logsBloom": bytes(256),
        "difficulty": 0,
        "number": number,
        "gasLimit": 30_000_000,
        "gasUsed": 0,
        "timestamp": timestamp,
        "extraData": b"",
        "mixHash": bytes(32),
        "nonce": bytes(8),
        "baseFeePerGas": base_fee,
        "withdrawalsRoot": b"\x04" * 32,
        "blobGasUsed": 0,
        "excessBlobGas": 0,
        "parentBeaconBlockRoot": bytes(32),
        "requestsHash": b"\x05" * 32,
    }
    fields.update(over)
    return rlp.encode(list(fields.values()))


def anvil_chain(parent_rlp: bytes, count: int, start_time: int, **over) -> list[bytes]:
    out, parent = [], eth.parse_header(parent_rlp, eth.ANVIL)
    for _ in range(count):
        raw = anvil_header(
            parent.hash,
            parent.number + 1,
            start_time + len(out),
            eth.expected_base_fee(parent),
            **over,
        )
        out.append(raw)
        parent = eth.parse_header(raw, eth.ANVIL)
    return out


GENESIS = anvil_header(bytes(32), 0, 1_000, 1_000_000_000)
