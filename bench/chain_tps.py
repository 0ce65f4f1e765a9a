"""Benchmark: signed ETM transfers validated and applied per second, in full blocks, SQLite on disk.

A forger chain (in memory) builds full blocks of signed transfers; a fresh validator chain on a
SQLite file in WAL mode then applies them with ``Chain.apply_block`` -- every signature verified,
every rule checked, one database transaction per block. Printed next to the raw PyNaCl ed25519
verify rate measured in the same run (half before, half after the apply loop). Rates are per CPU
second of this process, so other processes sharing the cores do not skew the ratio; wall-clock
figures are printed and included too. Ends with one JSON line:
``{"applied_tps": ..., "raw_verify_per_s": ..., "ratio": ..., "applied_tps_wall": ..., ...}``.

    python bench/chain_tps.py            # 10 blocks x 5000 transfers
    python bench/chain_tps.py --quick    # 4 blocks x 2500 transfers (< 30 s)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import nacl.bindings

from etm_bridge.chain.address import address_hash
from etm_bridge.chain.block import Block
from etm_bridge.chain.codec import sha256
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.store import ChainStore

SENDERS = 250


def raw_verify_rate(seconds: float) -> tuple[float, float]:
    """(verifies per CPU second, verifies per wall second) of PyNaCl's ed25519 verify."""
    key = dev_key("bench-raw")
    msgs = [sha256(i.to_bytes(4, "big")) for i in range(256)]
    signed = [key.sign(m) + m for m in msgs]
    pk, n = key.public_key, 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - wall0 < seconds:
        for sm in signed:
            nacl.bindings.crypto_sign_open(sm, pk)
        n += len(signed)
    return n / (time.process_time() - cpu0), n / (time.perf_counter() - wall0)


def build_blocks(params: ChainParams, n_blocks: int, per_block: int) -> tuple[object, list[Block]]:
    cfg, keys = dev_genesis(params, params.delegates_per_round, funded=SENDERS)
    forger = Chain(ChainStore.memory(), cfg)
    users = [dev_key(f"user-{i}") for i in range(SENDERS)]
    nonces = [0] * SENDERS
    blocks, now = [], 0
    for b in range(n_blocks):
        for i in range(per_block):
            s = (b * per_block + i) % SENDERS
            recipient = address_hash(sha256(f"r{b}-{i}".encode()))
            payload = TransferPayload(recipient, 1 + i).encode()
            fee = params.fee_base + params.fee_per_byte * 190
            tx = Tx.create(users[s], network=params.network_id, type_id=TRANSFER,
                           nonce=nonces[s], fee=fee, payload=payload)  # fmt: skip
            nonces[s] += 1
            forger.submit_tx(tx)
        block = None
        while block is None:
            now += params.block_time_s
            block = forger.forge_next(now, keys)
        blocks.append(block)
    return cfg, blocks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller run that finishes in < 30 s")
    args = ap.parse_args()
    n_blocks, per_block = (4, 2500) if args.quick else (10, 5000)
    params = ChainParams(block_time_s=1, delegates_per_round=5, max_txs_per_block=per_block)
    t0 = time.perf_counter()
    cfg, blocks = build_blocks(params, n_blocks, per_block)
    setup_s = time.perf_counter() - t0
    print(f"setup: {n_blocks} blocks x {per_block} signed transfers in {setup_s:.1f}s")
    verify_s = 1.0 if args.quick else 3.0
    raw_before = raw_verify_rate(verify_s / 2)
    with tempfile.TemporaryDirectory() as tmp:
        validator = Chain(ChainStore.open(Path(tmp) / "chain.sqlite"), cfg)  # type: ignore[arg-type]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for block in blocks:
            validator.apply_block(block)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        assert validator.tip.height == n_blocks
    raw_after = raw_verify_rate(verify_s / 2)
    raw_cpu = (raw_before[0] + raw_after[0]) / 2
    raw_wall = (raw_before[1] + raw_after[1]) / 2
    n_tx = sum(len(b.transactions) for b in blocks)
    tps, tps_wall = n_tx / cpu, n_tx / wall
    print(f"applied {n_tx} transfers (all signatures verified, SQLite on disk, WAL, one db")
    print(
        f"  transaction per block): {tps:,.0f} tx per CPU second; {tps_wall:,.0f} tx/s wall clock"
    )
    print(f"raw ed25519 verify (PyNaCl): {raw_cpu:,.0f} per CPU second; {raw_wall:,.0f}/s wall")
    print("(CPU seconds of this process: robust to other processes sharing the cores)")
    print(json.dumps({"applied_tps": round(tps, 1), "raw_verify_per_s": round(raw_cpu, 1),
                      "ratio": round(tps / raw_cpu, 3), "applied_tps_wall": round(tps_wall, 1),
                      "raw_verify_per_s_wall": round(raw_wall, 1),
                      "ratio_wall": round(tps_wall / raw_wall, 3)}))  # fmt: skip


if __name__ == "__main__":
    main()
