"""Benchmark: the worst payloads of issue 11 item 3 are refused in bounded time.

A ``node init`` chain (core, SPV relays, exchange; in memory) admits signed, fee-paying
transactions whose payloads are the hostile inputs of :mod:`etm_bridge.testing.hostile`
(nested JSON, nested RLP in the relay payloads, a flat RLP list of one-byte items) at growing
sizes up to the 1 MiB payload limit. Each is refused with ``malformed_field`` by a depth or item
cap; the figure is the refusal time next to the baseline measured in the same run: verifying the
signature of that same transaction (hashing its bytes: work any admission must do). Bounded
means the ratio stays flat as the payload grows. For comparison, pyrlp's own decoder (which the
chain used before, under py_ecc's 100,000 recursion limit) is timed on nested RLP.

Ends with one JSON line: ``{"worst_ratio": ..., "ratios": {...}, "reject_ms": {...},
"pyrlp_nested_ms": {...}}``.

    python bench/hostile_payloads.py            # 5 repetitions, best of
    python bench/hostile_payloads.py --quick    # 2 repetitions (< 30 s)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

import rlp

from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.tx import Tx
from etm_bridge.chains.ethereum.etm.relay_types import ETH_RECEIPT_PROOF, ETH_RELAY_HEADERS
from etm_bridge.chains.ethereum.hostile import flat_rlp, nested_rlp
from etm_bridge.errors import TxRejectedError
from etm_bridge.exchange.txtypes import POOL_CREATE
from etm_bridge.node.setup import NODE_TX_PLUGINS
from etm_bridge.store import ChainStore
from etm_bridge.testing.hostile import nested_json

CASES: dict[str, tuple[int, Callable[[int], bytes], tuple[int, ...]]] = {
    "nested_json": (POOL_CREATE, nested_json, (1_000, 10_000, 100_000, 1_000_000)),
    "nested_rlp_headers": (ETH_RELAY_HEADERS, nested_rlp, (1_000, 10_000, 100_000, 250_000)),
    "nested_rlp_proof": (ETH_RECEIPT_PROOF, nested_rlp, (1_000, 10_000, 100_000, 250_000)),
    "flat_rlp_headers": (ETH_RELAY_HEADERS, flat_rlp, (1_000, 10_000, 100_000, 1_000_000)),
}


def best_of(reps: int, call: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def refuse(chain: Chain, tx: Tx) -> None:
    try:
        chain.submit_tx(tx)
    except TxRejectedError as exc:
        assert exc.reason == "malformed_field", exc
    else:
        raise AssertionError("a hostile payload was admitted")


def pyrlp_nested_ms(reps: int) -> dict[str, float]:
    """pyrlp on nested RLP with py_ecc's recursion limit (the old path), depths it survives."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        return {str(d): round(1000 * best_of(reps, lambda d=d: rlp.decode(nested_rlp(d))), 1)
                for d in (2_000, 8_000, 16_000)}  # fmt: skip
    finally:
        sys.setrecursionlimit(old)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    reps = 2 if parser.parse_args().quick else 5
    params = ChainParams(block_time_s=1, delegates_per_round=3, tx_plugins=NODE_TX_PLUGINS)
    cfg, _ = dev_genesis(params, 3, funded=1)
    chain, key = Chain(ChainStore.memory(), cfg), dev_key("user-0")
    ratios: dict[str, float] = {}
    reject_ms: dict[str, float] = {}
    for name, (type_id, build, sizes) in CASES.items():
        for size in sizes:
            payload = build(size)
            fee = params.fee_base + params.fee_per_byte * (len(payload) + 200)
            tx = Tx.create(key, network=params.network_id, type_id=type_id, nonce=0, fee=fee,
                           payload=payload)  # fmt: skip
            rejected = best_of(reps, lambda tx=tx: refuse(chain, tx))
            baseline = best_of(reps, tx.signature_ok)
            label = f"{name}_{size}"
            ratios[label], reject_ms[label] = rejected / baseline, 1000 * rejected
            print(f"{label:28} {len(payload):>9} B  refused in {1000 * rejected:8.2f} ms  "
                  f"signature check {1000 * baseline:6.2f} ms  "
                  f"ratio {rejected / baseline:5.2f}")  # fmt: skip
    old = pyrlp_nested_ms(reps)
    print("pyrlp (the old decoder) on nested RLP, ms by depth:", old)
    print(json.dumps({"worst_ratio": round(max(ratios.values()), 2),
                      "ratios": {k: round(v, 2) for k, v in ratios.items()},
                      "reject_ms": {k: round(v, 2) for k, v in reject_ms.items()},
                      "pyrlp_nested_ms": old}))  # fmt: skip


if __name__ == "__main__":
    main()
