"""kill -9 safety and replay: a node killed at random moments keeps every committed block, never
a half-applied one, and replaying its blocks from genesis gives the same state digest."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from etm_bridge.chain.block import Block
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.store import ChainStore

PARAMS = ChainParams(block_time_s=1, delegates_per_round=3)

CHILD = r"""
import sys
from etm_bridge.chain.address import address_hash
from etm_bridge.chain.genesis import dev_genesis
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.store import ChainStore

params = ChainParams(block_time_s=1, delegates_per_round=3)
cfg, keys = dev_genesis(params, 4, funded=5)
chain = Chain(ChainStore.open(sys.argv[1]), cfg)
users = [dev_key(f"user-{i}") for i in range(5)]
while True:
    for i, u in enumerate(users):
        nonce = chain.account(address_hash(u.public_key)).nonce
        for k in range(20):
            payload = TransferPayload(address_hash(users[(i + 1) % 5].public_key), 1 + k).encode()
            tx = Tx.create(u, network=params.network_id, type_id=TRANSFER, nonce=nonce + k,
                           fee=100_000, payload=payload)
            chain.submit_tx(tx)
    now = params.slot_time(chain.tip.slot + 1)
    while chain.forge_next(now, keys) is None:
        now += 1
    print(chain.tip.height, flush=True)
"""


def _check_consistent(path: Path) -> int:
    cfg, _ = dev_genesis(PARAMS, 4, funded=5)
    store = ChainStore.open(path)
    ok = store.db.execute("PRAGMA integrity_check").fetchone()[0]
    assert ok == "ok"
    chain = Chain(store, cfg)
    height = chain.tip.height
    replay = Chain(ChainStore.memory(), cfg)
    for h in range(1, height + 1):
        replay.apply_block(Block.decode(store.block_at(h).encoded))
        assert replay.store.digest_at(h) == store.digest_at(h), f"digest differs at {h}"
    assert replay.store.full_state_digest() == store.full_state_digest()
    store.close()
    return height


def test_kill_9_mid_apply_loop_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    rng = random.Random(7)
    last = 0
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        assert proc.stdout is not None
        first = proc.stdout.readline()  # wait for at least one committed block
        assert first.strip(), proc.stderr.read() if proc.stderr else "child died"
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        printed = [int(x) for x in [first, *proc.stdout.read().split()] if str(x).strip()]
        proc.wait()
        height = _check_consistent(path)
        assert height >= max(printed)  # every block reported as committed survived
        assert height > last
        last = height
