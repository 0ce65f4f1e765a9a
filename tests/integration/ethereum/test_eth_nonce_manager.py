"""One nonce manager per account on a real anvil: concurrent senders, restarts, stale state.

Account 8 sends from several threads through two adapters at once (two managers sharing the
data dir behave like two processes: each reservation takes the file lock), then a restarted
adapter continues the sequence, and a persisted nonce whose transaction the node never saw is
not trusted (no gap that would stall every later transaction).
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from etm_bridge.chains.ethereum.spv.rlp import to_int

SENDER, SINK = 8, 9
THREADS, PER_THREAD = 4, 5
PROCESSES, PER_PROCESS = 2, 6

#: One sending process: a fresh adapter from the config, ``count`` sends without waiting.
_SENDER_PROCESS = """
import json, sys
from etm_bridge_ethereum import EthereumAdapter
config, to, count = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
adapter = EthereumAdapter.from_config(config)
print(json.dumps([adapter.sender.send(to, b"", 1, "transfer") for _ in range(count)]))
"""


@pytest.fixture
def sink(anvil_node) -> str:
    return anvil_node.accounts[SINK]


def _nonce_of(adapter, tx_hash: str) -> int:
    return to_int(adapter.node.transaction(tx_hash)["nonce"], "nonce")


def _pay(adapter, to: str) -> str:
    receipt = adapter.sender.transact(to, b"", 1, "transfer")
    assert to_int(receipt["status"], "status") == 1
    return receipt["transactionHash"]


def test_concurrent_sends_from_two_adapters_use_each_nonce_once(adapters, sink):
    first, second = adapters(SENDER), adapters(SENDER)
    start = first.node.nonce(first.account.address, "pending")
    jobs = [first, second] * (THREADS // 2)
    with ThreadPoolExecutor(THREADS) as pool:
        batches = pool.map(lambda a: [_pay(a, sink) for _ in range(PER_THREAD)], jobs)
        hashes = [h for batch in batches for h in batch]
    nonces = sorted(_nonce_of(first, h) for h in hashes)
    assert nonces == list(range(start, start + THREADS * PER_THREAD))
    assert first.sender.nonces.persisted()[0] == start + THREADS * PER_THREAD


def test_restarted_adapter_continues_the_sequence(adapters, adapter_config, sink):
    before = adapters(SENDER)
    last = _nonce_of(before, _pay(before, sink))
    before.close()
    after = adapters(SENDER)  # a new adapter, new manager, same data dir
    assert _nonce_of(after, _pay(after, sink)) == last + 1


def test_persisted_nonce_of_an_unknown_tx_is_not_trusted(adapters, sink):
    adapter = adapters(SENDER)
    pending = adapter.node.nonce(adapter.account.address, "pending")
    state = {"next_nonce": pending + 5, "last_tx_hash": "0x" + "ee" * 32}
    adapter.sender.nonces.state_path.write_text(json.dumps(state))
    assert _nonce_of(adapter, _pay(adapter, sink)) == pending


def test_two_processes_sending_unmined_transactions_never_share_a_nonce(
    anvil_node, adapters, adapter_config, sink
):
    """Automine off: every send stays pending, so each nonce is the node's pending count read
    under the account's file lock; two processes interleave without colliding or skipping."""
    adapter = adapters(SENDER)
    start = adapter.node.nonce(adapter.account.address, "pending")
    config = json.dumps(adapter_config(SENDER))
    command = [sys.executable, "-c", _SENDER_PROCESS, config, sink, str(PER_PROCESS)]
    anvil_node.rpc.call("evm_setAutomine", False)
    try:
        procs = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(PROCESSES)
        ]
        outputs = [proc.communicate(timeout=120) for proc in procs]
    finally:
        anvil_node.rpc.call("evm_setAutomine", True)
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    hashes = [h for out, _ in outputs for h in json.loads(out)]
    anvil_node.rpc.call("evm_mine")
    nonces = sorted(_nonce_of(adapter, h) for h in hashes)
    assert nonces == list(range(start, start + PROCESSES * PER_PROCESS))
    assert all(adapter.sender.wait(h, "transfer")["status"] == "0x1" for h in hashes)
