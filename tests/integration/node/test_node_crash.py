"""kill -9 a forging node at arbitrary moments: nothing committed is lost, nothing half-applied,
and the state digest equals a replay of its blocks from genesis on a fresh store."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from etm_bridge_regtest.etm_process import EtmNodeProcess

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.block import Block
from etm_bridge.chain.genesis import GenesisConfig
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.errors import TxRejectedError
from etm_bridge.node.client import NodeClient
from etm_bridge.node.setup import init_node
from etm_bridge.store import ChainStore
from etm_bridge.units import ETM

FEE = 100_000


def replay(data_dir: Path, client: NodeClient, height: int) -> ChainStore:
    """Apply the node's blocks 1..height (fetched over HTTP) to a fresh in-memory chain."""
    genesis = GenesisConfig.from_json(json.loads((data_dir / "genesis.json").read_text()))
    store = ChainStore.memory()
    chain = Chain(store, genesis)
    for h in range(1, height + 1):
        assert chain.apply_block(Block.decode(client.raw_block(h)), None)
    return store


def submit_transfers(client: NodeClient, count: int) -> list[str]:
    """Signed transfers user-0 -> user-1 from the account's current nonce (rejections skipped)."""
    alice = dev_key("user-0")
    nonce = client.account(encode_address(address_hash(alice.public_key)))["nonce"]
    network = client.status()["networkId"]
    bob = address_hash(dev_key("user-1").public_key)
    ids = []
    for i in range(count):
        payload = TransferPayload(bob, ETM + i).encode()
        tx = Tx.create(alice, network=network, type_id=TRANSFER, nonce=nonce + i, fee=FEE,
                       payload=payload)  # fmt: skip
        try:
            ids.append(client.submit_tx(tx.encoded)["id"])
        except TxRejectedError:
            break
    return ids


def test_kill_9_at_random_moments_keeps_state_and_replays_to_the_same_digest(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "node"
    init_node(data_dir, delegates=4, block_time_s=1, funded_accounts=2, port=0)
    node = EtmNodeProcess(data_dir)
    rng = random.Random(20261125)
    seen: dict[int, str] = {}  # height -> block id observed before a crash
    confirmed: list[str] = []
    try:
        for _ in range(3):
            client = node.start()
            status = client.status()
            for height, block_id in seen.items():  # nothing committed was lost or changed
                assert client.block(height)["fullId"] == block_id
            for tx_id in confirmed:
                assert client.transaction(tx_id)["status"] == "confirmed"
            submit_transfers(client, 5)
            client.wait_for_height(status["height"] + 2, timeout_s=20)
            for block in client.latest_blocks(3):
                seen[block["height"]] = block["fullId"]
                confirmed += block["transactionIds"]
            submit_transfers(client, 5)  # in flight when the node dies
            time.sleep(rng.uniform(0.05, 1.5))
            node.kill9()

        client = node.start()
        client.set_forging(False)
        tip = client.status()
        assert tip["height"] >= max(seen)
        assert len(confirmed) >= 5
        replayed = replay(data_dir, client, tip["height"])
        assert replayed.digest_at(tip["height"]).hex() == tip["stateDigest"]
        node.stop()
        on_disk = ChainStore.open(data_dir / "chain.sqlite")
        try:
            assert on_disk.tip_height() == tip["height"]
            assert on_disk.full_state_digest() == replayed.full_state_digest()
        finally:
            on_disk.close()
    finally:
        print(node.log_tail())
        node.stop()
