"""kill -9 a forging node, and a node syncing history in batches (many blocks per SQLite
transaction, each block in a savepoint), at arbitrary moments: nothing committed is lost, nothing
half-applied, and the state digest equals a replay of its blocks from genesis on a fresh store."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from etm_bridge_regtest.etm_process import EtmNodeProcess

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.block import Block
from etm_bridge.chain.codec import sha256
from etm_bridge.chain.genesis import GenesisConfig
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import etm_time
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.errors import TxRejectedError
from etm_bridge.node.client import NodeClient
from etm_bridge.node.config import NodeConfig
from etm_bridge.node.network_setup import join_node
from etm_bridge.node.service import load_forging_keys
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


def forge_offline(data_dir: Path, n_blocks: int) -> GenesisConfig:
    """A non-forging node's data dir whose chain already holds ``n_blocks`` blocks of one
    transfer each, forged with the real chain code (every slot is in the past)."""
    init_node(data_dir, delegates=4, block_time_s=1, funded_accounts=4, port=0,
              genesis_time=etm_time(time.time()) - n_blocks - 600, tx_plugins=())  # fmt: skip
    config = NodeConfig.load(data_dir)
    NodeConfig(**{**config.__dict__, "forging": False}).save()
    genesis = GenesisConfig.from_json(json.loads((data_dir / "genesis.json").read_text()))
    keys = load_forging_keys(config.forging_keys_path)
    store = ChainStore.open(config.db_path)
    chain, users = Chain(store, genesis), [dev_key(f"user-{i}") for i in range(4)]
    t = genesis.params.genesis_time
    try:
        for b in range(n_blocks):
            to = address_hash(sha256(f"crash-{b}".encode()))
            chain.submit_tx(Tx.create(users[b % 4], network=genesis.params.network_id,
                                      type_id=TRANSFER, nonce=b // 4, fee=FEE,
                                      payload=TransferPayload(to, 1 + b).encode()))  # fmt: skip
            while chain.forge_next(t := t + 1, keys) is None:
                pass
    finally:
        store.close()
    return genesis


def check_against_source(fresh_db: Path, source_db: Path, genesis: GenesisConfig) -> int:
    """The killed node's store holds a prefix of the source's chain, each block whole: its tip
    digest and whole state equal a replay of the source's blocks up to that tip."""
    fresh, source = ChainStore.open(fresh_db), ChainStore.open(source_db)
    try:
        tip = fresh.tip_height()
        assert tip is not None
        replayed = Chain(ChainStore.memory(), genesis)
        for h in range(1, tip + 1):
            assert fresh.block_id_at(h) == source.block_id_at(h)
            assert replayed.apply_block(source.block_at(h))
        assert fresh.digest_at(tip) == replayed.store.digest_at(tip)
        assert fresh.full_state_digest() == replayed.store.full_state_digest()  # type: ignore[attr-defined]
        return tip
    finally:
        fresh.close()
        source.close()


def test_kill_9_while_syncing_in_batches_loses_no_committed_block(tmp_path: Path) -> None:
    """A fresh node syncs 600 blocks from a peer (chunks of 50 blocks, one SQLite transaction
    each) and is killed with SIGKILL at random moments (once past a random height ahead of where
    it restarted). Every block its API showed before a kill
    (the API only runs between batches, so it only ever shows committed blocks) is still there;
    the store is always a whole prefix of the source's chain (no half-applied block, no torn
    batch); restarted, it resumes and reaches the source's tip with the same state."""
    n_blocks = 600
    genesis = forge_offline(tmp_path / "source", n_blocks)
    source = EtmNodeProcess(tmp_path / "source")
    source.start()
    rng = random.Random(20261207)
    join_node(tmp_path / "fresh", tmp_path / "source" / "genesis.json",
              peers=(f"127.0.0.1:{source.port}",), port=0)  # fmt: skip
    fresh = EtmNodeProcess(tmp_path / "fresh")
    fresh_db, source_db = tmp_path / "fresh" / "chain.sqlite", tmp_path / "source" / "chain.sqlite"
    seen: dict[int, str] = {}
    kills_mid_sync = 0
    try:
        for _ in range(3):  # kill once the height passed a random mark ahead of the restart
            client = fresh.start()
            for height, block_id in seen.items():  # nothing shown before a kill was lost
                assert client.block(height)["fullId"] == block_id
            mark = min(n_blocks - 20, client.status()["height"] + rng.randrange(10, 150))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                height = client.status()["height"]
                if height > 0:
                    seen[height] = client.block(height)["fullId"]
                if height >= mark:
                    break
            fresh.kill9()
            tip = check_against_source(fresh_db, source_db, genesis)
            print(f"killed past height {mark}: the store holds blocks 1..{tip}, each whole")
            kills_mid_sync += 0 < tip < n_blocks
            assert tip >= max(seen, default=0)
        client = fresh.start()
        client.wait_for_height(n_blocks, timeout_s=120)
        fresh.stop()
        assert check_against_source(fresh_db, source_db, genesis) == n_blocks
        assert kills_mid_sync >= 1, "no kill landed during the sync: nothing was tested"
    finally:
        print(fresh.log_tail())
        fresh.stop()
        source.stop()
