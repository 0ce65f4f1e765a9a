"""Benchmark: Bitcoin headers validated and stored per second, and Merkle proofs per second.

The 20,000-header run is 8,064 real mainnet headers (heights 1..4032 from the genesis
checkpoint and 822529..826560 from a checkpoint at 822528, both crossing real retargets; from
the repository's ``tests/vectors``) plus a synthetic regtest chain of 11,936 headers (mined
before timing starts) to make up the volume,
submitted in batches of 1,000 (one write batch each) to the relay over the in-memory store; the
same run is repeated over a SQLite-backed store (one transaction per batch) for a figure that
includes a real database. The baseline is the raw double-SHA256 rate of the same 20,000 headers
measured in the same run. Merkle proofs: real branches of block 831332 (depth 12), each with its
raw transaction parsed and hashed. Each figure is the best of 5 repetitions (``--quick``: 2 for
the relay and Merkle runs, < 30 s), since the machine is shared.

Prints a table, then one JSON line:
``{"headers_per_s": ..., "raw_dsha256_per_s": ..., "ratio": ..., "merkle_proofs_per_s": ...}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import struct
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv import merkle
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.params import MAINNET, REGTEST, BitcoinParams
from etm_bridge.spv.kvstore import KeyValueStore, MemoryKeyValueStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import vector_files  # the tests' reader of tests/vectors

TOTAL = 20_000
BATCH = 1_000
NOW = 2_000_000_000


class SqliteStore:
    """A KeyValueStore on SQLite: one transaction per write batch (as the ETM store does)."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.execute("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")

    def get(self, key: bytes) -> bytes | None:
        row = self.db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: bytes, value: bytes) -> None:
        self.write_batch({key: value})

    def write_batch(self, items: Mapping[bytes, bytes]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?)", items.items())
        self.db.execute("COMMIT")


def _read(name: str) -> list[bytes]:
    return vector_files.read_header_lines(f"bitcoin/{name}")


def _synthetic_regtest(count: int) -> list[bytes]:
    prev, out = bh.dsha256(REGTEST.genesis_header), []
    target = bh.decode_compact(0x207FFFFF)[0]
    for i in range(count):
        prefix = struct.pack(
            "<i32s32sII", 0x20000000, prev, b"\x11" * 32, 1_600_000_000 + i, 0x207FFFFF
        )
        nonce = 0
        while (
            int.from_bytes(bh.dsha256(raw := prefix + struct.pack("<I", nonce)), "little") > target
        ):
            nonce += 1
        out.append(raw)
        prev = bh.dsha256(raw)
    return out


def _runs() -> list[tuple[BitcoinParams, Checkpoint, list[bytes]]]:
    early = _read("mainnet_headers_0_4032.hex")
    late = _read("mainnet_headers_822528_826560.hex")
    late_cp = Checkpoint(
        822528, late[0], bh.work_from_bits(bh.BlockHeader.from_bytes(late[0]).bits)
    )
    synthetic = _synthetic_regtest(TOTAL - (len(early) - 1) - (len(late) - 1))
    return [
        (MAINNET, Checkpoint.genesis(MAINNET), early[1:]),
        (MAINNET, late_cp, late[1:]),
        (REGTEST, Checkpoint.genesis(REGTEST), synthetic),
    ]


def _relay_rate(runs: list, make_store) -> float:
    count, elapsed = 0, 0.0
    for params, checkpoint, headers in runs:
        store: KeyValueStore = make_store()
        relay = BitcoinRelay.initialise(store, params, checkpoint)
        start = time.perf_counter()
        for i in range(0, len(headers), BATCH):
            relay.submit_headers(headers[i : i + BATCH], NOW)
        elapsed += time.perf_counter() - start
        count += len(headers)
        assert relay.tip().height == checkpoint.height + len(headers)
    return count / elapsed


def _dsha_rate(headers: list[bytes]) -> float:
    sha = hashlib.sha256
    start = time.perf_counter()
    for raw in headers:
        sha(sha(raw).digest()).digest()
    return len(headers) / (time.perf_counter() - start)


def _merkle_rate(n: int) -> float:
    blocks = vector_files.read_json("bitcoin/merkle_proofs.json")["blocks"]
    block = next(b for b in blocks if b["height"] == 831332)
    header = bh.BlockHeader.from_hex(block["header"])
    cases = [
        (bytes.fromhex(p["raw_tx"]), [bytes.fromhex(h)[::-1] for h in p["branch"]], p["index"])
        for p in block["proofs"]
        if p["raw_tx"]
    ]
    start = time.perf_counter()
    for i in range(n):
        raw, branch, index = cases[i % len(cases)]
        merkle.verify_tx_in_header(raw, branch, index, block["tx_count"], header)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (< 30 s)")
    reps = 2 if parser.parse_args().quick else 5
    runs = _runs()
    all_headers = [h for _, _, headers in runs for h in headers]
    assert len(all_headers) == TOTAL
    headers_per_s = max(_relay_rate(runs, MemoryKeyValueStore) for _ in range(reps))
    sqlite_per_s = max(_relay_rate(runs, SqliteStore) for _ in range(reps))
    dsha_per_s = max(_dsha_rate(all_headers) for _ in range(5))  # cheap: always best of 5
    proofs_per_s = max(_merkle_rate(20_000) for _ in range(reps))
    print(f"{'headers validated+stored (memory store)':44s} {headers_per_s:12,.0f} /s")
    print(f"{'headers validated+stored (SQLite store)':44s} {sqlite_per_s:12,.0f} /s")
    print(f"{'raw double-SHA256 of the same headers':44s} {dsha_per_s:12,.0f} /s")
    print(f"{'Merkle proofs (parse tx + depth-12 branch)':44s} {proofs_per_s:12,.0f} /s")
    print(f"{'ratio headers / raw dsha256':44s} {headers_per_s / dsha_per_s:12.3f}")
    result = {
        "headers_per_s": round(headers_per_s),
        "raw_dsha256_per_s": round(dsha_per_s),
        "ratio": round(headers_per_s / dsha_per_s, 4),
        "merkle_proofs_per_s": round(proofs_per_s),
        "sqlite_headers_per_s": round(sqlite_per_s),
        "headers": TOTAL,
        "synthetic_regtest_headers": len(runs[2][2]),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
