"""Never sign twice, on a real node process: a forger killed after signing a slot and restarted
without that block (its chain database lost, restored from an older backup, or the crash hit
between signature and commit) refuses to sign the slot again. The same restart without the
slashing-protection record is performed too: it signs a second block for the slot, which is
slashable evidence, so the refusal is what protects the delegate.

One 60 s slot holds the whole test (the genesis time is chosen so slot 1 starts now): the node
never waits for a slot; it waits on conditions only.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from etm_bridge_regtest.etm_process import EtmNodeProcess

from etm_bridge.chain.address import address_hash
from etm_bridge.chain.block import Block
from etm_bridge.chain.genesis import GenesisConfig
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import etm_time
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.node.client import NodeClient
from etm_bridge.node.config import CHAIN_DB, SLASHING_PROTECTION_DB, NodeConfig
from etm_bridge.node.setup import init_node
from etm_bridge.store import ChainStore

BLOCK_TIME = 60


def _delete(data_dir: Path, db: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        (data_dir / (db + suffix)).unlink(missing_ok=True)


def _forge_with_a_pending_transfer(client: NodeClient) -> None:
    """A transfer in the mempool, then forging on: a block now would differ from the first."""
    user = dev_key("user-0")
    payload = TransferPayload(address_hash(dev_key("user-1").public_key), 12_345).encode()
    tx = Tx.create(user, network=client.status()["networkId"], type_id=TRANSFER, nonce=0,
                   fee=100_000, payload=payload)  # fmt: skip
    client.submit_tx(tx.encoded)
    client.set_forging(True)


def _wait_refused(client: NodeClient, slot: int, timeout_s: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.forging_status()
        if slot in status["refusedSlots"]:
            return status
        time.sleep(0.05)
    raise AssertionError(f"slot {slot} was never refused: {client.forging_status()}")


def test_a_forger_restarted_without_its_block_does_not_sign_the_slot_again(
    tmp_path: Path,
) -> None:
    data = tmp_path / "node"
    genesis_time = etm_time(time.time()) - BLOCK_TIME + 1  # slot 1 starts in a second
    init_node(data, delegates=1, block_time_s=BLOCK_TIME, funded_accounts=2, port=0,
              genesis_time=genesis_time)  # fmt: skip
    genesis = GenesisConfig.from_json(json.loads((data / "genesis.json").read_text()))
    node = EtmNodeProcess(data)
    try:
        client = node.start()
        client.wait_for_height(1, timeout_s=30)
        first = Block.decode(client.raw_block(1))
        assert genesis.params.slot_of(first.header.timestamp) == 1
        node.kill9()  # right after signing (and here after committing: the next line undoes it)
        _delete(data, CHAIN_DB)
        NodeConfig.load(data, forging=False).save()  # start idle, forge once the tx is in

        client = node.start()
        _forge_with_a_pending_transfer(client)
        forging = _wait_refused(client, 1)
        assert "slot 1" in str(forging["lastError"]) and "slashing protection" in str(
            forging["lastError"]
        )
        assert client.status()["height"] == 0 and forging["forgedBlocks"] == 0
        node.stop()

        # the same restart without the record: the attack the record prevents
        _delete(data, CHAIN_DB)
        _delete(data, SLASHING_PROTECTION_DB)
        client = node.start()
        _forge_with_a_pending_transfer(client)
        client.wait_for_height(1, timeout_s=30)
        second = Block.decode(client.raw_block(1))
        assert genesis.params.slot_of(second.header.timestamp) == 1, "the test outlived slot 1"
        assert second.id != first.id and len(second.transactions) == 1
        judge = Chain(ChainStore.memory(), genesis)
        assert judge.note_evidence(first.header, second.header)  # slashable double forging
    finally:
        print(node.log_tail())
        node.stop()
