"""Reorganise a real regtest node without ``invalidateblock`` (bcoin 1.0.2 leaves its mempool on
the old tip after it, see docs/spv.md): build a longer branch of coinbase-only blocks from the
parent of a block and ``submitblock`` it (bcoin and bitcoind both answer it). Same construction
as tests/integration/spv/test_spv_bitcoin_live.py."""

from __future__ import annotations

import struct
from typing import Any

from etm_bridge.chains.bitcoin.spv import headers as bh


def _script_num(n: int) -> bytes:
    data = n.to_bytes((n.bit_length() + 8) // 8, "little")
    return bytes([len(data)]) + data


def _mine(prev_le: bytes, merkle_le: bytes, timestamp: int) -> bytes:
    target = bh.decode_compact(0x207FFFFF)[0]
    prefix = struct.pack("<i32s32sII", 0x20000000, prev_le, merkle_le, timestamp, 0x207FFFFF)
    for nonce in range(1 << 32):
        raw = prefix + struct.pack("<I", nonce)
        if int.from_bytes(bh.dsha256(raw), "little") <= target:
            return raw
    raise AssertionError("no nonce")


def reorg_out(node: Any, height: int) -> None:
    """Replace the best chain from ``height`` on with a longer branch of empty blocks."""
    tip = node.height()
    parent_hex = node.rpc.call("getblockheader", node.rpc.call("getblockhash", height - 1), False)
    prev = bh.BlockHeader.from_bytes(bytes.fromhex(parent_hex))
    now = prev.time
    for h in range(height, tip + 2):
        script_sig = _script_num(h) + b"\x05reorg"
        coinbase = (
            struct.pack("<i", 1) + b"\x01" + bytes(32) + b"\xff" * 4
            + bytes([len(script_sig)]) + script_sig + b"\xff" * 4
            + b"\x01" + bytes(8) + b"\x01\x51" + bytes(4)
        )  # fmt: skip
        now += 1
        header = _mine(prev.hash_le, bh.dsha256(coinbase), now)
        assert node.rpc.call("submitblock", (header + b"\x01" + coinbase).hex()) in (
            None,
            "inconclusive",
        )
        prev = bh.BlockHeader.from_bytes(header)
    assert node.height() == tip + 1, (node.height(), tip)
