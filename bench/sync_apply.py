"""Benchmark: where a syncing node's time goes, per block of history (CPU time, in-process).

History: blocks of one signed transfer each on a 4-delegate chain (as ``bench/network.py``'s sync
part), forged with the real chain code, then applied to a fresh chain on a SQLite file:

* ``baseline_ms``: ``apply_block`` one by one, one store transaction per block, every check on
  one thread (what a node did before: what sync costs without verifying ahead or batching);
* ``verify_ms`` (``vrf_ms``, ``block_sig_ms``, ``tx_sig_ms``): ``Chain.preverify``, the part that
  runs in worker threads (RANDAO reveal VRF proof, block signature, tx signatures);
* ``apply_ms``: ``apply_block`` of preverified blocks in batches of 50 (one transaction each):
  what is left on the event loop; ``apply_unbatched_ms``: the same, one transaction per block;
* ``parallel_cpu_per_wall``: ``preverify`` of all blocks in 2 threads, process CPU seconds per
  wall second (above 1.0 only if the threads really run at the same time: libsodium releases the
  GIL), next to ``serial_cpu_per_wall`` (1 thread) and ``control_cpu_per_wall`` (2 threads
  hashing 1 MiB buffers, which surely release the GIL: what the machine gives two threads right
  now), and ``parallel_speedup`` (wall of 1 thread / wall of 2; needs two idle cores);
  ``gil_free_ticks``: how often another thread ran Python (1 ms sleeps) during one long libsodium
  call through PyNaCl (argon2id, ~0.2 s): near 0 if the call held the GIL, up to ~200 if not
  (every PyNaCl binding is the same cffi wrapper, so the ed25519 and VRF calls release it too);
* ``pipelined_blocks_per_s``: wall clock of the node's scheme (verify threads ahead, main thread
  applying batches), against ``serial_blocks_per_s`` (the baseline, wall clock);
* ``ceiling_blocks_per_s``: ``cpu_count * 1000 / (verify_ms + apply_ms)``, the most this machine's
  cores give if nothing else runs (every figure above is CPU time, so other processes sharing the
  cores do not skew it; wall-clock figures do depend on them).

Ends with one JSON line. ``python bench/sync_apply.py --quick`` (2,000 blocks) or without (5,000).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nacl.bindings

from etm_bridge.chain import vrf
from etm_bridge.chain.address import address_hash
from etm_bridge.chain.block import Block
from etm_bridge.chain.codec import sha256
from etm_bridge.chain.genesis import GenesisConfig, dev_genesis
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.preverify import Preverified
from etm_bridge.chain.rounds import reveal_alpha
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.store import ChainStore

SENDERS = 40
CHUNK = 50


def history(n_blocks: int) -> tuple[GenesisConfig, list[Block]]:
    """``n_blocks`` blocks of one transfer each, as a peer would send them (decoded bytes)."""
    params = ChainParams(block_time_s=1, delegates_per_round=4, tx_plugins=(), genesis_time=0)
    cfg, keys = dev_genesis(params, 4, funded=SENDERS)
    chain = Chain(ChainStore.memory(), cfg)
    users = [dev_key(f"user-{i}") for i in range(SENDERS)]
    blocks, t = [], 0
    for b in range(n_blocks):
        to = address_hash(sha256(f"h{b}".encode()))
        chain.submit_tx(Tx.create(users[b % SENDERS], network=params.network_id, type_id=TRANSFER,
                                  nonce=b // SENDERS, fee=100_000,
                                  payload=TransferPayload(to, 1).encode()))  # fmt: skip
        block = None
        while block is None:
            t += 1
            block = chain.forge_next(t, keys)
        blocks.append(Block.decode(block.encoded))
    return cfg, blocks


def fresh_chain(cfg: GenesisConfig, root: Path, name: str) -> Chain:
    return Chain(ChainStore.open(root / f"{name}.sqlite"), cfg)


def thread_ms(fn: Callable[[], object], n: int) -> float:
    """CPU milliseconds of this thread per item for ``fn()`` over ``n`` items."""
    t0 = time.thread_time()
    fn()
    return 1000 * (time.thread_time() - t0) / n


def verify_parts(cfg: GenesisConfig, genesis_id: bytes, blocks: list[Block]) -> dict[str, float]:
    params, n = cfg.params, len(blocks)
    alphas = [reveal_alpha(params.network_id, params.round_of(b.height)) for b in blocks]

    def reveals() -> None:
        for b, alpha in zip(blocks, alphas, strict=True):
            assert vrf.verify(b.header.generator_public_key, alpha, b.header.reveal) is not None

    def block_sigs() -> None:
        assert all(b.header.signature_ok(genesis_id) for b in blocks)

    def tx_sigs() -> None:
        assert all(tx.signature_ok() for b in blocks for tx in b.transactions)

    return {"vrf_ms": thread_ms(reveals, n), "block_sig_ms": thread_ms(block_sigs, n),
            "tx_sig_ms": thread_ms(tx_sigs, n)}  # fmt: skip


def apply_all(chain: Chain, blocks: list[Block], batch: int) -> None:
    for i in range(0, len(blocks), batch):
        if batch == 1:
            assert chain.apply_block(blocks[i])
            continue
        with chain.batch():
            for block in blocks[i : i + batch]:
                assert chain.apply_block(block)


def preverify_in(threads: int, chain: Chain, blocks: list[Block]) -> tuple[float, float]:
    """(wall s, process CPU s) to preverify ``blocks`` in ``threads`` threads."""
    parts = [blocks[i::threads] for i in range(threads)]
    workers = [threading.Thread(target=lambda p=p: [chain.preverify(b) for b in p]) for p in parts]
    w0, c0 = time.perf_counter(), time.process_time()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - w0, time.process_time() - c0


def control_in_two_threads(seconds: float = 1.0) -> float:
    """Process CPU per wall second of 2 threads hashing 1 MiB buffers (hashlib releases the
    GIL): how much parallelism the machine offers two threads right now."""
    data = bytes(1 << 20)

    def spin() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            sha256(data)

    workers = [threading.Thread(target=spin) for _ in range(2)]
    w0, c0 = time.perf_counter(), time.process_time()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return (time.process_time() - c0) / (time.perf_counter() - w0)


def gil_free_ticks() -> int:
    """Ticks (1 ms sleeps) another thread completed while one argon2id call ran in libsodium."""
    done, ticks = threading.Event(), [0]

    def tick() -> None:
        while not done.is_set():
            time.sleep(0.001)
            ticks[0] += 1

    ticker = threading.Thread(target=tick)
    ticker.start()
    time.sleep(0.01)
    before = ticks[0]
    nacl.bindings.crypto_pwhash_alg(32, b"etm", bytes(16), 2, 64 << 20,
                                    nacl.bindings.crypto_pwhash_ALG_ARGON2ID13)  # fmt: skip
    during = ticks[0] - before
    done.set()
    ticker.join()
    return during


def pipelined(chain: Chain, blocks: list[Block], threads: int) -> float:
    """The node's scheme: chunks verified ahead in ``threads`` threads, applied in batches."""
    pool = ThreadPoolExecutor(threads)
    start = time.perf_counter()

    def verify(part: list[Block]) -> list[Preverified]:
        return [chain.preverify(b) for b in part]

    futures = [pool.submit(verify, blocks[i : i + CHUNK]) for i in range(0, len(blocks), CHUNK)]
    for i, future in zip(range(0, len(blocks), CHUNK), futures, strict=True):
        chain.note_preverified(future.result())
        with chain.batch():
            for block in blocks[i : i + CHUNK]:
                assert chain.apply_block(block)
    pool.shutdown()
    return len(blocks) / (time.perf_counter() - start)


def run(n_blocks: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    cfg, blocks = history(n_blocks)
    print(f"forged {n_blocks} blocks in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    n = len(blocks)
    with tempfile.TemporaryDirectory(prefix="etm-bench-sync-") as tmp:
        root = Path(tmp)
        base = fresh_chain(cfg, root, "baseline")
        w0 = time.perf_counter()
        baseline_ms = thread_ms(lambda: apply_all(base, blocks, 1), n)
        serial = n / (time.perf_counter() - w0)
        checker = fresh_chain(cfg, root, "verify")
        results: list[Preverified] = []
        verify_ms = thread_ms(lambda: results.extend(checker.preverify(b) for b in blocks), n)
        parts = verify_parts(cfg, checker.genesis_id, blocks)
        unbatched = fresh_chain(cfg, root, "unbatched")
        unbatched.note_preverified(results)
        apply_unbatched_ms = thread_ms(lambda: apply_all(unbatched, blocks, 1), n)
        batched = fresh_chain(cfg, root, "batched")
        batched.note_preverified(results)
        apply_ms = thread_ms(lambda: apply_all(batched, blocks, CHUNK), n)
        digest = base.status()["stateDigest"]
        assert batched.status()["stateDigest"] == unbatched.status()["stateDigest"] == digest
        one_wall, one_cpu = preverify_in(1, checker, blocks)
        two_wall, two_cpu = preverify_in(2, checker, blocks)
        control = control_in_two_threads()
        gil_ticks = gil_free_ticks()
        cores = os.cpu_count() or 1
        pipe = pipelined(fresh_chain(cfg, root, "pipelined"), blocks, cores)
    out = {
        "blocks": n, "baseline_ms": baseline_ms, "verify_ms": verify_ms, **parts,
        "apply_ms": apply_ms, "apply_unbatched_ms": apply_unbatched_ms,
        "parallel_cpu_per_wall": two_cpu / two_wall, "serial_cpu_per_wall": one_cpu / one_wall,
        "control_cpu_per_wall": control, "parallel_speedup": one_wall / two_wall,
        "gil_free_ticks": gil_ticks,
        "serial_blocks_per_s": serial, "pipelined_blocks_per_s": pipe,
        "ceiling_blocks_per_s": cores * 1000 / (verify_ms + apply_ms), "cores": cores,
        "ratio_cpu_to_baseline": baseline_ms / (verify_ms + apply_ms),
        "load_avg_1m": os.getloadavg()[0],
    }  # fmt: skip
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 blocks instead of 5,000")
    args = parser.parse_args()
    result = run(2_000 if args.quick else 5_000)
    for key in ("baseline_ms", "verify_ms", "vrf_ms", "block_sig_ms", "tx_sig_ms", "apply_ms",
                "apply_unbatched_ms"):  # fmt: skip
        print(f"{key:>20}: {result[key]:.3f} ms CPU per block", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
