"""A network of 4 real ETM delegate nodes (``regtest.etm_network``), one module-wide network.

The tests run in file order on the same network (1-second blocks): every node forges only its
own delegates' slots; a killed node's slots stay empty while the others go on, and after a
restart it catches up and forges again; a fresh node syncs from genesis; a peer sending invalid
blocks is banned; malformed and oversized peer messages never crash a node; a 2|2 partition
finalizes nothing on either side and, healed, converges without reverting a final block; then a
delegate that signs on two branches is slashed through gossiped evidence; last, evidence held by
a node that was cut off still reaches the forgers once they connect to it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from etm_bridge_regtest.etm_network import EtmNetwork, chain_ids, etm_network_in, wait_for
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from etm_bridge.chain.block import BLOCK_VERSION, Block, BlockHeader
from etm_bridge.chain.keys import SigningKey
from etm_bridge.chain.params import etm_time
from etm_bridge.node.client import NodeClient
from etm_bridge.node.p2p.messages import (
    PROTOCOL_VERSION,
    BlockMsg,
    Evidence,
    Hello,
    decode_frame,
    encode_frame,
)

NODES = 4


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtmNetwork]:
    with etm_network_in(tmp_path_factory.mktemp("etm-net"), nodes=NODES, delegates=NODES) as net:
        yield net


def _keys_of(net: EtmNetwork, i: int) -> set[str]:
    seeds = json.loads((net.nodes[i].data_dir / "forging_keys.json").read_text())["seeds"]
    return {dev_key_from_seed(s) for s in seeds}


def dev_key_from_seed(seed_hex: str) -> str:
    from etm_bridge.chain.keys import SigningKey

    return SigningKey(bytes.fromhex(seed_hex)).public_key.hex()


def _generators(client: NodeClient, heights: range) -> list[str]:
    return [client.block(h)["generatorPublicKey"] for h in heights]


def _height(client: NodeClient) -> int:
    return int(client.status()["height"])


def test_each_node_forges_only_its_own_delegates_slots(net: EtmNetwork) -> None:
    shares = [_keys_of(net, i) for i in range(NODES)]
    assert all(len(s) == 1 for s in shares) and len(set.union(*shares)) == NODES
    for i in range(NODES):
        assert set(net.client(i).forging_status()["publicKeys"]) == shares[i]
    wait_for(
        lambda: all(c.forging_status()["forgedBlocks"] >= 1 for c in net.clients),
        "every node forged a block",
    )
    top = _height(net.client(0))
    net.client(0).wait_for_height(top + 4)
    generators = _generators(net.client(0), range(1, top + 4))
    assert set(generators) <= set.union(*shares)
    status = net.client(0).status()
    final = status["finalizedHeight"]
    assert final >= 1 and status["finalizedId"] == net.client(0).block(final)["fullId"]
    assert (
        net.client(0).block(final)["final"] and not net.client(0).block(status["height"])["final"]
    )
    for client in net.clients[1:]:
        assert chain_ids(client, range(1, final + 1)) == chain_ids(
            net.client(0), range(1, final + 1)
        )


def test_killed_node_slots_stay_empty_then_it_catches_up_and_forges(net: EtmNetwork) -> None:
    victim = NODES - 1
    victim_key = _keys_of(net, victim)
    net.nodes[victim].kill9()
    start = _height(net.client(0))
    net.client(0).wait_for_height(start + 6, timeout_s=30)
    after = _generators(net.client(0), range(start + 2, start + 7))
    assert not set(after) & victim_key, "a killed node's slot was filled"
    net.restart(victim)
    target = _height(net.client(0))
    restarted = net.client(victim)
    restarted.wait_for_height(target, timeout_s=30)
    assert chain_ids(restarted, range(1, target + 1)) == chain_ids(
        net.client(0), range(1, target + 1)
    )
    wait_for(lambda: restarted.forging_status()["forgedBlocks"] >= 1, "restarted node forges")
    # and node 0's chain holds such a block (the restarted node may have counted it a moment
    # before node 0 received it: reading node 0's tip at once found no new block under load)
    wait_for(
        lambda: bool(
            set(_generators(net.client(0), range(target + 1, _height(net.client(0)) + 1)))
            & victim_key
        ),
        "node 0 has a block the restarted node forged",
    )
    net.wait_connected()


def test_fresh_node_syncs_from_genesis_to_the_tip(net: EtmNetwork) -> None:
    target = _height(net.client(0))
    fresh = net.join("observer")
    try:
        client = fresh.client
        assert client is not None
        client.wait_for_height(target, timeout_s=30)
        assert client.block(target)["fullId"] == net.client(0).block(target)["fullId"]
        assert client.forging_status()["forgedBlocks"] == 0
        assert client.status()["syncedBlocks"] >= target - 2
    finally:
        fresh.stop()


# --- hostile peers --------------------------------------------------------------------------


def _hello(client: NodeClient, node_id: bytes) -> Hello:
    s = client.status()
    return Hello(
        network=s["networkId"], genesis=bytes.fromhex(s["genesisId"]), protocol=PROTOCOL_VERSION,
        height=0, tip=bytes.fromhex(s["genesisId"]), finalized=0, port=0, node_id=node_id,
    )  # fmt: skip


def _peer(client: NodeClient, node_id: bytes | None = None) -> ClientConnection:
    """A hand-driven peer connection to ``client``'s node, past the handshake."""
    url = client.url.replace("http://", "ws://") + "/p2p"
    ws = connect(url, max_size=None, compression=None, open_timeout=10)
    ws.send(encode_frame(_hello(client, node_id or os.urandom(16))))
    assert isinstance(decode_frame(ws.recv(timeout=10)), Hello)
    return ws


def _closed(ws: ClientConnection, timeout_s: float = 20.0) -> tuple[int, str]:
    """Read until the node closes the connection; its close code and reason."""
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.1, deadline - time.monotonic()))
    except ConnectionClosed as exc:
        if exc.rcvd is None:  # reset while we were still sending (an oversized frame)
            return 1006, "no close frame"
        return exc.rcvd.code, exc.rcvd.reason
    except TimeoutError:
        pass
    raise AssertionError(f"the node kept the connection open for {timeout_s} s")


def _invalid_block(client: NodeClient, nonce: int) -> Block:
    """A block on the node's tip for the next slot, signed with garbage: whatever rule it meets
    first (the slot's delegate, the reveal, the hashing test, the signature), it is invalid, and
    never stale or late (an honest peer's fault)."""
    tip = Block.decode(client.raw_block(client.status()["height"])).header
    header = replace(tip, height=tip.height + 1, previous_block=tip.id, nonce=nonce,
                     timestamp=etm_time(time.time()) + 1, block_signature=bytes(64))  # fmt: skip
    return Block(header)


def test_peer_sending_invalid_blocks_is_banned(net: EtmNetwork) -> None:
    client = net.client(0)
    node_id = os.urandom(16)
    ws = _peer(client, node_id)
    for nonce in range(3):
        try:
            ws.send(encode_frame(BlockMsg(_invalid_block(client, 1_000_000 + nonce))))
        except ConnectionClosed:
            break
    code, reason = _closed(ws)
    assert code == 4004 and "banned" in reason and "invalid_block" in reason
    again = connect(client.url.replace("http://", "ws://") + "/p2p", compression=None)
    again.send(encode_frame(_hello(client, node_id)))
    code, reason = _closed(again)
    assert code == 4004 and "banned" in reason
    bans = client.peers()["banned"]
    assert any(node_id.hex() in b["peer"] for b in bans)
    height = _height(client)
    client.wait_for_height(height + 1)  # still forging and answering


OVERSIZED = 9 << 20


@pytest.mark.parametrize(
    "frame",
    [
        b"\xee" + b"x" * 10,  # unknown type
        b"\x04" + b"\x00" * 50,  # truncated block
        b"\x03\x00\x00\x00\x02\x00\x00\x00\x05abc",  # txs: count 2, short tx
        b"\x02" + b"[" * 3000,  # status: deeply nested JSON
        b"\x06" + b"\x00" * 8,  # a blocks reply nobody asked for
        "text frame",
        b"\x04" + b"\x00" * OVERSIZED,  # far above every size cap
    ],
    ids=["unknown", "truncated-block", "short-tx", "nested-json", "unsolicited", "text", "huge"],
)
def test_malformed_peer_messages_never_crash_the_node(net: EtmNetwork, frame: bytes | str) -> None:
    client = net.client(1)
    ws = _peer(client)
    with contextlib.suppress(ConnectionClosed):
        ws.send(frame)
    code, _reason = _closed(ws)
    # The node closes every such connection itself: 4005 protocol error (or 4004 once banned);
    # a frame above the WebSocket size cap is refused mid-transfer (1009, or a reset).
    assert code in ((1009, 1006) if len(frame) > OVERSIZED else (4004, 4005))
    height = _height(client)
    client.wait_for_height(height + 1)


def test_malformed_hello_is_refused_and_node_keeps_serving(net: EtmNetwork) -> None:
    client = net.client(2)
    url = client.url.replace("http://", "ws://") + "/p2p"
    for first in (b"\x01{not json", b"\x01" + b"{" * 5000, b"\x07", b""):
        ws = connect(url, compression=None)
        ws.send(first)
        _closed(ws)
    wrong = _hello(client, os.urandom(16))
    ws = connect(url, compression=None)
    ws.send(encode_frame(Hello(**{**wrong.__dict__, "network": wrong.network ^ 1})))
    code, reason = _closed(ws)
    assert code == 4001 and "wrong network" in reason
    assert client.status()["peers"] >= NODES - 1


# --- partition ------------------------------------------------------------------------------


def test_partition_2_2_finalizes_nothing_and_heals_without_reverting_finality(
    net: EtmNetwork,
) -> None:
    net.wait_connected()
    finals: dict[int, str] = {}

    def record_finals() -> None:
        for c in net.clients:
            s = c.status()
            finals.setdefault(s["finalizedHeight"], s["finalizedId"])
            assert finals[s["finalizedHeight"]] == s["finalizedId"]

    record_finals()
    net.partition({0, 1}, {2, 3})
    cut_at = max(_height(c) for c in net.clients)
    for side in (net.client(0), net.client(2)):
        side.wait_for_height(cut_at + 5, timeout_s=40)
    record_finals()
    assert all(c.status()["finalizedHeight"] <= cut_at for c in net.clients)
    assert net.client(0).status()["tipId"] != net.client(2).status()["tipId"]
    net.heal()
    healed_at = max(_height(c) for c in net.clients)

    def converged() -> bool:
        statuses = [c.status() for c in net.clients]
        low = min(s["height"] for s in statuses)
        return low > healed_at and len({c.block(low)["fullId"] for c in net.clients}) == 1

    wait_for(converged, "all four nodes on one chain", timeout_s=60)
    wait_for(
        lambda: all(c.status()["finalizedHeight"] > healed_at for c in net.clients),
        "finality resumes after the heal",
        timeout_s=60,
    )
    for client in net.clients:
        for height, block_id in finals.items():
            assert client.block(height)["fullId"] == block_id, "a final block was reverted"


def test_double_forging_is_found_gossiped_and_slashed(net: EtmNetwork) -> None:
    """It slashes a delegate: node 3's delegate key is also given to node 2 while node 3 is cut
    off, so both sign a block for one of that delegate's slots on two branches. Healed, node 3
    syncs the main branch, its chain finds the second header for a slot it signed, the evidence
    is gossiped, and another forger's block carries the slashing transaction."""
    net.wait_connected()
    seed = json.loads((net.nodes[3].data_dir / "forging_keys.json").read_text())["seeds"][0]
    offender = dev_key_from_seed(seed)
    net.partition({0, 1, 2}, {3})
    first = {i: _height(net.client(i)) + 1 for i in (0, 3)}
    net.client(2).add_forging_key(bytes.fromhex(seed))
    seen: dict[int, dict[int, tuple[str, int, str]]] = {0: {}, 3: {}}

    def offender_blocks(i: int) -> dict[int, str]:
        """Block id by timestamp (one per slot) of the blocks the offender signed on node i's
        branch."""
        client = net.client(i)
        for height in range(first[i], _height(client) + 1):
            if height not in seen[i]:
                block = client.block(height)
                seen[i][height] = (block["generatorPublicKey"], block["timestamp"], block["fullId"])
        return {ts: block_id for key, ts, block_id in seen[i].values() if key == offender}

    def signed_twice() -> bool:
        ours, theirs = offender_blocks(0), offender_blocks(3)
        return any(theirs.get(ts, block_id) != block_id for ts, block_id in ours.items())

    # Double forging is two signatures for one slot: the branches share the round order only
    # until one of them closes a round (each then has its own RANDAO seed), so wait for a slot
    # the key signed on both (any signature on each side was not enough: a flaky wait), with two
    # different blocks (the block node 3 forged as the cut took effect can be on both branches:
    # one signature, no evidence; waiting on it alone failed about one run in five).
    wait_for(signed_twice, "the delegate signed one slot on both sides", timeout_s=90)
    # Healed, node 3 stops forging: two nodes forging the key's every slot would fork the
    # network again at each of them, racing the slashing transaction (a flaky wait).
    net.client(3).set_forging(False)
    net.heal()
    try:
        wait_for(lambda: _slashed(net.client(0), offender),
                 "the double-forging delegate slashed through gossiped evidence", 60)  # fmt: skip
    finally:
        net.client(3).set_forging(True)
    logs = [net.nodes[i].log_path.read_text() for i in range(3)]
    assert any("double-forging evidence recorded" in log for log in logs), "not via gossip"


def _slashed(client: NodeClient, key: str) -> bool:
    return any(d["publicKey"] == key and d["slashed"] for d in client.delegates()["delegates"])


def test_evidence_reaches_forgers_that_connect_after_it(net: EtmNetwork) -> None:
    """After the slashing test (this one slashes a second delegate). Two headers node 1's
    delegate signed for one slot are handed to node 3 alone, while node 3 is cut off from every
    other node (and not forging): there is nobody it could gossip them to. Healed, the forgers
    connect to node 3 again, after the evidence: node 3 sends it right after the handshake and a
    forger lands the slashing transaction. Before, a piece of evidence went once to the peers
    connected at the time, so the forgers never learnt it and the delegate stayed unslashed."""
    net.wait_connected()
    seed = json.loads((net.nodes[1].data_dir / "forging_keys.json").read_text())["seeds"][0]
    key = SigningKey(bytes.fromhex(seed))
    offender = key.public_key.hex()
    holder = net.client(3)
    holder.set_forging(False)
    net.partition({0, 1, 2}, {3})
    try:
        wait_for(lambda: holder.status()["peers"] == 0, "node 3 cut off from every node")
        status = holder.status()
        genesis = bytes.fromhex(status["genesisId"])
        header = BlockHeader(
            version=BLOCK_VERSION, network=status["networkId"], timestamp=etm_time(time.time()),
            height=status["height"] + 1, previous_block=bytes.fromhex(status["tipId"]),
            number_of_transactions=0, total_amount=0, total_fee=0, reward=0, payload_length=0,
            payload_hash=bytes(32), generator_public_key=key.public_key,
        )  # fmt: skip
        first, second = header.signed(key, genesis), replace(header, nonce=1).signed(key, genesis)
        ws = _peer(holder)
        ws.send(encode_frame(Evidence(first.encoded, second.encoded)))
        wait_for(lambda: holder.status()["pendingEvidence"] >= 1, "node 3 holds the evidence")
        ws.close()
        assert not _slashed(net.client(0), offender)
        net.heal()
        wait_for(lambda: _slashed(net.client(0), offender),
                 "the delegate slashed once the forgers reconnected to node 3", 60)  # fmt: skip
    finally:
        holder.set_forging(True)
    logged = min(first.id, second.id).hex()[:16]  # how a node logs the pair it recorded
    assert any(logged in net.nodes[i].log_path.read_text() for i in (0, 2)), "not via gossip"
